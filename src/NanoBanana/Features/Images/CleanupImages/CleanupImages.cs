using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.CleanupImages;

public sealed record CleanupImages
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public sealed record CleanupResults(int Successful);
public sealed record CleanupResponse(CleanupResults Results);

public static class CleanupImagesHandler
{
    /// <summary>Removes now every image of the caller that no live message references (whatever its age).</summary>
    public static async Task<CleanupResponse> Handle(CleanupImages cmd, IDatabase db, IObjectStorage storage, CancellationToken ct)
    {
        var removed = 0;
        foreach (var id in await db.SortedSetRangeByRankAsync(Keys.UserImages(cmd.UserId)))
        {
            var image = await ImageStore.Find(db, cmd.UserId, id.ToString());
            if (image is null || image.RefCount > 0) continue;
            if (await ImageStore.RemoveIfUnreferenced(db, cmd.UserId, image.SessionId, image.Id, cutoffMs: null) != "removed") continue;
            removed++;
            try { await ImageBlobs.Delete(db, storage, image.BlobFolder, ct); }
            catch (StorageUnavailableException) { /* listed still: the collector finishes the job */ }
        }
        return new CleanupResponse(new CleanupResults(removed));
    }
}

public sealed class CleanupImagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapPost("/cleanup", (Caller caller, IMessageBus bus, CancellationToken ct) =>
                bus.InvokeAsync<CleanupResponse>(new CleanupImages { UserId = caller.UserId }, ct))
            .WithName("CleanupImages")
            .WithSummary("Remove now the caller's images that no message uses")
            .Produces<CleanupResponse>();
}
