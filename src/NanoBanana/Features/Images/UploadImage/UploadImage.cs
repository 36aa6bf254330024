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

namespace NanoBanana.Features.Images.UploadImage;

public sealed record UploadImage(string? SessionId, string? Type, UploadedFile? Image)
{
    [JsonIgnore] public string UserId { get; init; } = "";
    [JsonIgnore] public string? IdempotencyKey { get; init; }

    public sealed class Validator : AbstractValidator<UploadImage>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).NotEmpty().WithMessage("sessionId is required.");
            RuleFor(x => x.Type).Must(ImageTypes.IsValid).WithMessage("type must be uploaded, generated or edited.");
            RuleFor(x => x.Image).NotNull().WithMessage("Send the picture in the image field.");
        }
    }
}

public static class UploadImageHandler
{
    public const string IdempotencyScope = "upload";

    // image_uploaded is appended with the record, in one script (ImageIntake.Stage): nothing to return for it,
    // and a retry recognised by its key has nothing left to raise.
    public static async Task<(ImageResponse, GenerateThumbnails?)> Handle(UploadImage cmd, IDatabase db, IObjectStorage storage,
        EventLog log, ImageInspector inspector, TimeProvider clock, CancellationToken ct)
    {
        var idempotency = UploadIdempotency.For(cmd.UserId, IdempotencyScope, cmd.IdempotencyKey, cmd.SessionId, cmd.Type, [cmd.Image!]);
        var earlier = idempotency is null ? null : await idempotency.Earlier(db);
        if (earlier is null)
        {
            await ImageStore.EnsureLiveSession(db, cmd.UserId, cmd.SessionId!);
            var format = ImageIntake.Judge(inspector, cmd.Image!);
            var staged = await ImageIntake.Stage(db, storage, log, clock, cmd.UserId, cmd.SessionId!, cmd.Type!, [(cmd.Image!, format)], idempotency, ct);
            if (staged.Created is [var dto]) return (new ImageResponse(dto), ImageIntake.Job(dto));
            earlier = staged.Earlier!;
        }
        // A retry: the image the first request created, as it is now.
        var first = await ImageStore.Find(db, cmd.UserId, earlier[0]) ?? throw UploadIdempotency.FirstImagesDeleted(1);
        return (new ImageResponse(first.ToDto(storage)), null);
    }
}

public sealed class UploadImageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapPost("/upload", async (HttpRequest request, [FromHeader(Name = Idempotency.Header)] string? idempotencyKey,
                Caller caller, IMessageBus bus, Settings settings, TimeProvider clock, CancellationToken ct) =>
            {
                var key = Idempotency.Checked(idempotencyKey); // before the body is read: a bad key costs no upload
                await using var form = await MultipartUpload.Read(request, settings.Images, 1, clock, ct);
                var cmd = new UploadImage(form.Field("sessionId"), form.Field("type"), form.Files("image").FirstOrDefault())
                    { UserId = caller.UserId, IdempotencyKey = key };
                var response = await bus.InvokeAsync<ImageResponse>(cmd, ct);
                return TypedResults.Created($"/api/images/{response.Image.Id}", response);
            })
            .DisableAntiforgery()
            .WithName("UploadImage")
            .WithSummary("Upload one image (multipart: image, sessionId, type); thumbnails follow; accepts Idempotency-Key")
            .Accepts<IFormFile>("multipart/form-data")
            .Produces<ImageResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422).ProducesProblem(503);
}
