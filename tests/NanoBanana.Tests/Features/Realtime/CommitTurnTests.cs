using NanoBanana.Features;
using NanoBanana.Features.Realtime;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>
/// The user's turn on an instance (<see cref="UserGates"/>) ends once a commit is sent, not when its reply comes: on a
/// Redis of the test's own, writes are held back (<c>CLIENT PAUSE WRITE</c>) so the commit's reply waits while reads go on.
/// </summary>
public sealed class CommitTurnTests
{
    [Fact]
    public async Task The_users_next_change_gets_its_turn_while_the_commit_awaits_its_reply_and_reads_after_it()
    {
        await using var rig = await Rig.Start();
        var (db, log, gates, userId) = (rig.Db, rig.Log, rig.Gates, rig.UserId);

        var turn = await gates.Enter(userId, CancellationToken.None);
        var change = (await UserBasis.Read(db, userId)).Change();
        await rig.HoldWrites();
        var commit = CommitChanges.CommitInTurn(change, db, log, TimeProvider.System, leases: null, messages: null, turn);

        using var next = await gates.Enter(userId, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.False(commit.IsCompleted);
        // The next change's reads follow the commit on the one connection: they see the committed version.
        var version = db.StringGetAsync(Keys.UserVersion(userId));
        await rig.ReleaseWrites();
        await commit;
        Assert.False((await version).IsNullOrEmpty);
    }

    [Fact]
    public async Task The_next_turn_gets_what_a_sent_commit_carries_with_the_basis_it_leaves()
    {
        await using var rig = await Rig.Start();
        var (db, log, gates, userId) = (rig.Db, rig.Log, rig.Gates, rig.UserId);

        var turn = await gates.Enter(userId, CancellationToken.None);
        var next = gates.Enter(userId, CancellationToken.None);
        var change = (await UserBasis.Read(db, userId)).Change().Raise(new SessionDeleted(userId, "s1")).Raise(new SessionDeleted(userId, "s2"))
            .Carry("state");
        var commit = CommitChanges.CommitInTurn(change, db, log, TimeProvider.System, leases: null, messages: null, turn);

        using var nextTurn = await next;
        await commit;
        var carried = Assert.IsType<CarriedChange>(nextTurn.Carried);
        Assert.Equal("state", carried.State);
        Assert.Equal(await UserBasis.Read(db, userId), carried.Basis);
        Assert.Equal(2, carried.Basis.LastSeq);
        // Decided on it without reading, it commits.
        await CommitChanges.Commit(carried.Basis.Change(), db, log, TimeProvider.System);
    }

    [Fact]
    public async Task A_decision_on_what_a_failed_commit_carried_is_refused_and_nothing_decided_on_it_is_carried_on()
    {
        await using var rig = await Rig.Start();
        var (db, log, gates, userId) = (rig.Db, rig.Log, rig.Gates, rig.UserId);
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;

        var basis = await UserBasis.Read(db, userId);
        // Another instance commits first, on the same basis and with as many events (none) as the carried change.
        await CommitChanges.Commit(basis.Change(), db, log, TimeProvider.System);
        var turn = await gates.Enter(userId, ct);
        var secondEntered = gates.Enter(userId, ct);
        await rig.HoldWrites();
        var stale = CommitChanges.CommitInTurn(basis.Change().Carry("stale"), db, log, TimeProvider.System, leases: null, messages: null, turn);

        var second = await secondEntered;
        var carried = Assert.IsType<CarriedChange>(second.Carried);
        await rig.ReleaseWrites();
        await Assert.ThrowsAsync<UserDataMoved>(() => stale);

        // The second turn decided on what the failed commit carried; the turn after it must read afresh.
        var thirdEntered = gates.Enter(userId, ct);
        var onStale = CommitChanges.CommitInTurn(carried.Basis.Change().Carry("on stale"), db, log, TimeProvider.System,
            leases: null, messages: null, second);
        using var third = await thirdEntered;
        Assert.Null(third.Carried);
        await Assert.ThrowsAsync<UserDataMoved>(() => onStale);
    }

    /// <summary>A Redis of the test's own, the connection a commit uses, the gates and one user.</summary>
    sealed class Rig(OwnRedis redis, ConnectionMultiplexer mux, ConnectionMultiplexer admin) : IAsyncDisposable
    {
        public IDatabase Db { get; } = mux.GetDatabase();
        public EventLog Log { get; } = new(mux.GetDatabase(), new RealtimeSettings());
        public UserGates Gates { get; } = new();
        public string UserId { get; } = Guid.CreateVersion7().ToString("N");

        public static async Task<Rig> Start()
        {
            var redis = await OwnRedis.Start();
            return new Rig(redis, await ConnectionMultiplexer.ConnectAsync(redis.Endpoint),
                await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true"));
        }

        /// <summary>Holds back every write (a commit's reply waits) while reads go on.</summary>
        public Task HoldWrites() => admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "30000", "WRITE");

        public Task ReleaseWrites() => admin.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");

        public async ValueTask DisposeAsync()
        {
            await admin.DisposeAsync();
            await mux.DisposeAsync();
            await redis.DisposeAsync();
        }
    }
}
