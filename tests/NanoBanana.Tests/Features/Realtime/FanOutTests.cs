using System.Text.Json.Nodes;
using NanoBanana.Features;

namespace NanoBanana.Tests.Features.Realtime;

/// <summary>Who receives which event: every device of the user, session scope, typing, nobody else.</summary>
public sealed class FanOutTests(AppFixture app, LiveServer server) : RealtimeContext(app, server)
{
    [Fact]
    public async Task Two_devices_of_a_user_receive_message_events_with_increasing_seq_and_another_user_none()
    {
        var user = await RegisterUser();
        var other = await RegisterUser();
        var session = await SeedSession(user.Id);
        var othersSession = await SeedSession(other.Id);
        var (phone, _) = await Device.Connect(Server, session, user);
        var (laptop, _) = await Device.Connect(Server, session, user);
        var (stranger, _) = await Device.Connect(Server, othersSession, other);
        await using var _p = phone; await using var _l = laptop; await using var _s = stranger;

        var message = Message(session, "make the sky purple");
        await Raise(new MessageCreated(user.Id, message));
        await Raise(new MessageUpdated(user.Id, message with { Text = "make the sky pink" }));
        await Raise(new MessageDeleted(user.Id, session, message.Id));

        foreach (var device in new[] { phone, laptop })
        {
            var created = await device.ReceiveEvent();
            var updated = await device.ReceiveEvent();
            var deleted = await device.ReceiveEvent();
            Assert.Equal(["message_created", "message_updated", "message_deleted"],
                new[] { created, updated, deleted }.Select(f => f["type"]!.GetValue<string>()));
            var seqs = new[] { created, updated, deleted }.Select(f => f["seq"]!.GetValue<long>()).ToArray();
            Assert.True(seqs[0] < seqs[1] && seqs[1] < seqs[2], string.Join(",", seqs));

            Assert.Equal(message.Id, created["payload"]!["messageData"]!["id"]!.GetValue<string>());
            Assert.Equal("make the sky purple", created["payload"]!["messageData"]!["text"]!.GetValue<string>());
            Assert.Equal(session, created["payload"]!["messageData"]!["sessionId"]!.GetValue<string>());
            Assert.Equal("make the sky pink", updated["payload"]!["messageData"]!["text"]!.GetValue<string>());
            Assert.Equal(new JsonObject { ["messageId"] = message.Id, ["sessionId"] = session }.ToJsonString(),
                deleted["payload"]!.ToJsonString());
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", created["timestamp"]!.GetValue<string>());
        }

        // The stranger's first event is its own, raised after the three above: it got none of them.
        await Raise(new SessionUpdated(other.Id, Session(other.Id, othersSession, "mine")));
        var first = await stranger.ReceiveEvent();
        Assert.Equal("session_updated", first["type"]!.GetValue<string>());
        Assert.Equal(1, first["seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task Session_events_reach_every_connection_of_the_user_message_events_only_joined_ones()
    {
        var user = await RegisterUser();
        var open = await SeedSession(user.Id);
        var elsewhere = await SeedSession(user.Id);
        var (device, _) = await Device.Connect(Server, open, user);
        await using var _d = device;

        await Raise(new SessionCreated(user.Id, Session(user.Id, elsewhere, "Another chat")));
        await Raise(new MessageCreated(user.Id, Message(elsewhere)));          // not joined: not delivered
        await Raise(new ImageReady(user.Id, Image(user.Id, elsewhere, "ready"))); // not joined: not delivered
        await Raise(new SessionDeleted(user.Id, elsewhere));

        var created = await device.ReceiveEvent();
        Assert.Equal("session_created", created["type"]!.GetValue<string>());
        Assert.Equal("Another chat", created["payload"]!["session"]!["title"]!.GetValue<string>());
        var deleted = await device.ReceiveEvent();
        Assert.Equal("session_deleted", deleted["type"]!.GetValue<string>());
        Assert.Equal(new JsonObject { ["sessionId"] = elsewhere }.ToJsonString(), deleted["payload"]!.ToJsonString());
        Assert.Equal(4, deleted["seq"]!.GetValue<long>()); // seq counts every stored event of the user
    }

    [Fact]
    public async Task Image_events_reach_the_devices_that_joined_the_session_with_reason_when_failed()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
        var (device, _) = await Device.Connect(Server, session, user);
        await using var _d = device;

        var image = Image(user.Id, session);
        await Raise(new ImageUploaded(user.Id, image));
        await Raise(new ImageReady(user.Id, image with { Status = "ready" }));
        await Raise(new ImageFailed(user.Id, image with { Status = "failed", Reason = "corrupt" }, "corrupt"));

        var uploaded = await device.ReceiveEvent();
        Assert.Equal("image_uploaded", uploaded["type"]!.GetValue<string>());
        Assert.Equal(image.Id, uploaded["payload"]!["image"]!["id"]!.GetValue<string>());
        Assert.Null(uploaded["payload"]!["reason"]);
        var ready = await device.ReceiveEvent();
        Assert.Equal("image_ready", ready["type"]!.GetValue<string>());
        Assert.Equal("ready", ready["payload"]!["image"]!["status"]!.GetValue<string>());
        var failed = await device.ReceiveEvent();
        Assert.Equal("image_failed", failed["type"]!.GetValue<string>());
        Assert.Equal("corrupt", failed["payload"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Typing_reaches_the_other_device_in_the_session_not_the_sender_and_is_not_stored()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
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

        // Not stored: the first stored event gets seq 1.
        await Raise(new SessionUpdated(user.Id, Session(user.Id, session)));
        Assert.Equal(1, (await laptop.ReceiveEvent())["seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task Typing_for_a_session_not_joined_answers_an_error()
    {
        var user = await RegisterUser();
        var (device, _) = await Device.Connect(Server, await SeedSession(user.Id), user);
        await using var _d = device;
        await device.Send(new { type = "typing", payload = new { sessionId = Guid.CreateVersion7().ToString("N"), isTyping = true } });
        Assert.Equal("not_joined", (await device.Receive())["payload"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Leave_session_stops_its_events_join_session_starts_them()
    {
        var user = await RegisterUser();
        var session = await SeedSession(user.Id);
        var second = await SeedSession(user.Id);
        var (staying, _) = await Device.Connect(Server, session, user);
        var (leaving, _) = await Device.Connect(Server, session, user);
        await using var _s = staying; await using var _l = leaving;

        await leaving.Leave(session);
        await leaving.Join(second);
        await Raise(new MessageCreated(user.Id, Message(session, "only for the one that stayed")));
        await Raise(new MessageCreated(user.Id, Message(second, "in the joined one")));

        Assert.Equal("only for the one that stayed", (await staying.ReceiveEvent())["payload"]!["messageData"]!["text"]!.GetValue<string>());
        var next = await leaving.ReceiveEvent();
        Assert.Equal("in the joined one", next["payload"]!["messageData"]!["text"]!.GetValue<string>());
        Assert.Equal(2, next["seq"]!.GetValue<long>());
    }
}
