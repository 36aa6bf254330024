using System.Text.Json.Nodes;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>Who receives which event: every device of the user, session scope, typing, nobody else.</summary>
public sealed class FanOutTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    [Fact]
    public async Task Two_devices_of_a_user_receive_message_events_with_increasing_seq_and_another_user_none()
    {
        // The calls go to the Alba host, the sockets sit on the Kestrel host: the events cross instances through Redis.
        var user = await RegisterUser();
        var other = await RegisterUser();
        var session = await NewSession(user);
        var othersSession = await NewSession(other);
        var (phone, _) = await Device.Connect(Server, session, user);
        var (laptop, _) = await Device.Connect(Server, session, user);
        var (stranger, _) = await Device.Connect(Server, othersSession, other);
        await using var _p = phone; await using var _l = laptop; await using var _s = stranger;

        var calls = Calls(user);
        var message = await calls.PostMessage(session, "make the sky purple");
        var id = message["id"]!.GetValue<string>();
        await calls.EditMessage(id, "make the sky pink");
        await calls.DeleteMessage(id);
        var last = await LastSeq(user);

        foreach (var device in new[] { phone, laptop })
        {
            var frames = await EventsUntil(device, last);
            Assert.Equal(["message_created", "session_updated", "message_updated", "session_updated", "message_deleted", "session_updated"],
                frames.Select(Type));
            var seqs = frames.Select(Seq).ToArray();
            Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.First < p.Second), string.Join(",", seqs));

            var (created, updated, deleted) = (frames[0], frames[2], frames[4]);
            Assert.Equal(id, created["payload"]!["messageData"]!["id"]!.GetValue<string>());
            Assert.Equal("make the sky purple", created["payload"]!["messageData"]!["text"]!.GetValue<string>());
            Assert.Equal(session, created["payload"]!["messageData"]!["sessionId"]!.GetValue<string>());
            Assert.Equal("make the sky pink", updated["payload"]!["messageData"]!["text"]!.GetValue<string>());
            Assert.Equal(new JsonObject { ["messageId"] = id, ["sessionId"] = session }.ToJsonString(),
                deleted["payload"]!.ToJsonString());
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", created["timestamp"]!.GetValue<string>());
        }

        // The stranger's first event is its own, raised after the six above: it got none of them.
        await Calls(other).RenameSession(othersSession, "mine");
        var first = await stranger.ReceiveEvent();
        Assert.Equal("session_updated", Type(first));
        Assert.Equal(2, Seq(first)); // after its own session_created
    }

    [Fact]
    public async Task Session_events_reach_every_connection_of_the_user_message_and_image_events_only_joined_ones()
    {
        var user = await RegisterUser();
        var open = await NewSession(user);                                   // 1
        var (device, _) = await Device.Connect(Server, open, user);
        await using var _d = device;

        var calls = Calls(user);
        var elsewhere = await calls.CreateSession("Another chat");           // 2
        await calls.PostMessage(elsewhere);                                  // 3 message_created: not joined, not delivered; 4 session_updated
        await UploadAndWait(user, elsewhere);                                // 5 image_uploaded, 6 image_ready: not joined, not delivered
        await calls.DeleteSession(elsewhere);                                // 7

        var created = await device.ReceiveEvent();
        Assert.Equal(("session_created", 2L), (Type(created), Seq(created)));
        Assert.Equal("Another chat", created["payload"]!["session"]!["title"]!.GetValue<string>());
        var updated = await device.ReceiveEvent();
        Assert.Equal(("session_updated", 4L), (Type(updated), Seq(updated)));
        var deleted = await device.ReceiveEvent();
        Assert.Equal("session_deleted", Type(deleted));
        Assert.Equal(new JsonObject { ["sessionId"] = elsewhere }.ToJsonString(), deleted["payload"]!.ToJsonString());
        Assert.Equal(7, Seq(deleted)); // seq counts every stored event of the user
    }

    [Fact]
    public async Task Image_events_reach_the_devices_that_joined_the_session_with_reason_when_failed()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var (device, _) = await Device.Connect(Server, session, user);
        await using var _d = device;

        var image = (await UploadAndWait(user, session)).Single();
        await UserCalls.FailThumbnails(Host, user, image);

        var uploaded = await device.ReceiveEvent();
        Assert.Equal("image_uploaded", Type(uploaded));
        Assert.Equal(image["id"]!.GetValue<string>(), uploaded["payload"]!["image"]!["id"]!.GetValue<string>());
        Assert.Equal("processing", uploaded["payload"]!["image"]!["status"]!.GetValue<string>());
        Assert.Null(uploaded["payload"]!["reason"]);
        var ready = await device.ReceiveEvent();
        Assert.Equal("image_ready", Type(ready));
        Assert.Equal("ready", ready["payload"]!["image"]!["status"]!.GetValue<string>());
        Assert.Equal(2, ready["payload"]!["image"]!["thumbnails"]!.AsArray().Count);
        var failed = await device.ReceiveEvent();
        Assert.Equal("image_failed", Type(failed));
        Assert.False(string.IsNullOrWhiteSpace(failed["payload"]!["reason"]!.GetValue<string>()));
        Assert.Equal(failed["payload"]!["reason"]!.GetValue<string>(), failed["payload"]!["image"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Typing_reaches_the_other_device_in_the_session_not_the_sender_and_is_not_stored()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);
        var (phone, _) = await Device.Connect(Server, session, user);
        var (laptop, _) = await Device.Connect(Server, session, user);
        await using var _p = phone; await using var _l = laptop;

        await phone.Send(new { type = "typing", payload = new { sessionId = session, isTyping = true } });
        var typing = await laptop.Receive();
        Assert.Equal("typing", typing["type"]!.GetValue<string>());
        Assert.Equal(new JsonObject { ["sessionId"] = session, ["userId"] = user.Id, ["isTyping"] = true }.ToJsonString(),
            typing["payload"]!.ToJsonString());
        Assert.Null(typing["seq"]);

        // The sender's next frame is the answer to its ping, not its own typing.
        await phone.Send(new { type = "ping" });
        Assert.Equal("pong", (await phone.Receive())["type"]!.GetValue<string>());

        // Not stored: the next stored event follows the session's session_created (seq 1).
        await Calls(user).RenameSession(session, "renamed");
        Assert.Equal(2, Seq(await laptop.ReceiveEvent()));
    }

    [Fact]
    public async Task Typing_for_a_session_not_joined_answers_an_error()
    {
        var user = await RegisterUser();
        var (device, _) = await Device.Connect(Server, await NewSession(user), user);
        await using var _d = device;
        await device.Send(new { type = "typing", payload = new { sessionId = Guid.CreateVersion7().ToString("N"), isTyping = true } });
        Assert.Equal("not_joined", (await device.Receive())["payload"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Leave_session_stops_its_events_join_session_starts_them()
    {
        var user = await RegisterUser();
        var session = await NewSession(user);                 // 1
        var second = await NewSession(user);                  // 2
        var (staying, _) = await Device.Connect(Server, session, user);
        var (leaving, _) = await Device.Connect(Server, session, user);
        await using var _s = staying; await using var _l = leaving;

        await leaving.Leave(session);
        await leaving.Join(second);
        var calls = Calls(user);
        await calls.PostMessage(session, "only for the one that stayed");   // 3, and its session_updated 4
        await calls.PostMessage(second, "in the joined one");               // 5, and its session_updated 6

        Assert.Equal("only for the one that stayed", (await staying.ReceiveEvent())["payload"]!["messageData"]!["text"]!.GetValue<string>());
        var left = await EventsUntil(leaving, 6);
        Assert.Equal([(4L, "session_updated"), (5L, "message_created"), (6L, "session_updated")], left.Select(f => (Seq(f), Type(f))));
        Assert.Equal("in the joined one", left[1]["payload"]!["messageData"]!["text"]!.GetValue<string>());
    }
}
