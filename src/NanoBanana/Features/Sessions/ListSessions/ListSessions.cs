using System.Globalization;
using System.Text.Json.Serialization;
using Carter;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.ListSessions;

/// <summary>The caller's live sessions, most recently updated first; <c>q</c> keeps titles containing it.</summary>
public sealed record ListSessions(int Limit, int Offset, string? Q)
{
    [JsonIgnore] public string UserId { get; init; } = "";
}

public static class ListSessionsHandler
{
    const CompareOptions TitleMatch = CompareOptions.IgnoreCase | CompareOptions.IgnoreNonSpace | CompareOptions.IgnoreWidth;

    public static async Task<SessionsPage> Handle(ListSessions query, IDatabase db)
    {
        var userId = query.UserId;
        var q = query.Q?.Trim();
        if (string.IsNullOrEmpty(q))
        {
            var batch = db.CreateBatch();
            var totalTask = batch.SortedSetLengthAsync(Keys.Sessions(userId));
            var idsTask = batch.SortedSetRangeByRankAsync(Keys.Sessions(userId), query.Offset, query.Offset + query.Limit - 1, Order.Descending);
            batch.Execute();
            var sessions = await Load(db, userId, (await idsTask).Select(v => v.ToString()));
            return new SessionsPage(sessions, Pagination.Of(query.Limit, query.Offset, await totalTask));
        }

        // A title filter reads every live title of the user: a person has hundreds of sessions, not millions.
        var all = (await db.SortedSetRangeByRankAsync(Keys.Sessions(userId), 0, -1, Order.Descending)).Select(v => v.ToString()).ToList();
        var titleBatch = db.CreateBatch();
        var titleTasks = all.Select(id => titleBatch.HashGetAsync(Keys.Session(userId, id), "title")).ToList();
        titleBatch.Execute();
        var compare = CultureInfo.InvariantCulture.CompareInfo;
        var matching = new List<string>();
        for (int i = 0; i < all.Count; i++)
        {
            var title = (string?)await titleTasks[i];
            if (title is not null && compare.IndexOf(title, q, TitleMatch) >= 0) matching.Add(all[i]);
        }
        var page = await Load(db, userId, matching.Skip(query.Offset).Take(query.Limit));
        return new SessionsPage(page, Pagination.Of(query.Limit, query.Offset, matching.Count));
    }

    static async Task<List<SessionDto>> Load(IDatabase db, string userId, IEnumerable<string> ids)
    {
        var batch = db.CreateBatch();
        var tasks = ids.Select(id => batch.HashGetAllAsync(Keys.Session(userId, id))).ToList();
        batch.Execute();
        var list = new List<SessionDto>(tasks.Count);
        foreach (var t in tasks)
        {
            var h = ChatStore.Fields(await t);
            // Deleted between the two reads: skip rather than show a ghost.
            if (h.ContainsKey("id") && !h.ContainsKey("deletedAt")) list.Add(ChatStore.ToSession(userId, h));
        }
        return list;
    }
}

public sealed class ListSessionsEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapGet("", async (string? limit, string? offset, string? q, HttpContext http, Caller caller, IMessageBus bus, CancellationToken ct) =>
            {
                var page = PageQuery.Read(http.Request, defaultLimit: 20);
                var text = PageQuery.Text(http.Request, "q", 200);
                return TypedResults.Ok(await bus.InvokeAsync<SessionsPage>(
                    new ListSessions(page.Limit, page.Offset, text) { UserId = caller.UserId }, ct));
            })
            .CachedPerUserVersion()
            .WithName("ListSessions")
            .WithSummary("The caller's sessions, most recently updated first; q filters titles (case-insensitive, any language)")
            .Produces<SessionsPage>()
            .ProducesValidationProblem()
            .ProducesProblem(401);
}
