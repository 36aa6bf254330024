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

namespace NanoBanana.Features.Images.ListUserImages;

public sealed record ListUserImages(string? Type, string? Limit, string? Offset) : IPageQuery
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<ListUserImages>
    {
        public Validator()
        {
            this.PageRules(ImagePage.MaxLimit);
            RuleFor(x => x.Type).Must(t => string.IsNullOrEmpty(t) || ImageTypes.IsValid(t)).WithMessage("type must be uploaded, generated or edited.");
        }
    }
}

public static class ListUserImagesHandler
{
    public static async Task<ImagePage> Handle(ListUserImages query, IDatabase db, IObjectStorage storage)
    {
        var (limit, offset) = query.PageOf(ImagePage.DefaultLimit);
        var type = string.IsNullOrEmpty(query.Type) ? null : query.Type;
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
            .Example(null, new ImagePage([ApiExamples.Image], ApiExamples.Page(ImagePage.DefaultLimit, 1)))
            .WithSummary("All the caller's images, newest first")
            .Paged(ImagePage.DefaultLimit, ImagePage.MaxLimit)
            .Query("type", "Only images of this type.", oneOf: ImageTypes.All)
            .Produces<ImagePage>().ProducesValidationProblem();
}
