using NanoBanana.Infrastructure.OpenApi;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.GetImage;

public sealed record GetImage(string ImageId)
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public static class GetImageHandler
{
    /// <summary>Read through the caller's own keys: another user's image is simply not there (404).</summary>
    public static async Task<ImageResponse> Handle(GetImage query, IDatabase db, IObjectStorage storage) =>
        new((await ImageStore.Get(db, query.UserId, query.ImageId)).ToDto(storage));
}

public sealed class GetImageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapGet("/{imageId}", (string imageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                bus.InvokeAsync<ImageResponse>(new GetImage(imageId) { UserId = caller.UserId }, ct))
            .WithName("GetImage")
            .Example(null, new ImageResponse(ApiExamples.Image))
            .WithSummary("One image, with freshly signed URLs")
            .Produces<ImageResponse>().ProducesProblem(404);
}
