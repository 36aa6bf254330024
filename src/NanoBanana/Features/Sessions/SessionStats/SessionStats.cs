using NanoBanana.Infrastructure.OpenApi;
using System.Globalization;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Sessions.SessionStats;

public sealed record SessionStats(string SessionId)
{
    [JsonIgnore] public string UserId { get; init; } = "";

    public sealed class Validator : AbstractValidator<SessionStats>
    {
        public Validator() => RuleFor(x => x.SessionId).ValidId();
    }
}

/// <summary><c>{messageCount, imageCount, uploadedCount, generatedCount, lastMessageAt}</c></summary>
public sealed record SessionStatsDto(int MessageCount, long ImageCount, long UploadedCount, long GeneratedCount, DateTimeOffset? LastMessageAt);

public sealed record SessionStatsResponse(SessionStatsDto Stats);

public static class SessionStatsHandler
{
    public static async Task<SessionStatsResponse> Handle(SessionStats query, IDatabase db)
    {
        var (userId, sessionId) = (query.UserId, query.SessionId);
        var session = (await SessionRecord.Live(db, userId, sessionId))?.Session ?? throw ApiProblem.NotFound("session");
        // The image counts are kept by the images feature (Keys.SessionImages, Keys.SessionImageCounts).
        var batch = db.CreateBatch();
        var images = batch.SortedSetLengthAsync(Keys.SessionImages(userId, sessionId));
        var counts = batch.HashGetAsync(Keys.SessionImageCounts(userId, sessionId), ["uploaded", "generated"]);
        var last = batch.SortedSetRangeByRankAsync(Keys.SessionMessages(userId, sessionId), -1, -1);
        batch.Execute();
        DateTimeOffset? lastAt = null;
        if ((await last) is [var lastId])
        {
            var createdAt = await db.HashGetAsync(Keys.Message(userId, lastId.ToString()), "createdAt");
            if (!createdAt.IsNullOrEmpty)
                lastAt = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(createdAt.ToString(), CultureInfo.InvariantCulture));
        }
        var c = await counts;
        return new SessionStatsResponse(new SessionStatsDto(
            session.MessageCount, await images, Count(c[0]), Count(c[1]), lastAt));
    }

    static long Count(RedisValue v) => v.IsNullOrEmpty ? 0 : (long)v;
}

public sealed class SessionStatsEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SessionRoutes().MapGet("/{sessionId}/stats", async (string sessionId, Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<SessionStatsResponse>(new SessionStats(sessionId) { UserId = caller.UserId }, ct)))
            .WithName("SessionStats")
            .Example(null, new SessionStatsResponse(new SessionStatsDto(2, 1, 1, 0, ApiExamples.Message.CreatedAt)))
            .WithSummary("Counts of a session: messages, images by type, time of the last message")
            .Produces<SessionStatsResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(401).ProducesProblem(404);
}
