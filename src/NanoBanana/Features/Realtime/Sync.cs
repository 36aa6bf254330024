using NanoBanana.Infrastructure.OpenApi;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Carter;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Security;
using Wolverine;

namespace NanoBanana.Features.Realtime;

/// <summary>
/// <c>GET /api/sync?since=&amp;limit=</c>: the caller's logged events after <c>since</c>, the same the
/// hub replays, for clients that poll. Query values arrive as text so a bad one answers 400 naming it.
/// </summary>
public sealed record SyncEvents(string? Since, string? Limit) : IPageQuery
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    [JsonIgnore] public string UserId { get; init; } = "";
    string? IPageQuery.Offset => null; // a sync page starts after since, not at an offset

    public long SinceValue => Since is null ? 0 : long.Parse(Since, NumberStyles.None, CultureInfo.InvariantCulture);

    public sealed class Validator : AbstractValidator<SyncEvents>
    {
        public Validator()
        {
            RuleFor(x => x.Since)
                .Must(s => s is null || long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                .WithMessage("since must be a whole number >= 0 (the seq of the last event you have).");
            this.PageRules(MaxLimit);
        }
    }
}

public sealed record SyncEvent(long Seq, string Type, JsonElement Payload, DateTimeOffset Timestamp);

/// <summary><c>lastSeq</c>: the seq of the last event returned, or <c>since</c> when none: the next call's since.</summary>
public sealed record SyncPage(IReadOnlyList<SyncEvent> Events, long LastSeq, bool HasMore);

public static class SyncEventsHandler
{
    public static async Task<SyncPage> Handle(SyncEvents query, EventLog log)
    {
        var since = query.SinceValue;
        var limit = query.PageOf(SyncEvents.DefaultLimit).Limit;
        // One more than asked tells whether there is more without a second read.
        var read = await log.Read(query.UserId, since, limit + 1);
        if (read.ResyncRequired)
            throw new ApiProblem(StatusCodes.Status410Gone, "resync_required", since > read.LastSeq
                // Ahead of the log: this seq was never handed out to this user (e.g. the data was reset since).
                ? $"since {since} is ahead of your last event (seq {read.LastSeq}): it was never handed out, so the data was probably reset. Start over: reload your data, then sync from seq {read.LastSeq}."
                : $"Events after seq {since} are no longer kept (the log holds the last days only). Reload your data, then sync from seq {read.LastSeq}.");

        var events = read.Events.Take(limit).Select(e =>
        {
            using var payload = JsonDocument.Parse(e.Payload);
            return new SyncEvent(e.Seq, e.Type, payload.RootElement.Clone(), e.Timestamp);
        }).ToList();
        return new SyncPage(events, events.Count > 0 ? events[^1].Seq : since, read.Events.Count > limit);
    }
}

public sealed class SyncEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.SyncRoutes().MapGet("", async (string? since, string? limit, Caller caller, IMessageBus bus, CancellationToken ct) =>
                await bus.InvokeAsync<SyncPage>(new SyncEvents(since, limit) { UserId = caller.UserId }, ct))
            .Paged(SyncEvents.DefaultLimit, SyncEvents.MaxLimit)
            .Query("since", "The seq of the last event the client has (0 or absent: from the start).", minimum: 0)
            .WithName("SyncEvents")
            .Example(null, new SyncPage([new SyncEvent(42, "session_updated", System.Text.Json.JsonSerializer.SerializeToElement(new { session = ApiExamples.Session }, NanoBanana.Infrastructure.Http.Json.Api), ApiExamples.Session.UpdatedAt)], 42, false))
            .WithSummary("The caller's events after a seq, oldest first (the hub's catch-up over HTTP)")
            .Produces<SyncPage>()
            .ProducesValidationProblem()
            .ProducesProblem(401)
            .ProducesProblem(410);
}
