using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Generation.ListGenerations;

public sealed record ListGenerations(string SessionId, string? Limit, string? Offset) : IPageQuery
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<ListGenerations>
    {
        public Validator()
        {
            RuleFor(x => x.SessionId).ValidId();
            this.PageRules(maxLimit: 100);
        }
    }
}

public sealed record GenerationsPage(IReadOnlyList<GenerationDto> Generations, Pagination Pagination);

public static class ListGenerationsHandler
{
    /// <summary>A page of the session's generations, newest first, with the true total; 404 for a session that is not the caller's live one.</summary>
    public static async Task<GenerationsPage> Handle(ListGenerations query, IDatabase db)
    {
        var (limit, offset) = query.PageOf(defaultLimit: 20);
        if (!await SessionRecord.IsLive(db, query.UserId, query.SessionId)) throw ApiProblem.NotFound("session");
        var index = Keys.SessionGenerations(query.UserId, query.SessionId);
        var read = db.CreateBatch();
        var totalRead = read.SortedSetLengthAsync(index);
        var idsRead = read.SortedSetRangeByRankAsync(index, offset, offset + limit - 1, Order.Descending);
        read.Execute();
        var ids = await idsRead;
        var jsons = await Task.WhenAll(ids.Select(id => db.HashGetAsync(Keys.Generation(query.UserId, id!), "json")));
        var page = jsons.Where(j => j.HasValue).Select(j => GenerationRecord.Parse(j!)).ToList();
        return new GenerationsPage(page, Pagination.Of(limit, offset, await totalRead));
    }
}

public sealed class ListGenerationsEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionGenerationRoutes().MapGet("", async (string sessionId, string? limit, string? offset, Caller caller,
                IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<GenerationsPage>(
                    new ListGenerations(sessionId, limit, offset) { UserId = caller.UserId }, ct)))
            .WithName("ListGenerations")
            .Example(null, new GenerationsPage([ApiExamples.Generation], ApiExamples.Page(20, 1)))
            .WithSummary("The session's generations, newest first")
            .Produces<GenerationsPage>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
