using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
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
        var session = await NewSession(user);                                    // 1
        var calls = Calls(user);

        var (first, _) = await Device.Connect(Server, session, user);
        for (var i = 0; i < 3; i++) await calls.PostMessage(session, $"seen {i}");  // 2-7
        Assert.Equal([2, 3, 4, 5, 6, 7], await SeqsUntil(first, 7));
        await first.DisposeAsync(); // the phone loses its network

        for (var i = 0; i < 10; i++) await calls.PostMessage(session, $"missed {i}");  // 8-27

        // 20 more (ten posts at once) are raised while the phone reconnects and catches up.
        var concurrent = Task.WhenAll(Enumerable.Range(0, 10).Select(i => calls.PostMessage(session, $"concurrent {i}")));  // 28-47
        var (again, connected) = await Device.Connect(Server, session, user, since: 7);
        await using var _a = again;
        await concurrent;
        // A last event after everything: once it arrives, every earlier one has been delivered or never will.
        await calls.RenameSession(session, "done");                              // 48

        Assert.Equal(Enumerable.Range(8, 41).Select(i => (long)i), await SeqsUntil(again, 48));
        Assert.True(connected["lastSeq"]!.GetValue<long>() >= 27);
    }

    [Fact]
    public async Task Resume_on_an_open_socket_replays_after_since_then_stays_live()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);                                    // 1
        var (device, _) = await Device.Connect(Server, session, user);
        await using var _d = device;
        var calls = Calls(user);
        for (var i = 0; i < 5; i++) await calls.RenameSession(session, $"title {i}");  // 2-6
        Assert.Equal([2, 3, 4, 5, 6], await SeqsUntil(device, 6));

        await device.Send(new { type = "resume", payload = new { since = 3 } });
        Assert.Equal([4, 5, 6], await SeqsUntil(device, 6));

        await calls.RenameSession(session, "live");                              // 7
        Assert.Equal([7], await SeqsUntil(device, 7));
    }

    [Fact]
    public async Task Replay_respects_session_scope_like_live_delivery()
    {
        var user = await RegisterUser();
        var joined = await NewSession(user);                // 1
        var other = await NewSession(user);                 // 2
        var calls = Calls(user);
        await calls.PostMessage(joined, "in joined");       // 3 message_created, 4 session_updated
        await calls.PostMessage(other, "in other");         // 5 message_created: not replayed; 6 session_updated
        await calls.RenameSession(other, "renamed");        // 7: user-wide

        var (device, _) = await Device.Connect(Server, joined, user, since: 0);
        await using var _d = device;
        Assert.Equal([(1L, "session_created"), (2L, "session_created"), (3L, "message_created"), (4L, "session_updated"),
                (6L, "session_updated"), (7L, "session_updated")],
            (await EventsUntil(device, 7)).Select(f => (Seq(f), Type(f))));
    }

    static string? ScopeOf(JsonObject frame) =>
        frame["payload"]!["messageData"]?["sessionId"]?.GetValue<string>();

    [Fact]
    public async Task Join_session_after_a_reconnect_replays_that_sessions_missed_events_once_in_order_then_its_live_ones()
    {
        var user = await RegisterUser();
        var chat = await NewSession(user);    // 1: the URL's
        var other = await NewSession(user);   // 2: followed through join_session
        var calls = Calls(user);
        var (phone, _) = await Device.Connect(Server, chat, user);
        Assert.Empty(await phone.Join(other));
        await calls.PostMessage(chat, "seen in chat");     // 3, session_updated 4
        await calls.PostMessage(other, "seen in other");   // 5, session_updated 6
        Assert.Equal([3, 4, 5, 6], await SeqsUntil(phone, 6));
        await phone.DisposeAsync(); // the phone loses its network

        for (var i = 0; i < 5; i++)
        {
            await calls.PostMessage(chat, $"missed in chat {i}");    // 7, 11, 15, 19, 23 (and session_updated after each post)
            await calls.PostMessage(other, $"missed in other {i}");  // 9, 13, 17, 21, 25
        }
        await calls.RenameSession(other, "renamed");                 // 27: user-wide

        var (again, _) = await Device.Connect(Server, chat, user, since: 6);
        await using var _a = again;
        // The URL's chat and the user's own (every session_updated), not the other chat's messages.
        Assert.Equal(Enumerable.Range(7, 21).Where(s => s is not (9 or 13 or 17 or 21 or 25)).Select(s => (long)s),
            await SeqsUntil(again, 27));

        // It follows its other chat again while that chat keeps getting posts (message_created 28, 30 ... 46).
        var concurrent = Task.WhenAll(Enumerable.Range(0, 10).Select(i => calls.PostMessage(other, $"concurrent {i}")));
        var beforeAck = await again.Join(other);
        await concurrent;
        // A last event after everything: once it arrives, every earlier one has been delivered or never will.
        await calls.PostMessage(chat, "last");                       // 48, session_updated 49
        var afterAck = await EventsUntil(again, 49);

        Assert.All(beforeAck.Where(f => ScopeOf(f) is not null), f => Assert.Equal(other, ScopeOf(f)));
        Assert.Equal([9, 13, 17, 21, 25], beforeAck.Where(f => ScopeOf(f) == other).Select(Seq).Take(5));
        var received = beforeAck.Concat(afterAck).ToList();
        Assert.Equal([9, 13, 17, 21, 25, .. Enumerable.Range(0, 10).Select(i => 28L + 2 * i)],
            received.Where(f => ScopeOf(f) == other).Select(Seq));
        Assert.Equal([48], received.Where(f => ScopeOf(f) == chat).Select(Seq));
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => 29L + 2 * i), 49], received.Where(f => ScopeOf(f) is null).Select(Seq));
    }

    [Fact]
    public async Task Join_session_replays_only_what_this_socket_was_not_sent_since_it_opened()
    {
        var user = await RegisterUser();
        var chat = await NewSession(user);                         // 1
        var other = await NewSession(user);                        // 2
        var calls = Calls(user);
        await calls.PostMessage(other, "before the socket opened"); // 3, session_updated 4

        // Opened without since: its position is the connected frame's lastSeq.
        var (device, connected) = await Device.Connect(Server, chat, user);
        await using var _d = device;
        Assert.Equal(4, connected["lastSeq"]!.GetValue<long>());
        await calls.PostMessage(other, "while not joined");         // 5, session_updated 6
        await calls.PostMessage(chat, "in chat");                   // 7, session_updated 8
        Assert.Equal([6, 7, 8], await SeqsUntil(device, 8));

        Assert.Equal([5], (await device.Join(other)).Select(Seq));
        await calls.PostMessage(other, "while joined");             // 9, 10
        Assert.Equal([9, 10], await SeqsUntil(device, 10));

        await device.Leave(other);
        await calls.PostMessage(other, "after leaving");            // 11, 12
        await calls.PostMessage(chat, "in chat again");             // 13, 14
        Assert.Equal([12, 13, 14], await SeqsUntil(device, 14));

        // Joined again: what it missed while away, not what it was sent before (5, 9).
        Assert.Equal([11], (await device.Join(other)).Select(Seq));
        Assert.Empty(await device.Join(other)); // already joined: nothing missing
        await calls.PostMessage(other, "live");                     // 15, 16
        Assert.Equal([15, 16], await SeqsUntil(device, 16));
    }

    [Fact]
    public async Task A_since_older_than_the_retained_log_answers_resync_required_then_live_events()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);                                        // 1
        for (var i = 0; i < 5; i++) await Calls(user).RenameSession(session, $"t{i}");  // 2-6
        // What the age trim does after a week: the oldest entries are gone.
        await Redis.StreamTrimByMinIdAsync(Keys.EventLog(user.Id), "4");

        var (device, _) = await Device.Connect(Server, session, user, since: 1);
        await using var _d = device;
        var resync = await device.Receive();
        Assert.Equal("resync_required", resync["type"]!.GetValue<string>());
        Assert.Equal(1, resync["payload"]!["since"]!.GetValue<long>());
        Assert.Equal(6, resync["payload"]!["lastSeq"]!.GetValue<long>());
        Assert.Null(resync["seq"]);

        await Calls(user).RenameSession(session, "live");                             // 7
        Assert.Equal(7, Seq(await device.ReceiveEvent()));

        // A since still inside the log replays normally.
        var (inside, _) = await Device.Connect(Server, session, user, since: 3);
        await using var _i = inside;
        Assert.Equal([4, 5, 6, 7], await SeqsUntil(inside, 7));
    }

    [Fact]
    public async Task A_since_from_the_future_answers_resync_required()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);   // 1
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
        // Five entries written eight days ago (ids <seq>-<unix ms>), the counter where they left it: a state of the
        // log's own key layout that no route reaches without waiting a week.
        var old = DateTimeOffset.UtcNow.AddDays(-8).ToUnixTimeMilliseconds();
        for (var seq = 59; seq <= 63; seq++)
            await Redis.StreamAddAsync(Keys.EventLog(user.Id), [new NameValueEntry("t", "session_updated"), new NameValueEntry("s", ""), new NameValueEntry("p", "{}")],
                messageId: $"{seq}-{old + seq}");
        await Redis.StringSetAsync(Keys.EventSeq(user.Id), 63);
        Assert.Equal(TimeSpan.FromDays(7), retention);

        await NewSession(user);   // seq 64

        var left = await Redis.StreamRangeAsync(Keys.EventLog(user.Id));
        Assert.Equal(["64"], left.Select(e => e.Id.ToString().Split('-')[0]));
        Assert.True((await log.Read(user.Id, 0, 10)).ResyncRequired);
        Assert.Equal(64, (await log.Read(user.Id, 63, 10)).Events.Single().Seq);
    }

    [Fact]
    public async Task Events_published_while_the_instance_lost_its_subscription_arrive_once_it_is_back()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);                  // 1
        var (device, _) = await Device.Connect(Server, session, user);
        await using var _d = device;
        var calls = Calls(user);
        await calls.PostMessage(session, "before");            // 2, 3
        Assert.Equal([2, 3], await SeqsUntil(device, 3));

        // Drop every pub/sub connection: what is published until the instance resubscribes is lost to pub/sub.
        foreach (var redis in App.Admin.GetServers())
            await redis.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");
        for (var i = 0; i < 5; i++) await calls.PostMessage(session, $"during {i}");  // 4-13

        Assert.Equal(Enumerable.Range(4, 10).Select(i => (long)i), await SeqsUntil(device, 13));
    }
}
