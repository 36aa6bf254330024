using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>Reconnect with since / resume: every missed event once, in order, then live ones; resync when the log is gone.</summary>
public sealed class CatchUpTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    static async Task<List<long>> SeqsUntil(Device device, long lastSeq)
    {
        var seqs = new List<long>();
        while (seqs.Count == 0 || seqs[^1] < lastSeq)
            seqs.Add((await device.ReceiveEvent())["seq"]!.GetValue<long>());
        return seqs;
    }

    [Fact]
    public async Task Reconnect_with_since_gets_the_20_missed_and_20_concurrent_events_each_once_in_order()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);

        var (first, _) = await Device.Connect(Server, session, user);
        for (var i = 0; i < 3; i++) await Invoke(Host, new MessageCreated(user.Id, Message(session, $"seen {i}")));
        var seen = await SeqsUntil(first, 3);
        Assert.Equal([1, 2, 3], seen);
        await first.DisposeAsync(); // the phone loses its network

        for (var i = 0; i < 20; i++) await Invoke(Host, new MessageCreated(user.Id, Message(session, $"missed {i}")));

        // 20 more are raised while the phone reconnects and catches up.
        var concurrent = Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Invoke(Host, new MessageUpdated(user.Id, Message(session, $"concurrent {i}")))));
        var (again, connected) = await Device.Connect(Server, session, user, since: 3);
        await using var _a = again;
        await concurrent;
        // A last event after everything: once it arrives, every earlier one has been delivered or never will.
        await Invoke(Host, new SessionUpdated(user.Id, Session(user.Id, session, "done")));

        var received = await SeqsUntil(again, 44);
        Assert.Equal(Enumerable.Range(4, 41).Select(i => (long)i), received);
        Assert.True(connected["lastSeq"]!.GetValue<long>() >= 23);
    }

    [Fact]
    public async Task Resume_on_an_open_socket_replays_after_since_then_stays_live()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
        var (device, _) = await Device.Connect(Server, session, user);
        await using var _d = device;
        for (var i = 0; i < 5; i++) await Raise(new MessageCreated(user.Id, Message(session, $"m{i}")));
        Assert.Equal([1, 2, 3, 4, 5], await SeqsUntil(device, 5));

        await device.Send(new { type = "resume", payload = new { since = 2 } });
        Assert.Equal([3, 4, 5], await SeqsUntil(device, 5));

        await Raise(new SessionUpdated(user.Id, Session(user.Id, session)));
        Assert.Equal([6], await SeqsUntil(device, 6));
    }

    [Fact]
    public async Task Replay_respects_session_scope_like_live_delivery()
    {
        var user = await RegisterUser();
        var joined = await SeedSession(user.Id);
        var other = await SeedSession(user.Id);
        await Raise(new MessageCreated(user.Id, Message(joined, "in joined")));   // 1
        await Raise(new MessageCreated(user.Id, Message(other, "in other")));     // 2: not replayed
        await Raise(new SessionUpdated(user.Id, Session(user.Id, other)));        // 3: user-wide

        var (device, _) = await Device.Connect(Server, joined, user, since: 0);
        await using var _d = device;
        var first = await device.ReceiveEvent();
        var second = await device.ReceiveEvent();
        Assert.Equal((1, "message_created"), (first["seq"]!.GetValue<long>(), first["type"]!.GetValue<string>()));
        Assert.Equal((3, "session_updated"), (second["seq"]!.GetValue<long>(), second["type"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_since_older_than_the_retained_log_answers_resync_required_then_live_events()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
        for (var i = 0; i < 6; i++) await Raise(new MessageCreated(user.Id, Message(session)));
        // What the age trim does after a week: the oldest entries are gone.
        await Redis.StreamTrimByMinIdAsync(Keys.EventLog(user.Id), "4");

        var (device, _) = await Device.Connect(Server, session, user, since: 1);
        await using var _d = device;
        var resync = await device.Receive();
        Assert.Equal("resync_required", resync["type"]!.GetValue<string>());
        Assert.Equal(1, resync["payload"]!["since"]!.GetValue<long>());
        Assert.Equal(6, resync["payload"]!["lastSeq"]!.GetValue<long>());
        Assert.Null(resync["seq"]);

        await Raise(new SessionUpdated(user.Id, Session(user.Id, session)));
        Assert.Equal(7, (await device.ReceiveEvent())["seq"]!.GetValue<long>());

        // A since still inside the log replays normally.
        var (inside, _) = await Device.Connect(Server, session, user, since: 3);
        await using var _i = inside;
        Assert.Equal([4, 5, 6, 7], await SeqsUntil(inside, 7));
    }

    [Fact]
    public async Task A_since_from_the_future_answers_resync_required()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
        await Raise(new MessageCreated(user.Id, Message(session)));
        var (device, _) = await Device.Connect(Server, session, user, since: 99);
        await using var _d = device;
        var resync = await device.Receive();
        Assert.Equal("resync_required", resync["type"]!.GetValue<string>());
        Assert.Equal(1, resync["payload"]!["lastSeq"]!.GetValue<long>());
    }

    [Fact]
    public async Task Appending_trims_entries_older_than_the_retention()
    {
        var user = await RegisterUser();
        var log = Host.Services.GetRequiredService<EventLog>();
        var retention = Host.Services.GetRequiredService<RealtimeSettings>().Retention;
        // Five entries written eight days ago (ids <seq>-<unix ms>), the counter where they left it.
        var old = DateTimeOffset.UtcNow.AddDays(-8).ToUnixTimeMilliseconds();
        for (var seq = 1; seq <= 5; seq++)
            await Redis.StreamAddAsync(Keys.EventLog(user.Id), [new NameValueEntry("t", "session_updated"), new NameValueEntry("s", ""), new NameValueEntry("p", "{}")],
                messageId: $"{seq}-{old + seq}");
        await Redis.StringSetAsync(Keys.EventSeq(user.Id), 5);
        Assert.Equal(TimeSpan.FromDays(7), retention);

        var appended = await log.Append(user.Id, "session_updated", null, "{}");

        Assert.Equal(6, appended.Seq);
        var left = await Redis.StreamRangeAsync(Keys.EventLog(user.Id));
        Assert.Equal(["6"], left.Select(e => e.Id.ToString().Split('-')[0]));
        Assert.True((await log.Read(user.Id, 0, 10)).ResyncRequired);
        Assert.Equal(6, (await log.Read(user.Id, 5, 10)).Events.Single().Seq);
    }
    [Fact]
    public async Task Events_published_while_the_instance_lost_its_subscription_arrive_once_it_is_back()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
        var (device, _) = await Device.Connect(Server, session, user);
        await using var _d = device;
        await Invoke(Host, new MessageCreated(user.Id, Message(session, "before")));
        Assert.Equal([1], await SeqsUntil(device, 1));

        // Drop every pub/sub connection: what is published until the instance resubscribes is lost to pub/sub.
        foreach (var redis in App.Admin.GetServers())
            await redis.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");
        for (var i = 0; i < 5; i++) await Invoke(Host, new MessageCreated(user.Id, Message(session, $"during {i}")));

        Assert.Equal([2, 3, 4, 5, 6], await SeqsUntil(device, 6));
    }
}
