using System.Globalization;

namespace NanoBanana.Infrastructure.Generation;

/// <summary>The image providers' endpoints and keys (the original server's environment names) and the limits of a call.</summary>
public sealed class GenerationSettings
{
    /// <summary>One provider call's attempt ends after this long (fractions allowed, for tests).</summary>
    public double TimeoutSeconds { get; init; } = 120;
    public int MaxAttempts { get; init; } = 3;
    /// <summary>First backoff between attempts (doubled per attempt) when the provider names no Retry-After.</summary>
    public int RetryDelayMs { get; init; } = 1000;
    public long MaxBodyBytes { get; init; } = 32 * 1024 * 1024;
    public int MaxConcurrentPerUser { get; init; } = 2;
    /// <summary>Generations a user may start per UTC day; 0 = no limit.</summary>
    public int DailyLimit { get; init; } = 100;

    public ImagesApiSettings GptImage { get; init; } = new();
    public ImagesApiSettings Flux { get; init; } = new();
    public ArkSettings Seedream { get; init; } = new();
    public GeminiSettings Gemini { get; init; } = new();

    public static GenerationSettings From(Func<string, string, string?> get)
    {
        int Int(string envName, string key, int fallback) => int.TryParse(get(envName, key), out var v) ? v : fallback;
        bool Mock(string envName) => get(envName, $"Generation:{envName}") is "1" or "true" or "True";
        var azureEndpoint = get("AZURE_OPENAI_ENDPOINT", "Generation:Azure:Endpoint");
        var azureKey = get("AZURE_OPENAI_API_KEY", "Generation:Azure:ApiKey");
        var openAiKey = get("OPENAI_API_KEY", "Generation:OpenAI:ApiKey");
        var defaults = new GenerationSettings();
        return new()
        {
            TimeoutSeconds = double.TryParse(get("GENERATION_TIMEOUT_SECONDS", "Generation:TimeoutSeconds"), NumberStyles.Float,
                CultureInfo.InvariantCulture, out var t) && t > 0 ? t : defaults.TimeoutSeconds,
            MaxAttempts = Math.Max(1, Int("GENERATION_MAX_ATTEMPTS", "Generation:MaxAttempts", defaults.MaxAttempts)),
            RetryDelayMs = Math.Max(0, Int("GENERATION_RETRY_DELAY_MS", "Generation:RetryDelayMs", defaults.RetryDelayMs)),
            MaxBodyBytes = long.TryParse(get("GENERATION_MAX_BODY_BYTES", "Generation:MaxBodyBytes"), out var b) && b > 0 ? b : defaults.MaxBodyBytes,
            MaxConcurrentPerUser = Math.Max(1, Int("GENERATION_MAX_CONCURRENT_PER_USER", "Generation:MaxConcurrentPerUser", defaults.MaxConcurrentPerUser)),
            DailyLimit = Math.Max(0, Int("GENERATION_DAILY_LIMIT", "Generation:DailyLimit", defaults.DailyLimit)),
            GptImage = azureEndpoint is not null && azureKey is not null
                ? ImagesApiSettings.Azure(azureEndpoint, azureKey,
                    get("AZURE_OPENAI_DEPLOYMENT_NAME", "Generation:Azure:Deployment") ?? "gpt-image-1",
                    get("AZURE_OPENAI_API_VERSION", "Generation:Azure:ApiVersion") ?? "2025-03-01-preview",
                    get("AZURE_OPENAI_API_VERSION_EDITS", "Generation:Azure:ApiVersionEdits") ?? "2025-04-01-preview",
                    Mock("MOCK_GPT_IMAGE_1"))
                : openAiKey is not null
                    ? ImagesApiSettings.OpenAi(get("OPENAI_BASE_URL", "Generation:OpenAI:BaseUrl") ?? "https://api.openai.com/v1",
                        openAiKey, "gpt-image-1", Mock("MOCK_GPT_IMAGE_1"))
                    : new ImagesApiSettings { Model = "gpt-image-1", Mock = Mock("MOCK_GPT_IMAGE_1") },
            // As the original: FLUX falls back to the Azure OpenAI endpoint and key.
            Flux = (get("AZURE_FLUX_ENDPOINT", "Generation:Flux:Endpoint") ?? azureEndpoint, get("AZURE_FLUX_API_KEY", "Generation:Flux:ApiKey") ?? azureKey) is ({ } fluxEndpoint, { } fluxKey)
                ? ImagesApiSettings.Azure(fluxEndpoint, fluxKey,
                    get("AZURE_FLUX_DEPLOYMENT", "Generation:Flux:Deployment") ?? "FLUX.1-Kontext-pro",
                    get("AZURE_FLUX_API_VERSION", "Generation:Flux:ApiVersion") ?? "2025-04-01-preview",
                    get("AZURE_FLUX_API_VERSION", "Generation:Flux:ApiVersion") ?? "2025-04-01-preview",
                    Mock("MOCK_FLUX"))
                : new ImagesApiSettings { Model = "FLUX.1-Kontext-pro", Mock = Mock("MOCK_FLUX") },
            Seedream = new ArkSettings
            {
                Url = get("SEEDREAM_BASE_URL", "Generation:Seedream:BaseUrl") ?? "https://ark.cn-beijing.volces.com/api/v3/images/generations",
                ApiKey = get("SEEDREAM_API_KEY", "Generation:Seedream:ApiKey") ?? get("SEEDREAM4_API_KEY", "Generation:Seedream:ApiKey4")
                    ?? get("VOLCENGINE_API_KEY", "Generation:Seedream:VolcengineApiKey"),
                Model = get("SEEDREAM_MODEL_ID", "Generation:Seedream:Model") ?? "doubao-seedream-4-0-250828",
                Mock = Mock("MOCK_SEEDREAM"),
            },
            Gemini = new GeminiSettings
            {
                BaseUrl = (get("GEMINI_BASE_URL", "Generation:Gemini:BaseUrl") ?? "https://generativelanguage.googleapis.com/v1beta").TrimEnd('/'),
                ApiKey = get("GEMINI_API_KEY", "Generation:Gemini:ApiKey"),
                Model = get("GEMINI_MODEL", "Generation:Gemini:Model") ?? "gemini-2.5-flash-image",
                Mock = Mock("MOCK_GEMINI"),
            },
        };
    }
}

/// <summary>
/// The OpenAI Images API shape (gpt-image-1 on Azure OpenAI or OpenAI, FLUX.1 Kontext on Azure AI):
/// the two URLs to call, the key and the header it goes in, and the model named in the body.
/// </summary>
public sealed class ImagesApiSettings
{
    public string? GenerationsUrl { get; init; }
    public string? EditsUrl { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>Azure: <c>api-key: KEY</c>; OpenAI: <c>Authorization: Bearer KEY</c>.</summary>
    public bool AzureKeyHeader { get; init; }
    public string Model { get; init; } = "";
    public bool Mock { get; init; }
    public bool Configured => ApiKey is not null && GenerationsUrl is not null;

    public static ImagesApiSettings Azure(string endpoint, string key, string deployment, string version, string editsVersion, bool mock)
    {
        var root = endpoint.TrimEnd('/') + "/openai/deployments/" + Uri.EscapeDataString(deployment);
        return new()
        {
            GenerationsUrl = $"{root}/images/generations?api-version={Uri.EscapeDataString(version)}",
            EditsUrl = $"{root}/images/edits?api-version={Uri.EscapeDataString(editsVersion)}",
            ApiKey = key, AzureKeyHeader = true, Model = deployment, Mock = mock,
        };
    }

    public static ImagesApiSettings OpenAi(string baseUrl, string key, string model, bool mock) => new()
    {
        GenerationsUrl = baseUrl.TrimEnd('/') + "/images/generations",
        EditsUrl = baseUrl.TrimEnd('/') + "/images/edits",
        ApiKey = key, AzureKeyHeader = false, Model = model, Mock = mock,
    };
}

public sealed class ArkSettings
{
    public string Url { get; init; } = "https://ark.cn-beijing.volces.com/api/v3/images/generations";
    public string? ApiKey { get; init; }
    public string Model { get; init; } = "doubao-seedream-4-0-250828";
    public bool Mock { get; init; }
}

public sealed class GeminiSettings
{
    public string BaseUrl { get; init; } = "https://generativelanguage.googleapis.com/v1beta";
    public string? ApiKey { get; init; }
    public string Model { get; init; } = "gemini-2.5-flash-image";
    public bool Mock { get; init; }
}
