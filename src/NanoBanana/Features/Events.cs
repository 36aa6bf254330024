namespace NanoBanana.Features;

/// <summary>
/// A change to one user's data that every device of that user must learn about. A handler raises
/// these on the <see cref="UserChange"/> it returns; the realtime edge appends them to the user's
/// event log with the change, before the handler's caller is answered, and the log fans them out.
/// No use case knows that sockets exist.
/// </summary>
public interface IUserEvent
{
    string UserId { get; }

    /// <summary>The session the event belongs to: only connections that joined it receive it. Null: every connection of the user.</summary>
    string? SessionScope { get; }
}

public sealed record SessionCreated(string UserId, SessionDto Session) : IUserEvent { public string? SessionScope => null; }
public sealed record SessionUpdated(string UserId, SessionDto Session) : IUserEvent { public string? SessionScope => null; }
public sealed record SessionDeleted(string UserId, string SessionId) : IUserEvent { public string? SessionScope => null; }

public sealed record MessageCreated(string UserId, MessageDto Message) : IUserEvent { public string? SessionScope => Message.SessionId; }
public sealed record MessageUpdated(string UserId, MessageDto Message) : IUserEvent { public string? SessionScope => Message.SessionId; }
public sealed record MessageDeleted(string UserId, string SessionId, string MessageId) : IUserEvent { public string? SessionScope => SessionId; }

public sealed record ImageUploaded(string UserId, ImageDto Image) : IUserEvent { public string? SessionScope => Image.SessionId; }
public sealed record ImageReady(string UserId, ImageDto Image) : IUserEvent { public string? SessionScope => Image.SessionId; }
public sealed record ImageFailed(string UserId, ImageDto Image, string Reason) : IUserEvent { public string? SessionScope => Image.SessionId; }

public sealed record GenerationQueued(string UserId, GenerationDto Generation) : IUserEvent { public string? SessionScope => Generation.SessionId; }
public sealed record GenerationStarted(string UserId, GenerationDto Generation) : IUserEvent { public string? SessionScope => Generation.SessionId; }
public sealed record GenerationSucceeded(string UserId, GenerationDto Generation) : IUserEvent { public string? SessionScope => Generation.SessionId; }
public sealed record GenerationFailed(string UserId, GenerationDto Generation) : IUserEvent { public string? SessionScope => Generation.SessionId; }
public sealed record GenerationCancelled(string UserId, GenerationDto Generation) : IUserEvent { public string? SessionScope => Generation.SessionId; }
