using NanoBanana.Infrastructure.OpenApi;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Features.Auth;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.DeleteImage;

public sealed record DeleteImage(string ImageId) : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public static class DeleteImageHandler
{
    /// <summary>
    /// An image a live message references stays (409). The decision holds at the commit: a message that takes the
    /// image meanwhile moves the user's version, and this runs again on the new refCount.
    /// </summary>
    public static async Task<(MessageResponse, UserChange, DeleteImageBlobs)> Handle(DeleteImage cmd, IDatabase db)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        var image = await ImageStore.Get(db, cmd.UserId, cmd.ImageId);
        if (image.RefCount > 0) throw ApiProblem.Conflict("image_in_use", "A message still uses this image. Delete or edit that message first.");
        var counts = await ImageStore.CountsOf(db, [image]);
        var change = basis.Change().Write(tx => ImageStore.Remove(tx, [image], counts));
        return (new MessageResponse("Image deleted."), change, new DeleteImageBlobs([image.BlobFolder]));
    }
}

public sealed class DeleteImageEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapDelete("/{imageId}", (string imageId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                bus.InvokeAsync<MessageResponse>(new DeleteImage(imageId) { UserId = caller.UserId }, ct))
            .WithName("DeleteImage")
            .Example(null, new MessageResponse("Image deleted."))
            .WithSummary("Delete an image no message uses")
            .Produces<MessageResponse>().ProducesProblem(404).ProducesProblem(409);
}
