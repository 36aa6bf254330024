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
/// Alba host, both on the test Redis. Events of any type and payload are raised through the one commit
/// component (<see cref="CommitChanges"/>), as a handler's returned change is; the session slices' tests
/// raise theirs through the routes.
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

    /// <summary>Commits a change that raises <paramref name="e"/> (<see cref="RaiseEvents"/>).</summary>
    protected Task Raise(IUserEvent e, IHost? on = null) => RaiseEvents.Commit(on ?? Host, e);

    /// <summary>As <see cref="Raise"/>, on a given host.</summary>
    protected static Task Invoke(IHost on, IUserEvent e) => RaiseEvents.Commit(on, e);

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
