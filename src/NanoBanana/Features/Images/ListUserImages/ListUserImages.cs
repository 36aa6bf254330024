using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.ListUserImages;

public sealed record ListUserImages(string? Type, string? Limit, string? Offset)
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public static class ListUserImagesHandler
{
    public static async Task<ImagePage> Handle(ListUserImages query, IDatabase db, IObjectStorage storage)
    {
        var (limit, offset, type) = ImagePaging.Parse(query.Limit, query.Offset, query.Type);
        var (page, total) = await ImageStore.Page(db, query.UserId, Keys.UserImages(query.UserId), type, limit, offset);
        return new ImagePage(page.Select(i => i.ToDto(storage)).ToList(), Pagination.Of(limit, offset, total));
    }
}

public sealed class ListUserImagesEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.ImageRoutes().MapGet("/user/all",
                (string? type, string? limit, string? offset, Caller caller, IMessageBus bus, CancellationToken ct) =>
                    bus.InvokeAsync<ImagePage>(new ListUserImages(type, limit, offset) { UserId = caller.UserId }, ct))
            .WithName("ListUserImages")
            .WithSummary("All the caller's images, newest first")
            .Produces<ImagePage>().ProducesValidationProblem();
}
