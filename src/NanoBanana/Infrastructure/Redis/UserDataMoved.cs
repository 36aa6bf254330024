namespace NanoBanana.Infrastructure.Redis;

/// <summary>
/// Another change of the same user committed between a handler's load and its commit: the decision was
/// made on stale data. The handler runs again (Wolverine retries it inline); nothing was written.
/// </summary>
public sealed class UserDataMoved(string userId) : Exception($"User {userId}'s data changed while a change was decided; deciding again.");
