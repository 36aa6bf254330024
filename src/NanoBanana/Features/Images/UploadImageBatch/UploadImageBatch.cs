using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.UploadImageBatch;

public sealed record UploadImageBatch(string? SessionId, string? Type, IReadOnlyList<UploadedFile> Images)
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string? IdempotencyKey { get; init; }

    public sealed class Validator : AbstractValidator<UploadImageBatch>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).NotEmpty().WithMessage("sessionId is required.");
            RuleFor(x => x.Type).Must(ImageTypes.IsValid).WithMessage("type must be uploaded, generated or edited.");
            RuleFor(x => x.Images).NotEmpty().WithMessage("Send 1 to 10 pictures in the images field.");
        }
    }
}

public sealed record BatchResults(IReadOnlyList<ImageDto> Successful, IReadOnlyList<object> Failed, int Total);
public sealed record BatchResponse(BatchResults Results);

public static class UploadImageBatchHandler
{
    public const string IdempotencyScope = "upload-batch";

    /// <summary>
    /// All or nothing: every file is judged before any is stored; one bad file rejects the batch. The
    /// image_uploaded events are appended with the records, in one script (<see cref="ImageIntake.Stage"/>).
    /// </summary>
    public static async Task<(BatchResponse, OutgoingMessages)> Handle(UploadImageBatch cmd, IDatabase db, IObjectStorage storage,
        EventLog log, ImageInspector inspector, TimeProvider clock, CancellationToken ct)
    {
        var jobs = new OutgoingMessages();
        var idempotency = UploadIdempotency.For(cmd.UserId, IdempotencyScope, cmd.IdempotencyKey, cmd.SessionId, cmd.Type, cmd.Images);
        var earlier = idempotency is null ? null : await idempotency.Earlier(db);
        if (earlier is null)
        {
            await ImageStore.EnsureLiveSession(db, cmd.UserId, cmd.SessionId!);
            var judged = Judge(inspector, cmd.Images);
            var staged = await ImageIntake.Stage(db, storage, log, clock, cmd.UserId, cmd.SessionId!, cmd.Type!, judged, idempotency, ct);
            if (staged.Earlier is null)
            {
                foreach (var dto in staged.Created) jobs.Add(ImageIntake.Job(dto));
                return (new BatchResponse(new BatchResults(staged.Created, [], staged.Created.Count)), jobs);
            }
            earlier = staged.Earlier;
        }
        // A retry: the images the first request created, as they are now, in its order.
        // Images deleted since are left out (total counts what is listed); with none left it is a 404.
        var still = await ImageStore.Load(db, cmd.UserId, earlier);
        if (still.Count == 0) throw UploadIdempotency.FirstImagesDeleted(earlier.Length);
        var current = still.Select(r => r.ToDto(storage)).ToList();
        return (new BatchResponse(new BatchResults(current, [], current.Count)), jobs);
    }

    /// <summary>Every file's format, or the problem of the first rejection with <c>errors</c> keyed by each bad file's name.</summary>
    static List<(UploadedFile, ImageFormatInfo)> Judge(ImageInspector inspector, IReadOnlyList<UploadedFile> files)
    {
        var judged = new List<(UploadedFile, ImageFormatInfo)>();
        var errors = new Dictionary<string, List<string>>();
        ApiProblem? first = null;
        foreach (var file in files)
        {
            try
            {
                judged.Add((file, inspector.Inspect(file.TempPath)));
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

public sealed class UploadImageBatchEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapPost("/upload/batch", async (HttpRequest request, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey,
                Caller caller, IMessageBus bus, Settings settings, TimeProvider clock, CancellationToken ct) =>
            {
                var key = Idempotency.Checked(idempotencyKey); // before the body is read: a bad key costs no upload
                await using var form = await MultipartUpload.Read(request, settings.Images, settings.Images.MaxBatchFiles, clock, ct);
                var cmd = new UploadImageBatch(form.Field("sessionId"), form.Field("type"), form.Files("images"))
                    { UserId = caller.UserId, IdempotencyKey = key };
                return TypedResults.Created("/api/images/user/all", await bus.InvokeAsync<BatchResponse>(cmd, ct));
            })
            .DisableAntiforgery()
            .WithName("UploadImageBatch")
            .WithSummary("Upload 1 to 10 images at once, all or nothing; accepts Idempotency-Key")
            .Accepts<IFormFileCollection>("multipart/form-data")
            .Produces<BatchResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422).ProducesProblem(503);
}
