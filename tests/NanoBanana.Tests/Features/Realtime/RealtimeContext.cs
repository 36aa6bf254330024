using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NanoBanana.Features;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;
using Wolverine;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>
/// Base of the realtime tests: a Kestrel host with real sockets (<see cref="LiveServer"/>) next to the
/// Alba host, both on the test Redis. Until the sessions, messages and images routes are merged,
/// domain events are raised by publishing them through Wolverine, as their handlers will cascade them.
/// </summary>
public abstract class RealtimeContext(AppFixture app, LiveServer server) : IntegrationContext(app), IClassFixture<LiveServer>
{
    protected LiveServer Server { get; } = server;

    /// <summary>A live session record of the user (the sessions slice's key; HASH form).</summary>
    protected async Task<string> SeedSession(string userId, bool deleted = false)
    {
        var id = Guid.CreateVersion7().ToString("N");
        var fields = new List<HashEntry> { new("id", id), new("userId", userId), new("title", "New Chat") };
        if (deleted) fields.Add(new HashEntry("deletedAt", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await Redis.HashSetAsync(Keys.Session(userId, id), fields.ToArray());
        return id;
    }

    /// <summary>Publishes a domain event through Wolverine's routing and waits until the fan-out handled it.</summary>
    protected Task Raise(IUserEvent e, IHost? on = null) =>
        (on ?? Host).ExecuteAndWaitAsync(c => c.PublishAsync(e).AsTask());

    /// <summary>Runs the fan-out for an event inline (no tracking session): for many events, or concurrently with a test's other work.</summary>
    /// (Wolverine cannot invoke a message inline whose route is partitioned, so this calls the fan-out handler itself.)
    protected static Task Invoke(IHost on, IUserEvent e) =>
        NanoBanana.Features.Realtime.FanOutHandler.Handle(e, on.Services.GetRequiredService<NanoBanana.Infrastructure.Realtime.EventLog>());

    protected static MessageDto Message(string sessionId, string text = "hello", string? id = null)
    {
        var now = DateTimeOffset.UtcNow;
        return new MessageDto(id ?? Guid.CreateVersion7().ToString("N"), sessionId, "user", text, null, [], now, now, null);
    }

    protected static SessionDto Session(string userId, string sessionId, string title = "New Chat")
    {
        var now = DateTimeOffset.UtcNow;
        return new SessionDto(sessionId, userId, title, now, now, 0, null);
    }

    protected static ImageDto Image(string userId, string sessionId, string status = "processing")
    {
        var now = DateTimeOffset.UtcNow;
        var id = Guid.CreateVersion7().ToString("N");
        return new ImageDto(id, sessionId, userId, "uploaded", $"users/{userId}/sessions/{sessionId}/{id}/original.png", null, [],
            "image/png", 10, 10, 100, new string('a', 64), status, 0, now, now, $"http://localhost/blob/{id}", null);
    }
}
