using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Sessions;

/// <summary>The session list is ordered by updatedAt, most recent first.</summary>
public static class SessionOrder
{
    /// <summary>
    /// The updatedAt of a session changed now: <paramref name="at"/>, or 1 ms past the newest session when that
    /// one is as recent, so the session just changed sorts first even within one millisecond.
    /// </summary>
    public static async Task<DateTimeOffset> Newest(IDatabaseAsync db, string userId, DateTimeOffset at)
    {
        var top = await db.SortedSetRangeByRankWithScoresAsync(Keys.Sessions(userId), 0, 0, Order.Descending);
        return After(top.Length == 0 ? long.MinValue : (long)top[0].Score, at);
    }

    /// <summary>As <see cref="Newest"/>, the newest session's updatedAt being <paramref name="topMs"/> (Unix ms).</summary>
    public static DateTimeOffset After(long topMs, DateTimeOffset at)
    {
        var ms = at.ToUnixTimeMilliseconds();
        return DateTimeOffset.FromUnixTimeMilliseconds(topMs >= ms ? topMs + 1 : ms);
    }
}
