using NanoBanana.Infrastructure.OpenApi;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.CleanupImages;

public sealed record CleanupImages : IChangesUserData
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public sealed record CleanupResults(int Successful);
public sealed record CleanupResponse(CleanupResults Results);

public static class CleanupImagesHandler
{
    /// <summary>Removes now every image of the caller that no live message references (whatever its age), in one change.</summary>
    public static async Task<(CleanupResponse, UserChange?, DeleteImageBlobs)> Handle(CleanupImages cmd, IDatabase db)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        var ids = await db.SortedSetRangeByRankAsync(Keys.UserImages(cmd.UserId));
        var unused = (await ImageStore.Load(db, cmd.UserId, ids.Select(i => i.ToString()))).Where(i => i.RefCount == 0).ToList();
        if (unused.Count == 0) return (new CleanupResponse(new CleanupResults(0)), null, DeleteImageBlobs.None);
        var counts = await ImageStore.CountsOf(db, unused);
        var change = basis.Change().Write(tx => ImageStore.Remove(tx, unused, counts));
        return (new CleanupResponse(new CleanupResults(unused.Count)), change, new DeleteImageBlobs([.. unused.Select(i => i.BlobFolder)]));
    }
}

public sealed class CleanupImagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapPost("/cleanup", (Caller caller, IMessageBus bus, CancellationToken ct) =>
                bus.InvokeAsync<CleanupResponse>(new CleanupImages { UserId = caller.UserId }, ct))
            .WithName("CleanupImages")
            .Example(null, new CleanupResponse(new CleanupResults(3)))
            .WithSummary("Remove now the caller's images that no message uses")
            .Produces<CleanupResponse>();
}
