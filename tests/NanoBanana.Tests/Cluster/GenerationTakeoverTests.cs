using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Tests.Features.Generation;
using NanoBanana.Tests.Infrastructure.Generation;
using StackExchange.Redis;

namespace NanoBanana.Tests.Cluster;

/// <summary>A generation is leased work: the instance running it stops mid-call, and another instance finishes it.</summary>
[Trait("Category", "Cluster")]
public sealed class GenerationTakeoverTests(AppFixture app) : GenerationTestContext(app)
{
    [Fact]
    public async Task When_the_instance_running_a_generation_stops_mid_call_another_finishes_it_once()
    {
        await using var fake = await FakeProvider.Start();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The first call (instance A's) hangs until A goes; the second (B's, after the takeover) answers.
        fake.Answer(FakeProvider.After(release.Task, FakeProvider.Json(500, "{}")),
            FakeProvider.Json(200, ProviderCase.Gemini.Success(ProviderHarness.Png(80, 60))));
        var settings = new Dictionary<string, string?>
        {
            ["REDIS_URL"] = ClusterFixture.Endpoints,
            ["LOCAL_STORAGE_PATH"] = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "uploads"),
            ["WORK_LEASE_SECONDS"] = "2",
            ["GENERATION_MAX_ATTEMPTS"] = "1",
        };
        foreach (var (k, v) in ProviderCase.Gemini.Env(fake.BaseUrl)) settings[k] = v;
        var a = await AppFixture.StartHost(settings);
        await using var b = await AppFixture.StartHost(settings);

        var user = await RegisterUser(host: a);
        var session = await CreateSession(a, user);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(ClusterFixture.Endpoints);
        var succeeded = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        var types = new List<string>();
        await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Keys.EventChannel(user.Id)), (_, message) =>
        {
            if (EventLog.ParseLive((string)message!) is not { } e) return;
            lock (types) types.Add(e.Type);
            if (e.Type == "generation_succeeded") succeeded.TrySetResult(JsonNode.Parse(e.Payload)!);
        });

        var queued = (await Json(await Queue(a, user, session, new { provider = "gemini", prompt = "survive a crash" })))["generation"]!;
        await fake.Received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await a.DisposeAsync(); // instance A goes mid-call and never comes back
        release.TrySetResult();

        var done = (await succeeded.Task.WaitAsync(TimeSpan.FromSeconds(60)))["generation"]!;
        Assert.Equal(Id(queued), Id(done));
        Assert.Equal(2, done["attempts"]!.GetValue<int>());
        Assert.Equal(2, fake.Requests.Count);

        var generation = await GetGeneration(b, user, Id(queued));
        Assert.Equal("succeeded", Str(generation, "status"));
        var messages = await SessionMessages(b, user, session);
        Assert.Equal(["user", "assistant"], messages.Select(m => Str(m, "role")));
        var images = await SessionImages(b, user, session);
        Assert.Equal(generation["resultImageIds"]!.AsArray().Select(i => i!.GetValue<string>()), images.Select(Id));
        lock (types)
        {
            Assert.Single(types, t => t == "generation_succeeded");
            Assert.Single(types, t => t == "generation_started");
            Assert.DoesNotContain("generation_failed", types);
        }
    }
}
