using System.Net;
using Microsoft.Extensions.Http.Resilience;
using NanoBanana.Infrastructure.Configuration;
using Polly;

namespace NanoBanana.Infrastructure.Generation;

public static class GenerationSetup
{
    /// <summary>
    /// The providers, each with its own named HttpClient and resilience pipeline (so each has its own
    /// circuit breaker): retries outside, the breaker, then the timeout of one attempt.
    /// </summary>
    public static IServiceCollection AddGeneration(this IServiceCollection services, Settings settings)
    {
        var generation = settings.Generation;
        foreach (var id in new[] { "gpt-image-1", "flux", "seedream", "gemini" })
            services.AddHttpClient(id, c => c.Timeout = Timeout.InfiniteTimeSpan)
                .AddResilienceHandler(id, builder => Pipeline(builder, generation));

        services.AddSingleton<IImageProvider>(sp => new ImagesApiProvider("gpt-image-1", "GPT Image 1 (Azure OpenAI / OpenAI)",
            generation.GptImage, sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<ILogger<ImagesApiProvider>>()));
        services.AddSingleton<IImageProvider>(sp => new ImagesApiProvider("flux", "FLUX.1 Kontext (Azure AI)",
            generation.Flux, sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<ILogger<ImagesApiProvider>>()));
        services.AddSingleton<IImageProvider>(sp => new ArkProvider(generation.Seedream,
            sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<ILogger<ArkProvider>>()));
        services.AddSingleton<IImageProvider>(sp => new GeminiProvider(generation.Gemini,
            sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<ILogger<GeminiProvider>>()));
        services.AddSingleton<IImageProvider, LocalProvider>();
        services.AddSingleton<ImageProviders>();
        return services;
    }

    static void Pipeline(ResiliencePipelineBuilder<HttpResponseMessage> builder, GenerationSettings settings)
    {
        var attempt = TimeSpan.FromSeconds(settings.TimeoutSeconds);
        if (settings.MaxAttempts > 1)
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                // 429, 5xx, 408, connection failures and attempt timeouts; a refusal (400, 422) is an answer.
                MaxRetryAttempts = settings.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(settings.RetryDelayMs),
                ShouldRetryAfterHeader = false,
                DelayGenerator = args => new ValueTask<TimeSpan?>(RetryAfter(args.Outcome.Result, attempt)),
            });
        builder.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
        {
            FailureRatio = 0.5,
            MinimumThroughput = 6,
            SamplingDuration = TimeSpan.FromSeconds(Math.Max(60, 2 * settings.TimeoutSeconds)),
            BreakDuration = TimeSpan.FromSeconds(30),
        });
        builder.AddTimeout(attempt);
    }

    /// <summary>The provider's Retry-After (seconds or a date), at most one attempt's timeout; null: the backoff decides.</summary>
    static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan cap)
    {
        if (response is not { StatusCode: HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable } ||
            response.Headers.RetryAfter is not { } retryAfter) return null;
        var delay = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return delay is { } d ? TimeSpan.FromTicks(Math.Clamp(d.Ticks, 0, cap.Ticks)) : null;
    }
}
