using System.Net;
using System.Text;
using System.Text.Json;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace NanoBanana.Infrastructure.Generation;

/// <summary>
/// One provider call over HTTP and its outcome in the service's terms: a refusal (400/422, never
/// retried) carries the provider's own reason; 429, 5xx and timeouts were already retried by the
/// client's resilience pipeline (<see cref="GenerationSetup"/>), so what arrives here is final.
/// The error body is logged (shortened, the key masked), never the request.
/// </summary>
public static class ProviderHttp
{
    public static async Task<JsonDocument> Send(HttpClient client, HttpRequestMessage request, string provider, string? key,
        ILogger log, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        catch (TimeoutRejectedException e)
        {
            log.LogWarning("Provider {Provider} did not answer in time", provider);
            throw new GenerationFailedException(GenerationFailure.Timeout, $"The {provider} provider did not answer in time.", e);
        }
        catch (BrokenCircuitException e)
        {
            throw new GenerationFailedException(GenerationFailure.Unavailable,
                $"The {provider} provider failed repeatedly and is paused for a short while.", e);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            log.LogWarning("Provider {Provider} could not be reached: {Reason}", provider, e.GetType().Name);
            throw new GenerationFailedException(GenerationFailure.Unavailable, $"The {provider} provider could not be reached.", e);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(ct);
            if (response.IsSuccessStatusCode)
            {
                try { return JsonDocument.Parse(body); }
                catch (JsonException e)
                {
                    throw new GenerationFailedException(GenerationFailure.InvalidOutput, $"The {provider} provider answered something that is not JSON.", e);
                }
            }

            var status = (int)response.StatusCode;
            log.LogWarning("Provider {Provider} answered {Status}: {Body}", provider, status, Shorten(body, key));
            var reason = ReasonOf(body);
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity)
                throw new GenerationFailedException(GenerationFailure.Refused, reason ?? $"The {provider} provider refused the request.");
            if (response.StatusCode is HttpStatusCode.GatewayTimeout or HttpStatusCode.RequestTimeout)
                throw new GenerationFailedException(GenerationFailure.Timeout, $"The {provider} provider did not answer in time.");
            throw new GenerationFailedException(GenerationFailure.Unavailable, $"The {provider} provider is unavailable (HTTP {status}).");
        }
    }

    /// <summary>The provider's own reason: <c>error.message</c> (OpenAI, Azure, Ark, Gemini) or a top-level <c>message</c>.</summary>
    static string? ReasonOf(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            if (root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String) return error.GetString();
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                    return m.GetString();
            }
            return root.TryGetProperty("message", out var msg) && msg.ValueKind == JsonValueKind.String ? msg.GetString() : null;
        }
        catch (JsonException) { return null; }
    }

    static string Shorten(byte[] body, string? key)
    {
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 2048));
        return string.IsNullOrEmpty(key) ? text : text.Replace(key, "***", StringComparison.Ordinal);
    }

    /// <summary>Base64 (or a data URL) from a provider's answer, or an invalid-output failure.</summary>
    public static byte[] DecodeImage(string? base64, string provider)
    {
        if (string.IsNullOrEmpty(base64))
            throw new GenerationFailedException(GenerationFailure.InvalidOutput, $"The {provider} provider answered an empty picture.");
        var comma = base64.StartsWith("data:", StringComparison.Ordinal) ? base64.IndexOf(',') : -1;
        try { return Convert.FromBase64String(comma >= 0 ? base64[(comma + 1)..] : base64); }
        catch (FormatException e)
        {
            throw new GenerationFailedException(GenerationFailure.InvalidOutput, $"The {provider} provider answered a picture that is not base64.", e);
        }
    }

    public static string Extension(string mime) => mime switch
    {
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => "png",
    };
}
