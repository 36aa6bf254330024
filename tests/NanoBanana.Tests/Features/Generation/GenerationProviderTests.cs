using Alba;
using NanoBanana.Features;
using NanoBanana.Tests.Infrastructure.Generation;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Generation;

/// <summary>Session generations against a faked provider API: a refusal, a cancel during a slow call, the per-user limit.</summary>
public sealed class GenerationProviderTests(AppFixture app, FakeProvidersHost providers) : GenerationTestContext(app), IClassFixture<FakeProvidersHost>
{
    FakeProvider Fake => providers.Fake;
    IAlbaHost Api => providers.Host;
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Fake.Reset();
    }

    [Fact]
    public async Task A_providers_picture_and_words_become_the_assistant_message()
    {
        var user = await RegisterUser(host: Api);
        var session = await CreateSession(Api, user);
        Fake.Answer(FakeProvider.Json(200, ProviderCase.Gemini.Success(ProviderHarness.Png(64, 48))));

        var queued = await QueueAndWait(Api, user, session, new { provider = "gemini", prompt = "a fox" });

        var done = await GetGeneration(Api, user, Id(queued));
        Assert.Equal(("succeeded", "gemini-2.5-flash-image"), (Str(done, "status"), Str(done, "model")));
        var answer = await GetMessage(Api, user, Str(done, "messageId"));
        Assert.Equal("Here is your picture.", Str(answer, "text"));
        Assert.Equal("gemini", Str(answer["params"], "provider"));
        var image = await GetImage(Api, user, done["resultImageIds"]![0]!.GetValue<string>());
        Assert.Equal(("generated", 64, 48), (Str(image, "type"), image["width"]!.GetValue<int>(), image["height"]!.GetValue<int>()));
        Assert.Contains("a fox", System.Text.Encoding.UTF8.GetString(Assert.Single(Fake.Requests).Body));
    }

    [Fact]
    public async Task A_refusal_fails_the_generation_with_the_providers_reason_and_stores_nothing()
    {
        var user = await RegisterUser(host: Api);
        var session = await CreateSession(Api, user);
        var since = await LoggedEvents.Mark(Api, user.Id);
        Fake.Answer(FakeProvider.Json(ProviderCase.Gemini.RefusalStatus, ProviderCase.Gemini.Refusal));

        var queued = await QueueAndWait(Api, user, session, new { provider = "gemini", prompt = "something forbidden" });

        var failed = await GetGeneration(Api, user, Id(queued));
        Assert.Equal(("failed", "provider_refused"), (Str(failed, "status"), Str(failed["error"], "code")));
        Assert.Contains(ProviderCase.Gemini.RefusalReason, Str(failed["error"], "message"));
        Assert.Empty(await SessionImages(Api, user, session));
        var events = await LoggedEvents.Since(Api, user.Id, since);
        Assert.Equal(["message_created", "session_updated", "generation_queued", "generation_started", "generation_failed"],
            events.Select(NanoBanana.Features.Realtime.CommitChanges.TypeOf));
        // Its place is free again: the next one is accepted (the limit is 1 under way).
        Fake.Answer(FakeProvider.Json(200, ProviderCase.Gemini.Success(ProviderHarness.Png(16, 16))));
        await QueueAndWait(Api, user, session, new { provider = "gemini", prompt = "something allowed" });
    }

    [Fact]
    public async Task Cancelling_a_running_generation_abandons_the_provider_call_and_stores_nothing()
    {
        var user = await RegisterUser(host: Api);
        var session = await CreateSession(Api, user);
        var since = await LoggedEvents.Mark(Api, user.Id);
        Fake.Answer(FakeProvider.Hang);

        string id = "";
        await Api.TrackActivity(Wait).ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
        {
            id = Id((await Json(await Queue(Api, user, session, new { provider = "gemini", prompt = "slow" })))["generation"]);
            await Fake.Received.Task.WaitAsync(Wait);
            // One under way: the limit (1) refuses the next, with Retry-After.
            var refused = await Queue(Api, user, session, new { provider = "gemini", prompt = "one more" }, expect: 429);
            await ShouldBeProblem(refused, 429, "rate_limited");
            Assert.True(refused.Context.Response.Headers.ContainsKey("Retry-After"));

            var cancelled = (await Json(await Api.Scenario(s =>
            {
                s.Delete.Url($"/api/generations/{id}");
                s.As(user);
                s.StatusCodeShouldBe(200);
            })))["generation"]!;
            Assert.Equal("cancelled", Str(cancelled, "status"));
            await Fake.Aborted.Task.WaitAsync(Wait);
        }));

        Assert.Equal("cancelled", Str(await GetGeneration(Api, user, id), "status"));
        Assert.Empty(await SessionImages(Api, user, session));
        Assert.Equal(["user"], (await SessionMessages(Api, user, session)).Select(m => Str(m, "role")));
        var events = await LoggedEvents.Since(Api, user.Id, since);
        Assert.Equal(["message_created", "session_updated", "generation_queued", "generation_started", "generation_cancelled"],
            events.Select(NanoBanana.Features.Realtime.CommitChanges.TypeOf));
        await ShouldBeProblem(await Api.Scenario(s =>
        {
            s.Delete.Url($"/api/generations/{id}");
            s.As(user);
            s.StatusCodeShouldBe(409);
        }), 409, "generation_finished");
        // The cancel gave its place back.
        Fake.Answer(FakeProvider.Json(200, ProviderCase.Gemini.Success(ProviderHarness.Png(16, 16))));
        Assert.Equal("succeeded", Str(await GetGeneration(Api, user,
            Id(await QueueAndWait(Api, user, session, new { provider = "gemini", prompt = "fast" }))), "status"));
    }
}
