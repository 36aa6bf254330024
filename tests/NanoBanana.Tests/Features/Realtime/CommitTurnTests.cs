using NanoBanana.Features;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>
/// The user's turn on an instance (<see cref="UserGates"/>) ends once a commit is sent, not when its reply comes: on a
/// Redis of the test's own, writes are held back (<c>CLIENT PAUSE WRITE</c>) so the EXEC's reply waits while reads go on.
/// </summary>
public sealed class CommitTurnTests
{
    [Fact]
    public async Task The_users_next_change_gets_its_turn_while_the_commit_awaits_its_reply_and_reads_after_it()
    {
        await using var redis = await OwnRedis.Start();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true");
        var db = mux.GetDatabase();
        var log = new EventLog(db, new RealtimeSettings());
        var gates = new UserGates();
        var userId = Guid.CreateVersion7().ToString("N");

        var turn = await gates.Enter(userId, CancellationToken.None);
        var change = (await UserBasis.Read(db, userId)).Change();
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "30000", "WRITE");
        var commit = CommitChanges.CommitInTurn(change, db, log, TimeProvider.System, leases: null, messages: null, turn);

        using var next = await gates.Enter(userId, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.False(commit.IsCompleted);
        // The next change's reads follow the EXEC on the one connection: they see the committed version.
        var version = db.StringGetAsync(Keys.UserVersion(userId));
        await admin.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");
        await commit;
        Assert.Equal(1, (long)await version);
    }
}
