using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.DeleteImage;

public sealed record DeleteImage(string ImageId)
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public static class DeleteImageHandler
{
    public static async Task<MessageResponse> Handle(DeleteImage cmd, IDatabase db, IObjectStorage storage, CancellationToken ct)
    {
        var image = await ImageStore.Get(db, cmd.UserId, cmd.ImageId);
        switch (await ImageStore.RemoveIfUnreferenced(db, cmd.UserId, image.SessionId, image.Id, cutoffMs: null))
        {
            case "in_use":
                throw ApiProblem.Conflict("image_in_use", "A message still uses this image. Delete or edit that message first.");
            case "gone":
                throw ApiProblem.NotFound("image");
        }
        try { await ImageBlobs.Delete(db, storage, image.BlobFolder, ct); }
        catch (StorageUnavailableException) { /* the record is gone; the folder stays listed and the collector deletes the blobs */ }
        return new MessageResponse("Image deleted.");
    }
}

public sealed class DeleteImageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapDelete("/{imageId}", (string imageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                bus.InvokeAsync<MessageResponse>(new DeleteImage(imageId) { UserId = caller.UserId }, ct))
            .WithName("DeleteImage")
            .WithSummary("Delete an image no message uses")
            .Produces<MessageResponse>().ProducesProblem(404).ProducesProblem(409);
}
