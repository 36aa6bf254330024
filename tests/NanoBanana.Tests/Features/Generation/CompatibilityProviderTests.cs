using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Tests.Infrastructure.Generation;

namespace NanoBanana.Tests.Features.Generation;

/// <summary>A host whose four providers point at one fake on loopback, with small generation limits.</summary>
public sealed class FakeProvidersHost : IAsyncLifetime
{
    public FakeProvider Fake { get; private set; } = null!;
    public IAlbaHost Host { get; private set; } = null!;
    public const int MaxBodyBytes = 300_000;
    public const int DailyLimit = 4;

    public async Task InitializeAsync()
    {
        Fake = await FakeProvider.Start();
        var settings = new Dictionary<string, string?>
        {
            ["GENERATION_TIMEOUT_SECONDS"] = "3",
            ["GENERATION_MAX_ATTEMPTS"] = "2",
            ["GENERATION_RETRY_DELAY_MS"] = "5",
            ["GENERATION_MAX_BODY_BYTES"] = MaxBodyBytes.ToString(),
            ["GENERATION_MAX_CONCURRENT_PER_USER"] = "1",
            ["GENERATION_DAILY_LIMIT"] = DailyLimit.ToString(),
        };
        foreach (var c in new[] { ProviderCase.GptImageAzure, ProviderCase.Flux, ProviderCase.Seedream, ProviderCase.Gemini })
            foreach (var (k, v) in c.Env(Fake.BaseUrl)) settings[k] = v;
        Host = await AppFixture.StartHost(settings);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

/// <summary>The synchronous routes in front of real (faked) provider APIs: answers, errors as the seed shows them, limits.</summary>
public sealed class CompatibilityProviderTests(AppFixture app, FakeProvidersHost providers) : IntegrationContext(app), IClassFixture<FakeProvidersHost>
{
    FakeProvider Fake => providers.Fake;
    IAlbaHost Api => providers.Host;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Fake.Reset();
    }

    Task<IScenarioResult> Post(TestUser user, string url, object body) => Api.Scenario(s =>
    {
        s.Post.Json(body).ToUrlWithQuery(url);
        s.As(user);
        s.IgnoreStatusCode();
    });

    [Fact]
    public async Task A_providers_picture_comes_back_as_base64_with_its_words_and_the_key_stays_on_the_server()
    {
        var user = await RegisterUser(host: Api);
        var png = ProviderHarness.Png(48, 32);
        Fake.Answer(FakeProvider.Json(200, ProviderCase.Gemini.Success(png)));

        var result = await Post(user, "/api/gemini/generate", new { prompt = "a fox" });

        Assert.Equal(200, result.Context.Response.StatusCode);
        var text = await result.ReadAsTextAsync();
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(png, Convert.FromBase64String((string)body["images"]![0]!));
        Assert.Equal("Here is your picture.", (string?)body["text"]);
        Assert.Equal(ProviderCase.GeminiKey, Assert.Single(Fake.Requests).Header("x-goog-api-key"));
        Assert.DoesNotContain(ProviderCase.GeminiKey, text);
    }

    [Fact]
    public async Task A_refusal_answers_422_provider_refused_with_the_providers_reason()
    {
        var user = await RegisterUser(host: Api);
        Fake.Answer(FakeProvider.Json(ProviderCase.GptImageAzure.RefusalStatus, ProviderCase.GptImageAzure.Refusal));

        var body = await ShouldBeProblem(await Post(user, "/api/gpt-image-1/generate", new { prompt = "something violent" }), 422, "provider_refused");

        Assert.Equal(ProviderCase.GptImageAzure.RefusalReason, (string?)body["message"]);
        Assert.Equal("The image provider refused this request.", (string?)body["error"]);
        Assert.Single(Fake.Requests);
    }

    [Fact]
    public async Task Server_errors_answer_502_provider_unavailable_after_the_attempts()
    {
        var user = await RegisterUser(host: Api);
        Fake.Answer(FakeProvider.Json(500, ProviderCase.Seedream.ServerError));

        await ShouldBeProblem(await Post(user, "/api/seedream/generate", new { prompt = "a fox" }), 502, "provider_unavailable");

        Assert.Equal(2, Fake.Requests.Count);
    }

    [Fact]
    public async Task A_provider_that_does_not_answer_in_time_answers_504_provider_timeout()
    {
        var user = await RegisterUser(host: Api);
        Fake.Answer(FakeProvider.Hang);

        await ShouldBeProblem(await Post(user, "/api/flux/generate", new { prompt = "a fox" }), 504, "provider_timeout");
    }

    [Fact]
    public async Task A_body_over_GENERATION_MAX_BODY_BYTES_answers_413_and_a_picture_under_the_json_limit_but_over_256_KiB_passes()
    {
        var user = await RegisterUser(host: Api);
        var big = new string('A', FakeProvidersHost.MaxBodyBytes);
        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/edit?mock=1", new { instruction = "x", originalImage = big }), 413, "payload_too_large");

        // Bigger than the API's ordinary 256 KiB JSON limit, within this route's.
        var noisy = NanoBanana.Tests.Features.Images.TestImages.NoisyJpeg(400, 300);
        Assert.InRange(noisy.Length * 4 / 3, 256 * 1024 / 4, FakeProvidersHost.MaxBodyBytes - 1000);
        var ok = await Post(user, "/api/gpt-image-1/edit?mock=1", new { instruction = "x", originalImage = Convert.ToBase64String(noisy) });
        Assert.Equal(200, ok.Context.Response.StatusCode);
    }

    [Fact]
    public async Task A_second_call_while_one_is_under_way_answers_429_with_Retry_After()
    {
        var user = await RegisterUser(host: Api);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Fake.Answer(FakeProvider.After(release.Task, FakeProvider.Json(200, ProviderCase.Seedream.Success(ProviderHarness.Png(16, 16)))));

        var first = Post(user, "/api/seedream/generate", new { prompt = "slow" });
        await Fake.Received.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var second = await Post(user, "/api/seedream/generate?mock=1", new { prompt = "meanwhile" });
        release.SetResult();

        await ShouldBeProblem(second, 429, "rate_limited");
        Assert.False(string.IsNullOrEmpty(second.Context.Response.Headers.RetryAfter.ToString()));
        Assert.Equal(200, (await first).Context.Response.StatusCode);
        // The place is given back: the next call runs.
        Assert.Equal(200, (await Post(user, "/api/seedream/generate?mock=1", new { prompt = "after" })).Context.Response.StatusCode);
    }

    [Fact]
    public async Task Past_the_daily_limit_calls_answer_429_until_midnight_UTC_and_other_users_are_not_counted()
    {
        var user = await RegisterUser(host: Api);
        for (var i = 0; i < FakeProvidersHost.DailyLimit; i++)
            Assert.Equal(200, (await Post(user, "/api/gemini/generate?mock=1", new { prompt = $"picture {i}" })).Context.Response.StatusCode);

        var refused = await Post(user, "/api/gemini/generate?mock=1", new { prompt = "one more" });

        await ShouldBeProblem(refused, 429, "rate_limited");
        var retryAfter = int.Parse(refused.Context.Response.Headers.RetryAfter.ToString());
        Assert.InRange(retryAfter, 1, 24 * 3600);
        var other = await RegisterUser(host: Api);
        Assert.Equal(200, (await Post(other, "/api/gemini/generate?mock=1", new { prompt = "mine" })).Context.Response.StatusCode);
    }

    [Fact]
    public async Task Providers_are_listed_as_configured_and_the_first_configured_is_the_default()
    {
        var user = await RegisterUser(host: Api);
        var result = await Api.Scenario(s => { s.Get.Url("/api/generation/providers"); s.As(user); });
        var body = await Json(result);
        Assert.All(body["providers"]!.AsArray(), p => Assert.True((bool)p!["configured"]!));
        Assert.Equal("gpt-image-1", (string?)body["defaultProvider"]);
    }
}
