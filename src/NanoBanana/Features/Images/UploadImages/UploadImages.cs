using NanoBanana.Infrastructure.OpenApi;
using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Features.Images.GenerateThumbnails;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.UploadImages;

/// <summary>
/// One upload: a single image (<c>POST /api/images/upload</c>) is a batch of one. <see cref="Batch"/> says which
/// route it came by: the routes scope their Idempotency-Keys apart, and report a bad file each in their own shape.
/// </summary>
public sealed record UploadImages(string? SessionId, string? Type, IReadOnlyList<UploadedFile> Files)
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string? IdempotencyKey { get; init; }
    [JsonIgnore] public bool Batch { get; init; }

    public sealed class Validator : AbstractValidator<UploadImages>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).NotEmpty().WithMessage("sessionId is required.");
            RuleFor(x => x.Type).Must(ImageTypes.IsValid).WithMessage("type must be uploaded, generated or edited.");
            RuleFor(x => x.Files).NotEmpty().When(x => !x.Batch).OverridePropertyName("image")
                .WithMessage("Send the picture in the image field.");
            RuleFor(x => x.Files).NotEmpty().When(x => x.Batch).OverridePropertyName("images")
                .WithMessage("Send 1 to 10 pictures in the images field.");
        }
    }
}

/// <summary>The images an upload stored (or, for a retry under its Idempotency-Key, the ones its first request stored, as they are now).</summary>
/// <summary>The single upload's form, as the OpenAPI document shows it (MultipartUpload reads it).</summary>
public sealed record UploadImageForm(
    IFormFile Image, string SessionId, [property: AllowedValues("uploaded", "generated", "edited")] string Type);

/// <summary>The batch upload's form: 1 to 10 files in <c>images</c>.</summary>
public sealed record UploadImageBatchForm(
    IReadOnlyList<IFormFile> Images, string SessionId, [property: AllowedValues("uploaded", "generated", "edited")] string Type);

public sealed record UploadedImages(IReadOnlyList<ImageDto> Images);

public sealed record BatchResults(IReadOnlyList<ImageDto> Successful, IReadOnlyList<object> Failed, int Total);
public sealed record BatchResponse(BatchResults Results);

/// <summary>
/// The second half of an upload, decided in its user's turn (<see cref="IChangesUserData"/>): the judged and stored
/// originals become image records, with their image_uploaded events and thumbnail work, unless a request with the
/// same Idempotency-Key committed first.
/// </summary>
public sealed record RecordUploads(string UserId, UploadIdempotency? Idempotency, IReadOnlyList<ImageRecord> Records) : IChangesUserData;

public static class UploadImagesHandler
{
    /// <summary>
    /// All or nothing: every file is judged before any is stored; the originals are stored, then
    /// <see cref="RecordUploads"/> commits the records. The blobs are stored outside the user's turn, so a slow store
    /// holds up none of the user's other changes; the decision inside it meets no change of this instance meanwhile
    /// (a thumbnail's ready, another upload) and so runs once, not again and again on moved data.
    /// </summary>
    public static async Task<UploadedImages> Handle(UploadImages cmd, IDatabase db, IObjectStorage storage, ImageInspector inspector,
        IMessageBus bus, TimeProvider clock, CancellationToken ct)
    {
        var idempotency = UploadIdempotency.For(cmd.UserId, cmd.Batch ? "upload-batch" : "upload", cmd.IdempotencyKey,
            cmd.SessionId, cmd.Type, cmd.Files);
        if (idempotency is not null && await idempotency.Earlier(db) is { } earlier)
            return await Earlier(db, storage, cmd.UserId, earlier);

        await ImageStore.EnsureLiveSession(db, cmd.UserId, cmd.SessionId!);
        var judged = cmd.Batch ? JudgeAll(inspector, cmd.Files) : [(cmd.Files[0], ImageIntake.Judge(inspector, cmd.Files[0]))];
        var records = await ImageIntake.Stage(db, storage, clock, cmd.UserId, cmd.SessionId!, cmd.Type!, judged, ct);
        return await bus.InvokeAsync<UploadedImages>(new RecordUploads(cmd.UserId, idempotency, records), ct);
    }

    /// <summary>
    /// The records commit with their events (and the Idempotency-Key's record) if the session is still live. A
    /// concurrent request with the same key that committed first is answered instead, and these originals are deleted.
    /// </summary>
    public static async Task<(UploadedImages, UserChange?, DeleteImageBlobs)> Handle(RecordUploads cmd, IDatabase db, IObjectStorage storage)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        if (cmd.Idempotency is not null && await cmd.Idempotency.Earlier(db) is { } earlier)
            return (await Earlier(db, storage, cmd.UserId, earlier), null, new DeleteImageBlobs([.. cmd.Records.Select(r => r.BlobFolder)]));
        // Deleted meanwhile: the staged originals stay listed, for the collector.
        await ImageStore.EnsureLiveSession(db, cmd.UserId, cmd.Records[0].SessionId);

        var created = cmd.Records.Select(r => r.ToDto(storage)).ToList();
        var change = basis.Change();
        foreach (var (record, dto) in cmd.Records.Zip(created))
            change.Write(tx => ImageStore.WriteNew(tx, record)).Raise(new ImageUploaded(cmd.UserId, dto))
                .Enqueue(new GenerateThumbnails.GenerateThumbnails(cmd.UserId, record.Id));
        if (cmd.Idempotency is { } idempotency)
            change.Write(tx => tx.StringSet(idempotency.Key, idempotency.RecordOf(cmd.Records), Idempotency.Lifetime));
        return (new UploadedImages(created), change, DeleteImageBlobs.None);
    }

    /// <summary>
    /// A retry: the images the first request created, as they are now, in its order. Images deleted since are
    /// left out; with none left it is a 404.
    /// </summary>
    static async Task<UploadedImages> Earlier(IDatabase db, IObjectStorage storage, string userId, string[] ids)
    {
        var still = await ImageStore.Load(db, userId, ids);
        if (still.Count == 0) throw UploadIdempotency.FirstImagesDeleted(ids.Length);
        return new UploadedImages([.. still.Select(r => r.ToDto(storage))]);
    }

    /// <summary>Every file's format, or the problem of the first rejection with <c>errors</c> keyed by each bad file's name.</summary>
    static List<(UploadedFile, ImageFormatInfo)> JudgeAll(ImageInspector inspector, IReadOnlyList<UploadedFile> files)
    {
        var judged = new List<(UploadedFile, ImageFormatInfo)>();
        var errors = new Dictionary<string, List<string>>();
        ApiProblem? first = null;
        foreach (var file in files)
        {
            try
            {
                judged.Add((file, inspector.Inspect(file.TempPath, file.JpegReachedEnd)));
            }
            catch (ImageRejectedException e)
            {
                first ??= ImageIntake.ProblemFor(e);
                (errors.TryGetValue(file.FileName, out var list) ? list : errors[file.FileName] = []).Add(e.Message);
            }
        }
        if (first is null) return judged;
        var bad = errors.Count == 1 ? $"{errors.Keys.First()} was rejected" : $"{errors.Count} files were rejected";
        throw new ApiProblem(first.Status, first.Code, $"{bad}; nothing of the batch was stored.",
            errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
    }
}

public sealed class UploadImagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        app.ImageRoutes().MapPost("/upload", async (HttpRequest request, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey,
                Caller caller, IMessageBus bus, Settings settings, TimeProvider clock, CancellationToken ct) =>
            {
                var key = Idempotency.Checked(idempotencyKey); // before the body is read: a bad key costs no upload
                await using var form = await MultipartUpload.Read(request, settings.Images, 1, clock, ct);
                var cmd = new UploadImages(form.Field("sessionId"), form.Field("type"), form.Files("image"))
                    { UserId = caller.UserId, IdempotencyKey = key };
                var image = (await bus.InvokeAsync<UploadedImages>(cmd, ct)).Images[0];
                return TypedResults.Created($"/api/images/{image.Id}", new ImageResponse(image));
            })
            .DisableAntiforgery()
            .WithName("UploadImage")
            .Example(null, new ImageResponse(ApiExamples.Image with { Status = "processing", Thumbnails = [], ThumbPath = null }))
            .WithSummary("Upload one image (multipart: image, sessionId, type); thumbnails follow")
            .Accepts<UploadImageForm>("multipart/form-data")
            .Produces<ImageResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422).ProducesProblem(503);

        app.ImageRoutes().MapPost("/upload/batch", async (HttpRequest request, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey,
                Caller caller, IMessageBus bus, Settings settings, TimeProvider clock, CancellationToken ct) =>
            {
                var key = Idempotency.Checked(idempotencyKey);
                await using var form = await MultipartUpload.Read(request, settings.Images, settings.Images.MaxBatchFiles, clock, ct);
                var cmd = new UploadImages(form.Field("sessionId"), form.Field("type"), form.Files("images"))
                    { UserId = caller.UserId, IdempotencyKey = key, Batch = true };
                var images = (await bus.InvokeAsync<UploadedImages>(cmd, ct)).Images;
                return TypedResults.Created("/api/images/user/all", new BatchResponse(new BatchResults(images, [], images.Count)));
            })
            .DisableAntiforgery()
            .WithName("UploadImageBatch")
            .Example(null, new BatchResponse(new BatchResults([ApiExamples.Image], [], 1)))
            .WithSummary("Upload 1 to 10 images at once (multipart: images, sessionId, type), all or nothing")
            .Accepts<UploadImageBatchForm>("multipart/form-data")
            .Produces<BatchResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422).ProducesProblem(503);
    }
}
