using NanoBanana.Infrastructure.OpenApi;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Images.ListSessionImages;

public sealed record ListSessionImages(string SessionId, string? Type, string? Limit, string? Offset) : IPageQuery
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<ListSessionImages>
    {
        public Validator()
        {
            this.PageRules(ImagePage.MaxLimit);
            RuleFor(x => x.Type).Must(t => string.IsNullOrEmpty(t) || ImageTypes.IsValid(t)).WithMessage("type must be uploaded, generated or edited.");
        }
    }
}

public static class ListSessionImagesHandler
{
    public static async Task<ImagePage> Handle(ListSessionImages query, IDatabase db, IObjectStorage storage)
    {
        var (limit, offset) = query.PageOf(ImagePage.DefaultLimit);
        var type = string.IsNullOrEmpty(query.Type) ? null : query.Type;
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
            .Example(null, new ImagePage([ApiExamples.Image], ApiExamples.Page(ImagePage.DefaultLimit, 1)))
            .WithSummary("A session's images, newest first")
            .Paged(ImagePage.DefaultLimit, ImagePage.MaxLimit)
            .Query("type", "Only images of this type.", oneOf: ImageTypes.All)
            .Produces<ImagePage>().ProducesValidationProblem().ProducesProblem(404);
}
