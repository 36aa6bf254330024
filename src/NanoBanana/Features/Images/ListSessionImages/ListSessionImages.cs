using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.ListSessionImages;

public sealed record ListSessionImages(string SessionId, string? Type, string? Limit, string? Offset)
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public static class ListSessionImagesHandler
{
    public static async Task<ImagePage> Handle(ListSessionImages query, IDatabase db, IObjectStorage storage)
    {
        var (limit, offset, type) = ImagePaging.Parse(query.Limit, query.Offset, query.Type);
        await ImageStore.EnsureLiveSession(db, query.UserId, query.SessionId);
        var (page, total) = await ImageStore.Page(db, query.UserId, Keys.SessionImages(query.UserId, query.SessionId), type, limit, offset);
        return new ImagePage(page.Select(i => i.ToDto(storage)).ToList(), Pagination.Of(limit, offset, total));
    }
}

public sealed class ListSessionImagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapGet("/session/{sessionId}",
                (string sessionId, string? type, string? limit, string? offset, Caller caller, IMessageBus bus, CancellationToken ct) =>
                    bus.InvokeAsync<ImagePage>(new ListSessionImages(sessionId, type, limit, offset) { UserId = caller.UserId }, ct))
            .WithName("ListSessionImages")
            .WithSummary("A session's images, newest first")
            .Produces<ImagePage>().ProducesValidationProblem().ProducesProblem(404);
}
