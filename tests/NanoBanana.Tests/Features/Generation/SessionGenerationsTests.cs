using NanoBanana.Features;
using NanoBanana.Tests.Features.Images;

namespace NanoBanana.Tests.Features.Generation;

/// <summary>The session generations API (SPEC section 8) with the built-in local provider.</summary>
public sealed class SessionGenerationsTests(AppFixture app) : GenerationTestContext(app)
{
    [Fact]
    public async Task A_generation_is_queued_with_its_prompt_message_and_succeeds_with_a_generated_image_and_an_assistant_message()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var since = await LoggedEvents.Mark(Host, user.Id);

        var queued = await QueueAndWait(Host, user, session, new { prompt = "a lighthouse at dusk", size = "320x200", seed = 7 });
        Assert.Equal("queued", Str(queued, "status"));
        Assert.Equal("local", Str(queued, "provider"));
        Assert.Equal("generate", Str(queued, "operation"));
        var prompt = await GetMessage(Host, user, Str(queued, "promptMessageId"));
        Assert.Equal(("user", "a lighthouse at dusk"), (Str(prompt, "role"), Str(prompt, "text")));

        var done = await GetGeneration(Host, user, Id(queued));
        Assert.Equal("succeeded", Str(done, "status"));
        Assert.Equal(1, done["attempts"]!.GetValue<int>());
        Assert.NotNull(done["startedAt"]);
        Assert.NotNull(done["finishedAt"]);
        var imageId = Assert.Single(done["resultImageIds"]!.AsArray())!.GetValue<string>();

        var answer = await GetMessage(Host, user, Str(done, "messageId"));
        Assert.Equal("assistant", Str(answer, "role"));
        Assert.Equal([imageId], answer["imageIds"]!.AsArray().Select(i => i!.GetValue<string>()));
        var p = answer["params"]!;
        Assert.Equal(("local", "local-vips-1", Id(done), "320x200", 7L),
            (Str(p, "provider"), Str(p, "model"), Str(p, "generationId"), Str(p, "size"), p["seed"]!.GetValue<long>()));
        Assert.True(p["durationMs"]!.GetValue<long>() >= 0);

        var image = await GetImage(Host, user, imageId);
        Assert.Equal(("generated", "ready", 1), (Str(image, "type"), Str(image, "status"), image["refCount"]!.GetValue<int>()));
        Assert.Equal((320, 200), (image["width"]!.GetValue<int>(), image["height"]!.GetValue<int>()));
        Assert.Equal(2, image["thumbnails"]!.AsArray().Count);
        var (status, bytes, _) = await Fetch(Host, Str(image, "url"));
        Assert.Equal(200, status);
        Assert.Equal(image["size"]!.GetValue<long>(), bytes.Length);

        // Every device learns it in this order: the prompt, queued, started, the picture, the answer, succeeded, then the thumbnails.
        var events = await LoggedEvents.Since(Host, user.Id, since);
        Assert.Equal(
            ["message_created", "session_updated", "generation_queued", "generation_started", "image_uploaded", "message_created",
             "session_updated", "generation_succeeded", "image_ready"],
            events.Select(NanoBanana.Features.Realtime.CommitChanges.TypeOf));
        Assert.Equal(imageId, Assert.IsType<GenerationSucceeded>(events[7]).Generation.ResultImageIds.Single());
        Assert.Equal(2, (await SessionMessages(Host, user, session)).Count);
    }

    [Fact]
    public async Task An_edit_of_a_ready_picture_keeps_its_size_and_the_prompt_message_carries_the_input()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (input, _) = await UploadAndWait(Host, user, session, TestImages.NoisyJpeg(400, 300));

        var queued = await QueueAndWait(Host, user, session, new { prompt = "make it warmer", imageIds = new[] { Id(input) }, n = 2 });
        Assert.Equal("edit", Str(queued, "operation"));
        var prompt = await GetMessage(Host, user, Str(queued, "promptMessageId"));
        Assert.Equal([Id(input)], prompt["imageIds"]!.AsArray().Select(i => i!.GetValue<string>()));

        var done = await GetGeneration(Host, user, Id(queued));
        Assert.Equal("succeeded", Str(done, "status"));
        var results = done["resultImageIds"]!.AsArray().Select(i => i!.GetValue<string>()).ToList();
        Assert.Equal(2, results.Count);
        foreach (var id in results)
        {
            var image = await GetImage(Host, user, id);
            Assert.Equal((400, 300), (image["width"]!.GetValue<int>(), image["height"]!.GetValue<int>()));
            Assert.NotEqual(Str(input, "sha256"), Str(image, "sha256"));
        }
        Assert.Equal(1, (await GetImage(Host, user, Id(input)))["refCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_generation_for_a_named_user_message_posts_no_second_prompt()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var mine = (await Json(await Host.Scenario(s =>
        {
            s.Post.Json(new { role = "user", text = "a red kite" }).ToUrl($"/api/sessions/{session}/messages");
            s.As(user);
            s.StatusCodeShouldBe(201);
        })))["messageData"]!;

        var queued = await QueueAndWait(Host, user, session, new { prompt = "a red kite", messageId = Id(mine) });
        Assert.Equal(Id(mine), Str(queued, "promptMessageId"));
        var messages = await SessionMessages(Host, user, session);
        Assert.Equal(["user", "assistant"], messages.Select(m => Str(m, "role")));

        var theirs = await RegisterUser();
        var other = await CreateSession(theirs);
        var refused = await ShouldBeProblem(await Queue(Host, theirs, other, new { prompt = "x", messageId = Id(mine) }, expect: 400), 400, "validation_failed");
        Assert.NotNull(refused["errors"]!["messageId"]);
    }

    [Fact]
    public async Task A_retry_with_the_same_Idempotency_Key_returns_the_first_generation_and_queues_nothing_more()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var first = await QueueAndWait(Host, user, session, new { prompt = "twice?" });
        var retry = (await Json(await Queue(Host, user, session, new { prompt = "twice?" }, idempotencyKey: "k-1")))["generation"]!;
        var again = (await Json(await Queue(Host, user, session, new { prompt = "twice?" }, idempotencyKey: "k-1")))["generation"]!;
        Assert.NotEqual(Id(first), Id(retry));
        Assert.Equal(Id(retry), Id(again));
        await ShouldBeProblem(await Queue(Host, user, session, new { prompt = "other" }, expect: 422, idempotencyKey: "k-1"), 422, "idempotency_key_reused");

        var list = await Json(await Host.Scenario(s =>
        {
            s.Get.Url($"/api/sessions/{session}/generations");
            s.As(user);
            s.StatusCodeShouldBe(200);
        }));
        Assert.Equal(2, list["pagination"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task The_session_list_is_newest_first_with_the_true_total_and_bad_paging_answers_400()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var ids = new List<string>();
        foreach (var prompt in new[] { "one", "two", "three" })
            ids.Add(Id(await QueueAndWait(Host, user, session, new { prompt })));

        var page = await Json(await Host.Scenario(s =>
        {
            s.Get.Url($"/api/sessions/{session}/generations?limit=2&offset=0");
            s.As(user);
            s.StatusCodeShouldBe(200);
        }));
        Assert.Equal([ids[2], ids[1]], page["generations"]!.AsArray().Select(Id));
        Assert.Equal((3L, true), (page["pagination"]!["total"]!.GetValue<long>(), page["pagination"]!["hasMore"]!.GetValue<bool>()));

        await ShouldBeProblem(await Host.Scenario(s =>
        {
            s.Get.Url($"/api/sessions/{session}/generations?limit=500");
            s.As(user);
            s.StatusCodeShouldBe(400);
        }), 400, "validation_failed");
    }

    [Fact]
    public async Task Another_users_generation_answers_404_to_get_and_cancel()
    {
        var owner = await RegisterUser();
        var session = await CreateSession(owner);
        var generation = await QueueAndWait(Host, owner, session, new { prompt = "mine" });
        var stranger = await RegisterUser();
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Delete })
            await ShouldBeProblem(await Host.Scenario(s =>
            {
                if (method == HttpMethod.Get) s.Get.Url($"/api/generations/{Id(generation)}");
                else s.Delete.Url($"/api/generations/{Id(generation)}");
                s.As(stranger);
                s.StatusCodeShouldBe(404);
            }), 404, "not_found");
        await ShouldBeProblem(await Queue(Host, stranger, session, new { prompt = "theirs" }, expect: 404), 404, "not_found");
    }

    [Fact]
    public async Task A_finished_generation_cannot_be_cancelled()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var generation = await QueueAndWait(Host, user, session, new { prompt = "done" });
        await ShouldBeProblem(await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/generations/{Id(generation)}");
            s.As(user);
            s.StatusCodeShouldBe(409);
        }), 409, "generation_finished");
    }

    [Fact]
    public async Task Bad_requests_are_refused_before_anything_is_queued()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        await ShouldBeProblem(await Queue(Host, user, session, new { prompt = "x", provider = "gemini" }, expect: 400), 400, "provider_not_configured");
        await ShouldBeProblem(await Queue(Host, user, session, new { prompt = "x", provider = "dall-e" }, expect: 400), 400, "validation_failed");
        await ShouldBeProblem(await Queue(Host, user, session, new { prompt = "" }, expect: 400), 400, "validation_failed");
        await ShouldBeProblem(await Queue(Host, user, session, new { prompt = "x", n = 5 }, expect: 400), 400, "validation_failed");
        await ShouldBeProblem(await Queue(Host, user, session, new { prompt = "x", imageIds = new[] { NanoBanana.Features.Ids.New() } }, expect: 400),
            400, "validation_failed");
        Assert.Empty(await SessionMessages(Host, user, session));
    }
}
