using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Tests;

/// <summary>
/// Raises events of any type and payload through the one commit component (<see cref="CommitChanges"/>), as a
/// handler's returned change that writes nothing else: for the realtime edge's own tests (fan-out, catch-up,
/// sync), which need events no route makes on demand (an image_failed, thirty in one change).
/// </summary>
public static class RaiseEvents
{
    /// <summary>One change of the events' user raising them in order; decided again when it met another change, as Wolverine re-runs a handler.</summary>
    public static async Task Commit(IHost on, params IUserEvent[] events)
    {
        var db = on.Services.GetRequiredService<IDatabase>();
        var log = on.Services.GetRequiredService<EventLog>();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var change = (await UserBasis.Read(db, events[0].UserId)).Change();
                foreach (var e in events) change.Raise(e);
                await CommitChanges.Commit(change, db, log, TimeProvider.System);
                return;
            }
            catch (UserDataMoved) when (attempt < 100) { }
        }
    }
}
