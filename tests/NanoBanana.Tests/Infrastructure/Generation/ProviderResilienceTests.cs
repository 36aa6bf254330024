using System.Diagnostics;
using NanoBanana.Infrastructure.Generation;

namespace NanoBanana.Tests.Infrastructure.Generation;

/// <summary>
/// Every provider against a fake of its API on loopback, answering with that API's real shapes:
/// success, 429 then success, 500 until the attempts run out, a refusal, a timeout, a cancel mid-call.
/// The backoff starts at 5 ms here; the timeout test gives an attempt 0.5 s.
/// </summary>
public sealed class ProviderResilienceTests : IAsyncLifetime
{
    FakeProvider _fake = null!;
    public async Task InitializeAsync() => _fake = await FakeProvider.Start();
    public async Task DisposeAsync() => await _fake.DisposeAsync();

    ProviderHarness Harness(ProviderCase c, Dictionary<string, string?>? extra = null)
    {
        var env = c.Env(_fake.BaseUrl);
        foreach (var (k, v) in extra ?? []) env[k] = v;
        return new ProviderHarness(env);
    }

    static ImageRequest Prompt(string prompt = "a red fox in the snow") => new(prompt, []);

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task A_success_yields_the_judged_picture(string id)
    {
        var c = ProviderCase.Of(id);
        _fake.Answer(FakeProvider.Json(200, c.Success(ProviderHarness.Png(64, 48))));
        await using var h = Harness(c);

        var result = await h.Run(id, Prompt());

        var image = Assert.Single(result.Images);
        Assert.Equal(("image/png", 64, 48), (image.Mime, image.Width, image.Height));
        Assert.Equal(id, result.Provider);
        Assert.Single(_fake.Requests);
    }

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task A_429_is_retried_after_the_providers_Retry_After(string id)
    {
        var c = ProviderCase.Of(id);
        _fake.Answer(FakeProvider.Json(429, c.RateLimited, r => r.Headers.RetryAfter = "1"),
            FakeProvider.Json(200, c.Success(ProviderHarness.Png(32, 32))));
        await using var h = Harness(c);

        var result = await h.Run(id, Prompt());

        Assert.Single(result.Images);
        var requests = _fake.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        // The backoff alone would wait about 5 ms: the gap is the provider's Retry-After.
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromMilliseconds(900), $"retried after {(requests[1].At - requests[0].At).TotalMilliseconds} ms");
    }

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task Server_errors_are_retried_until_the_attempts_run_out_then_unavailable(string id)
    {
        var c = ProviderCase.Of(id);
        _fake.Answer(FakeProvider.Json(500, c.ServerError));
        await using var h = Harness(c);

        var e = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run(id, Prompt()));

        Assert.Equal(GenerationFailure.Unavailable, e.Kind);
        Assert.Equal("provider_unavailable", e.Code);
        Assert.Equal(3, _fake.Requests.Count);
    }

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task A_content_policy_refusal_is_not_retried_and_carries_the_providers_reason(string id)
    {
        var c = ProviderCase.Of(id);
        _fake.Answer(FakeProvider.Json(c.RefusalStatus, c.Refusal));
        await using var h = Harness(c);

        var e = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run(id, Prompt()));

        Assert.Equal(GenerationFailure.Refused, e.Kind);
        Assert.Contains(c.RefusalReason, e.Message);
        Assert.Single(_fake.Requests);
    }

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task An_attempt_that_outlives_the_timeout_is_retried_then_times_out(string id)
    {
        var c = ProviderCase.Of(id);
        _fake.Answer(FakeProvider.Hang);
        await using var h = Harness(c, new() { ["GENERATION_TIMEOUT_SECONDS"] = "0.5" });

        var e = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run(id, Prompt()));

        Assert.Equal(GenerationFailure.Timeout, e.Kind);
        Assert.Equal("provider_timeout", e.Code);
        Assert.Equal(3, _fake.Requests.Count);
    }

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task Cancelling_during_a_slow_call_abandons_it_at_once(string id)
    {
        var c = ProviderCase.Of(id);
        _fake.Answer(FakeProvider.Hang);
        // A long attempt timeout: what ends the call is the cancel, not the pipeline.
        await using var h = Harness(c, new() { ["GENERATION_TIMEOUT_SECONDS"] = "60" });
        using var cts = new CancellationTokenSource();

        var call = h.Run(id, Prompt(), cts.Token);
        await _fake.Received.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
        await _fake.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(_fake.Requests);
    }

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task A_picture_that_is_not_an_image_is_invalid_output(string id)
    {
        var c = ProviderCase.Of(id);
        _fake.Answer(FakeProvider.Json(200, c.Success("<svg xmlns='http://www.w3.org/2000/svg'/>"u8.ToArray())));
        await using var h = Harness(c);

        var e = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run(id, Prompt()));

        Assert.Equal(GenerationFailure.InvalidOutput, e.Kind);
    }

    [Theory, MemberData(nameof(ProviderCase.Ids), MemberType = typeof(ProviderCase))]
    public async Task Logs_carry_the_providers_error_without_the_key_or_the_prompt(string id)
    {
        var c = ProviderCase.Of(id);
        // A provider that echoes the key it was sent in its error body.
        _fake.Answer(FakeProvider.Json(401, """{"error":{"code":"invalid_api_key","message":"Incorrect API key provided: """ + c.Key + """."}}"""));
        await using var h = Harness(c);
        const string secretPrompt = "my-private-prompt-7c1e";

        var e = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run(id, Prompt(secretPrompt)));

        Assert.Equal(GenerationFailure.Unavailable, e.Kind);
        var logs = string.Join("\n", h.Logs.Lines);
        Assert.Contains("invalid_api_key", logs);
        Assert.Contains("Incorrect API key provided: ***", logs);
        Assert.DoesNotContain(c.Key, logs);
        Assert.DoesNotContain(secretPrompt, logs);
        Assert.DoesNotContain(c.Key, e.Message);
    }

    [Fact]
    public async Task A_provider_that_keeps_failing_is_cut_off_without_being_called()
    {
        var c = ProviderCase.GptImageAzure;
        _fake.Answer(FakeProvider.Json(500, c.ServerError));
        await using var h = Harness(c, ProviderCase.Seedream.Env(_fake.BaseUrl));

        // Two calls of three attempts each fail: the breaker has seen enough failures to open.
        for (var i = 0; i < 2; i++)
            await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run(c.Id, Prompt()));
        var calledBefore = _fake.Requests.Count;
        var e = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run(c.Id, Prompt()));

        Assert.Equal(GenerationFailure.Unavailable, e.Kind);
        Assert.Contains("paused", e.Message);
        Assert.Equal(calledBefore, _fake.Requests.Count);

        // Another provider has its own breaker and is still called.
        var other = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run("seedream", Prompt()));
        Assert.DoesNotContain("paused", other.Message);
        Assert.True(_fake.Requests.Count > calledBefore);
    }
}
