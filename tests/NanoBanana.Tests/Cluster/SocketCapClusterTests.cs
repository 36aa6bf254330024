using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Tests.Features.Realtime;
using StackExchange.Redis;

namespace NanoBanana.Tests.Cluster;

/// <summary>
/// SPEC section 5: a user holds at most <c>WS_MAX_CONNECTIONS_PER_USER</c> sockets, counted across every instance.
/// Two Kestrel instances on the test Redis, each with a cap of 3; the sockets' leases last <c>WORK_LEASE_SECONDS</c> (30).
/// </summary>
[Trait("Category", "Cluster")]
public sealed class SocketCapClusterTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    const int Cap = 3;
    static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    static LiveServer Instance(TimeProvider? clock = null) => LiveServer.Start(
        new Dictionary<string, string?> { ["WS_MAX_CONNECTIONS_PER_USER"] = $"{Cap}", ["WS_REFUSAL_DELAY_MS"] = "0" },
        clock is null ? null : s => s.AddSingleton<TimeProvider>(clock));

    static async Task ShouldBeRefused4429(LiveServer on, string session, TestUser user)
    {
        await using var refused = await Device.Open(on, Device.PathFor(session, user.Token));
        var (code, frames) = await refused.ReceiveUntilClosed();
        Assert.Equal(4429, code);
        Assert.Empty(frames);
    }

    static async Task<List<Device>> Open(LiveServer on, string session, TestUser user, int count)
    {
        var devices = new List<Device>();
        for (var i = 0; i < count; i++) devices.Add((await Device.Connect(on, session, user)).Device);
        return devices;
    }

    static async Task CloseAll(IEnumerable<Device> devices)
    {
        foreach (var d in devices) await d.DisposeAsync();
    }

    /// <summary>Completes when Redis processes a command <paramref name="command"/> on the user's socket set.</summary>
    static Task SocketSetCommand(RedisMonitor monitor, string command, string userId) =>
        monitor.WaitFor(line => line.Contains($"\"{command}\"", StringComparison.Ordinal) && line.Contains(Keys.UserSockets(userId), StringComparison.Ordinal));

    [Fact]
    public async Task Sockets_split_across_two_instances_count_against_one_cap_the_next_is_refused_4429_on_either_and_a_closed_one_frees_its_place()
    {
        using var a = Instance();
        using var b = Instance();
        await using var monitor = await RedisMonitor.Start(AppFixture.RedisEndpoint);
        var user = await RegisterUser();
        var session = await NewSession(user);
        var onA = await Open(a, session, user, 2);
        var onB = await Open(b, session, user, 1);
        try
        {
            await ShouldBeRefused4429(a, session, user);
            await ShouldBeRefused4429(b, session, user);

            // One closes on A: its place is free once A has taken it out of the count, and then taken again on B.
            var forgotten = SocketSetCommand(monitor, "ZREM", user.Id);
            await onA[0].DisposeAsync();
            onA.RemoveAt(0);
            await forgotten.WaitAsync(Device.Timeout);
            onB.AddRange(await Open(b, session, user, 1));
            await ShouldBeRefused4429(a, session, user);
            await ShouldBeRefused4429(b, session, user);
        }
        finally
        {
            await CloseAll([.. onA, .. onB]);
        }
    }

    [Fact]
    public async Task A_live_instance_renews_its_sockets_leases_so_they_keep_counting_past_the_first_lease()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var a = Instance(clock);
        await using var monitor = await RedisMonitor.Start(AppFixture.RedisEndpoint);
        var onA = await Open(a, session, user, Cap);
        try
        {
            // Three renewals (a third of the lease each) carry the leases past the one they were opened with.
            for (var i = 0; i < 3; i++)
            {
                var renewed = SocketSetCommand(monitor, "ZADD", user.Id);
                clock.Advance(Lease / 3);
                await renewed.WaitAsync(Device.Timeout);
            }
            clock.Advance(TimeSpan.FromSeconds(1));
            await ShouldBeRefused4429(a, session, user);
        }
        finally
        {
            await CloseAll(onA);
        }
    }

    [Fact]
    public async Task The_sockets_of_an_instance_that_died_stop_counting_once_their_leases_lapse_and_not_before()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var survivor = Instance(clock);
        using var dying = Instance(clock);
        var onDying = await Open(dying, session, user, Cap);
        try
        {
            await ShouldBeRefused4429(survivor, session, user);

            // The instance is gone as far as Redis knows: it can neither renew its sockets' leases nor remove them.
            await dying.Services.GetRequiredService<IConnectionMultiplexer>().CloseAsync(allowCommandsToComplete: false);
            clock.Advance(Lease - TimeSpan.FromSeconds(1));
            await ShouldBeRefused4429(survivor, session, user);

            clock.Advance(TimeSpan.FromSeconds(2));
            var onSurvivor = await Open(survivor, session, user, Cap);
            await ShouldBeRefused4429(survivor, session, user);
            await CloseAll(onSurvivor);
        }
        finally
        {
            await CloseAll(onDying);
        }
    }
}
