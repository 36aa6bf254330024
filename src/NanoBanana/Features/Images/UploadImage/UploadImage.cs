using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.UploadImage;

public sealed record UploadImage(string? SessionId, string? Type, UploadedFile? Image)
{
    [JsonIgnore] public string UserId { get; init; } = "";

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
    public static async Task<(ImageResponse, ImageUploaded, GenerateThumbnails)> Handle(UploadImage cmd, IDatabase db, IObjectStorage storage,
        ImageInspector inspector, TimeProvider clock, CancellationToken ct)
    {
        await ImageStore.EnsureLiveSession(db, cmd.UserId, cmd.SessionId!);
        var format = ImageIntake.Judge(inspector, cmd.Image!);
        var records = await ImageIntake.Stage(db, storage, clock, cmd.UserId, cmd.SessionId!, cmd.Type!, [(cmd.Image!, format)], ct);
        var dto = records[0].ToDto(storage);
        var (uploaded, job) = ImageIntake.Announce(records[0], dto);
        return (new ImageResponse(dto), uploaded, job);
    }
}

public sealed class UploadImageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapPost("/api/images/upload", async (HttpRequest request, ClaimsPrincipal user, IMessageBus bus, Settings settings, TimeProvider clock, CancellationToken ct) =>
            {
                await using var form = await MultipartUpload.Read(request, settings.Images, 1, clock, ct);
                var cmd = new UploadImage(form.Field("sessionId"), form.Field("type"), form.Files("image").FirstOrDefault())
                    { UserId = user.UserId() };
                var response = await bus.InvokeAsync<ImageResponse>(cmd, ct);
                return TypedResults.Created($"/api/images/{response.Image.Id}", response);
            })
            .RequireAuthorization().DisableAntiforgery()
            .WithName("UploadImage").WithTags("Images")
            .WithSummary("Upload one image (multipart: image, sessionId, type); thumbnails follow")
            .Accepts<IFormFile>("multipart/form-data")
            .Produces<ImageResponse>(201)
            .ProducesValidationProblem()
            .ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(503);
}
