using System.Text.Json.Nodes;
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

    static string? ScopeOf(JsonObject frame) =>
        frame["payload"]!["messageData"]?["sessionId"]?.GetValue<string>();

    [Fact]
    public async Task Join_session_after_a_reconnect_replays_that_sessions_missed_events_once_in_order_then_its_live_ones()
    {
        var user = await RegisterUser();
        var chat = await SeedSession(user.Id);   // the URL's
        var other = await SeedSession(user.Id);  // followed through join_session
        var (phone, _) = await Device.Connect(Server, chat, user);
        Assert.Empty(await phone.Join(other));
        await Invoke(Host, new MessageCreated(user.Id, Message(chat, "seen in chat")));   // 1
        await Invoke(Host, new MessageCreated(user.Id, Message(other, "seen in other"))); // 2
        Assert.Equal([1, 2], await SeqsUntil(phone, 2));
        await phone.DisposeAsync(); // the phone loses its network

        for (var i = 0; i < 5; i++)
        {
            await Invoke(Host, new MessageCreated(user.Id, Message(chat, $"missed in chat {i}")));   // 3, 5, 7, 9, 11
            await Invoke(Host, new MessageCreated(user.Id, Message(other, $"missed in other {i}"))); // 4, 6, 8, 10, 12
        }
        await Invoke(Host, new SessionUpdated(user.Id, Session(user.Id, other, "renamed")));        // 13: user-wide

        var (again, _) = await Device.Connect(Server, chat, user, since: 2);
        await using var _a = again;
        Assert.Equal([3, 5, 7, 9, 11, 13], await SeqsUntil(again, 13)); // the URL's chat and the user's own

        // It follows its other chat again while that chat keeps getting events (14-33).
        var concurrent = Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Invoke(Host, new MessageUpdated(user.Id, Message(other, $"concurrent {i}")))));
        var beforeAck = await again.Join(other);
        await concurrent;
        // A last event after everything: once it arrives, every earlier one has been delivered or never will.
        await Invoke(Host, new MessageCreated(user.Id, Message(chat, "last")));                 // 34
        var afterAck = new List<JsonObject>();
        while (afterAck.Count == 0 || afterAck[^1]["seq"]!.GetValue<long>() != 34)
            afterAck.Add(await again.ReceiveEvent());

        Assert.All(beforeAck, f => Assert.Equal(other, ScopeOf(f)));
        Assert.Equal([4, 6, 8, 10, 12], beforeAck.Select(f => f["seq"]!.GetValue<long>()).Take(5));
        var otherSeqs = beforeAck.Concat(afterAck).Where(f => ScopeOf(f) == other).Select(f => f["seq"]!.GetValue<long>()).ToList();
        Assert.Equal([4, 6, 8, 10, 12, .. Enumerable.Range(14, 20).Select(i => (long)i)], otherSeqs);
        Assert.Equal([34], afterAck.Where(f => ScopeOf(f) != other).Select(f => f["seq"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Join_session_replays_only_what_this_socket_was_not_sent_since_it_opened()
    {
        var user = await RegisterUser();
        var chat = await SeedSession(user.Id);
        var other = await SeedSession(user.Id);
        await Invoke(Host, new MessageCreated(user.Id, Message(other, "before the socket opened"))); // 1

        // Opened without since: its position is the connected frame's lastSeq.
        var (device, connected) = await Device.Connect(Server, chat, user);
        await using var _d = device;
        Assert.Equal(1, connected["lastSeq"]!.GetValue<long>());
        await Invoke(Host, new MessageCreated(user.Id, Message(other, "while not joined")));       // 2
        await Invoke(Host, new MessageCreated(user.Id, Message(chat, "in chat")));                 // 3
        Assert.Equal([3], await SeqsUntil(device, 3));

        Assert.Equal([2], (await device.Join(other)).Select(f => f["seq"]!.GetValue<long>()));
        await Invoke(Host, new MessageCreated(user.Id, Message(other, "while joined")));           // 4
        Assert.Equal([4], await SeqsUntil(device, 4));

        await device.Leave(other);
        await Invoke(Host, new MessageCreated(user.Id, Message(other, "after leaving")));          // 5
        await Invoke(Host, new MessageCreated(user.Id, Message(chat, "in chat again")));           // 6
        Assert.Equal([6], await SeqsUntil(device, 6));

        // Joined again: what it missed while away, not what it was sent before (2, 4).
        Assert.Equal([5], (await device.Join(other)).Select(f => f["seq"]!.GetValue<long>()));
        Assert.Empty(await device.Join(other)); // already joined: nothing missing
        await Invoke(Host, new MessageCreated(user.Id, Message(other, "live")));                   // 7
        Assert.Equal([7], await SeqsUntil(device, 7));
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

        // Also at the very end of the range (the hostile sweep's resume).
        await device.Send(new { type = "resume", payload = new { since = long.MaxValue } });
        var again = await device.Receive();
        Assert.Equal("resync_required", again["type"]!.GetValue<string>());
        Assert.Equal(long.MaxValue, again["payload"]!["since"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_commit_that_reaches_a_multiple_of_64_trims_entries_older_than_the_retention()
    {
        var user = await RegisterUser();
        var log = Host.Services.GetRequiredService<EventLog>();
        var retention = Host.Services.GetRequiredService<RealtimeSettings>().Retention;
        // Five entries written eight days ago (ids <seq>-<unix ms>), the counter where they left it.
        var old = DateTimeOffset.UtcNow.AddDays(-8).ToUnixTimeMilliseconds();
        for (var seq = 59; seq <= 63; seq++)
            await Redis.StreamAddAsync(Keys.EventLog(user.Id), [new NameValueEntry("t", "session_updated"), new NameValueEntry("s", ""), new NameValueEntry("p", "{}")],
                messageId: $"{seq}-{old + seq}");
        await Redis.StringSetAsync(Keys.EventSeq(user.Id), 63);
        Assert.Equal(TimeSpan.FromDays(7), retention);

        await RaiseEvents.Commit(Host, new SessionDeleted(user.Id, "s1"));

        var left = await Redis.StreamRangeAsync(Keys.EventLog(user.Id));
        Assert.Equal(["64"], left.Select(e => e.Id.ToString().Split('-')[0]));
        Assert.True((await log.Read(user.Id, 0, 10)).ResyncRequired);
        Assert.Equal(64, (await log.Read(user.Id, 63, 10)).Events.Single().Seq);
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
