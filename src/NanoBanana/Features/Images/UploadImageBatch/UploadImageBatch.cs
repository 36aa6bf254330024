using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.UploadImageBatch;

public sealed record UploadImageBatch(string? SessionId, string? Type, IReadOnlyList<UploadedFile> Images)
{
    [JsonIgnore] public string UserId { get; init; } = "";

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
    /// <summary>All or nothing: every file is judged before any is stored; one bad file rejects the batch.</summary>
    public static async Task<(BatchResponse, UserEvents, OutgoingMessages)> Handle(UploadImageBatch cmd, IDatabase db, IObjectStorage storage,
        ImageInspector inspector, TimeProvider clock, CancellationToken ct)
    {
        await ImageStore.EnsureLiveSession(db, cmd.UserId, cmd.SessionId!);

        var judged = new List<(UploadedFile, ImageFormatInfo)>();
        var errors = new Dictionary<string, List<string>>();
        ApiProblem? first = null;
        foreach (var file in cmd.Images)
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
        if (first is not null)
        {
            var bad = errors.Count == 1 ? $"{errors.Keys.First()} was rejected" : $"{errors.Count} files were rejected";
            throw new ApiProblem(first.Status, first.Code, $"{bad}; nothing of the batch was stored.",
                errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        }

        var records = await ImageIntake.Stage(db, storage, clock, cmd.UserId, cmd.SessionId!, cmd.Type!, judged, ct);
        var events = new UserEvents();
        var jobs = new OutgoingMessages();
        var dtos = new List<ImageDto>();
        foreach (var record in records)
        {
            var dto = record.ToDto(storage);
            dtos.Add(dto);
            var (uploaded, job) = ImageIntake.Announce(record, dto);
            events.Add(uploaded);
            jobs.Add(job);
        }
        return (new BatchResponse(new BatchResults(dtos, [], dtos.Count)), events, jobs);
    }
}

public sealed class UploadImageBatchEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapPost("/api/images/upload/batch", async (HttpRequest request, ClaimsPrincipal user, IMessageBus bus, Settings settings, TimeProvider clock, CancellationToken ct) =>
            {
                await using var form = await MultipartUpload.Read(request, settings.Images, settings.Images.MaxBatchFiles, clock, ct);
                var cmd = new UploadImageBatch(form.Field("sessionId"), form.Field("type"), form.Files("images"))
                    { UserId = user.UserId() };
                return TypedResults.Created("/api/images/user/all", await bus.InvokeAsync<BatchResponse>(cmd, ct));
            })
            .RequireAuthorization().DisableAntiforgery()
            .WithName("UploadImageBatch").WithTags("Images")
            .WithSummary("Upload 1 to 10 images at once, all or nothing")
            .Accepts<IFormFileCollection>("multipart/form-data")
            .Produces<BatchResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(503);
}
