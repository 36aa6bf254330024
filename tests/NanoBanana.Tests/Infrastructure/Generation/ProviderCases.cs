using System.Text.Json.Nodes;

namespace NanoBanana.Tests.Infrastructure.Generation;

/// <summary>
/// How each provider is configured against a fake at <c>baseUrl</c>, and its real answer shapes:
/// a success carrying one picture, a content-policy refusal, a server error and a rate-limit error.
/// </summary>
public sealed record ProviderCase(string Id, string Key, Func<string, Dictionary<string, string?>> Env,
    Func<byte[], string> Success, string Refusal, int RefusalStatus, string RefusalReason, string ServerError, string RateLimited)
{
    public override string ToString() => Id;

    public const string AzureKey = "azure-key-0123456789abcdef";
    public const string FluxKey = "flux-key-0123456789abcdef";
    public const string ArkKey = "ark-key-0123456789abcdef";
    public const string GeminiKey = "AIzaSy-gemini-key-0123456789";

    static string ImagesApiSuccess(byte[] png) => new JsonObject
    {
        ["created"] = 1713833628,
        ["data"] = new JsonArray(new JsonObject { ["b64_json"] = Convert.ToBase64String(png) }),
        ["usage"] = new JsonObject { ["total_tokens"] = 100, ["input_tokens"] = 50, ["output_tokens"] = 50 },
    }.ToJsonString();

    const string AzureRefusal = """
        {"error":{"code":"content_policy_violation","inner_error":{"code":"ResponsibleAIPolicyViolation","content_filter_results":{"violence":{"filtered":true,"severity":"high"}}},"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error"}}
        """;
    const string OpenAiServerError = """{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}""";
    const string OpenAiRateLimited = """{"error":{"message":"Rate limit reached for gpt-image-1. Please try again in 1s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}""";

    public static readonly ProviderCase GptImageAzure = new("gpt-image-1", AzureKey,
        url => new() { ["AZURE_OPENAI_ENDPOINT"] = url + "/", ["AZURE_OPENAI_API_KEY"] = AzureKey },
        ImagesApiSuccess, AzureRefusal, 400, "Your request was rejected as a result of our safety system.", OpenAiServerError, OpenAiRateLimited);

    public static readonly ProviderCase Flux = new("flux", FluxKey,
        url => new() { ["AZURE_FLUX_ENDPOINT"] = url, ["AZURE_FLUX_API_KEY"] = FluxKey },
        ImagesApiSuccess, AzureRefusal, 400, "Your request was rejected as a result of our safety system.", OpenAiServerError, OpenAiRateLimited);

    public static readonly ProviderCase Seedream = new("seedream", ArkKey,
        url => new() { ["SEEDREAM_BASE_URL"] = url + "/api/v3/images/generations", ["SEEDREAM_API_KEY"] = ArkKey },
        png => new JsonObject
        {
            ["model"] = "doubao-seedream-4-0-250828",
            ["created"] = 1757323224,
            ["data"] = new JsonArray(new JsonObject { ["b64_json"] = Convert.ToBase64String(png), ["size"] = "64x48" }),
            ["usage"] = new JsonObject { ["generated_images"] = 1, ["output_tokens"] = 4096, ["total_tokens"] = 4096 },
        }.ToJsonString(),
        """{"error":{"code":"InputTextSensitiveContentDetected","message":"The request failed because the input text may contain sensitive information.","param":"","type":"BadRequest"}}""",
        400, "The request failed because the input text may contain sensitive information.",
        """{"error":{"code":"InternalServiceError","message":"The service encountered an unexpected internal error.","param":"","type":"InternalServerError"}}""",
        """{"error":{"code":"RateLimitExceeded.EndpointRPMExceeded","message":"The request has exceeded the rate limit.","param":"","type":"TooManyRequests"}}""");

    public static readonly ProviderCase Gemini = new("gemini", GeminiKey,
        url => new() { ["GEMINI_BASE_URL"] = url + "/v1beta", ["GEMINI_API_KEY"] = GeminiKey },
        png => new JsonObject
        {
            ["candidates"] = new JsonArray(new JsonObject
            {
                ["content"] = new JsonObject
                {
                    ["parts"] = new JsonArray(
                        new JsonObject { ["text"] = "Here is your picture." },
                        new JsonObject { ["inlineData"] = new JsonObject { ["mimeType"] = "image/png", ["data"] = Convert.ToBase64String(png) } }),
                    ["role"] = "model",
                },
                ["finishReason"] = "STOP",
                ["index"] = 0,
            }),
            ["usageMetadata"] = new JsonObject { ["promptTokenCount"] = 10, ["candidatesTokenCount"] = 1290, ["totalTokenCount"] = 1300 },
            ["modelVersion"] = "gemini-2.5-flash-image",
        }.ToJsonString(),
        // Gemini refuses with a 200 whose prompt feedback names the block reason, and no candidate.
        """{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":10,"totalTokenCount":10},"modelVersion":"gemini-2.5-flash-image"}""",
        200, "PROHIBITED_CONTENT",
        """{"error":{"code":500,"message":"An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting","status":"INTERNAL"}}""",
        """{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}""");

    public static TheoryData<string> Ids => new() { "gpt-image-1", "flux", "seedream", "gemini" };

    public static ProviderCase Of(string id) => id switch
    {
        "gpt-image-1" => GptImageAzure,
        "flux" => Flux,
        "seedream" => Seedream,
        _ => Gemini,
    };
}
