namespace NanoBanana.Features;

/// <summary>
/// A change to one user's data that every device of that user must learn about. Handlers return
/// these (one per tuple member, or several as <see cref="UserEvents"/>); the realtime edge appends
/// them to the user's event log, in the order returned, before the handler's caller is answered,
/// and the log fans them out. No use case knows that sockets exist.
/// </summary>
public interface IUserEvent
{
    string UserId { get; }

    /// <summary>The session the event belongs to: only connections that joined it receive it. Null: every connection of the user.</summary>
    string? SessionScope { get; }
}

/// <summary>Several events returned by one handler, appended in list order.</summary>
public sealed class UserEvents : List<IUserEvent>;

/// <summary>
/// The events of a create made under an Idempotency-Key (all of one user). The creating script leaves an
/// "unsent" mark next to the key's record (<paramref name="UnsentMark"/>, in the user's slot); the events
/// are appended in the script that removes it. The first request and every retry return them (a retry
/// rebuilds them from the resource as it is now), so they reach the log exactly once: from the first
/// request, or, when its append failed after the change (its client got 503), from the retry.
/// </summary>
public sealed record OnceEvents(string UnsentMark, UserEvents Events);

public sealed record SessionCreated(string UserId, SessionDto Session) : IUserEvent { public string? SessionScope => null; }
public sealed record SessionUpdated(string UserId, SessionDto Session) : IUserEvent { public string? SessionScope => null; }
public sealed record SessionDeleted(string UserId, string SessionId) : IUserEvent { public string? SessionScope => null; }

public sealed record MessageCreated(string UserId, MessageDto Message) : IUserEvent { public string? SessionScope => Message.SessionId; }
public sealed record MessageUpdated(string UserId, MessageDto Message) : IUserEvent { public string? SessionScope => Message.SessionId; }
public sealed record MessageDeleted(string UserId, string SessionId, string MessageId) : IUserEvent { public string? SessionScope => SessionId; }

public sealed record ImageUploaded(string UserId, ImageDto Image) : IUserEvent { public string? SessionScope => Image.SessionId; }
public sealed record ImageReady(string UserId, ImageDto Image) : IUserEvent { public string? SessionScope => Image.SessionId; }
public sealed record ImageFailed(string UserId, ImageDto Image, string Reason) : IUserEvent { public string? SessionScope => Image.SessionId; }
