using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NanoBanana.Infrastructure.Generation;

/// <summary>
/// Gemini 2.5 Flash Image through <c>generateContent</c>: the prompt as a <c>text</c> part and each
/// picture as an <c>inlineData</c> part; pictures come back as <c>inlineData</c> parts, words as
/// <c>text</c>. One call makes one picture, so n pictures are n calls. A blocked prompt or an answer
/// of words only is a refusal, with the model's words (or the block reason) as its reason.
/// </summary>
public sealed class GeminiProvider(GeminiSettings settings, IHttpClientFactory clients, ILogger<GeminiProvider> log) : IImageProvider
{
    public string Id => "gemini";
    public string Name => "Gemini 2.5 Flash Image";
    public string DefaultModel => settings.Model;
    public bool Configured => settings.ApiKey is not null;
    public bool Mock => settings.Mock;

    public async Task<ProviderAnswer> Run(ImageRequest request, CancellationToken ct)
    {
        var images = new List<byte[]>();
        var text = new StringBuilder();
        for (var i = 0; i < request.N; i++)
        {
            var (pictures, words) = await Once(request, i, ct);
            images.AddRange(pictures);
            if (words.Length > 0 && text.Length == 0) text.Append(words);
        }
        return new ProviderAnswer(images, text.Length > 0 ? text.ToString() : null, settings.Model);
    }

    async Task<(List<byte[]> Images, string Text)> Once(ImageRequest request, int index, CancellationToken ct)
    {
        var parts = new JsonArray { new JsonObject { ["text"] = request.Prompt } };
        var pictures = request.Mask is { } mask ? [.. request.Images, mask] : request.Images;
        foreach (var p in pictures)
            parts.Add(new JsonObject { ["inlineData"] = new JsonObject { ["mimeType"] = p.Mime, ["data"] = Convert.ToBase64String(p.Bytes) } });
        var config = new JsonObject { ["responseModalities"] = new JsonArray("TEXT", "IMAGE") };
        if (request.Seed is { } seed) config["seed"] = seed + index;
        var body = new JsonObject
        {
            ["contents"] = new JsonArray { new JsonObject { ["role"] = "user", ["parts"] = parts } },
            ["generationConfig"] = config,
        };

        var url = $"{settings.BaseUrl}/models/{Uri.EscapeDataString(settings.Model)}:generateContent";
        using var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(body) };
        message.Headers.Add("x-goog-api-key", settings.ApiKey);
        using var doc = await ProviderHttp.Send(clients.CreateClient(Id), message, Id, settings.ApiKey, log, ct);

        var root = doc.RootElement;
        var images = new List<byte[]>();
        var text = new StringBuilder();
        string? finish = null;
        if (root.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array)
            foreach (var candidate in candidates.EnumerateArray())
            {
                if (candidate.TryGetProperty("finishReason", out var f)) finish ??= f.GetString();
                if (!candidate.TryGetProperty("content", out var content) || !content.TryGetProperty("parts", out var answer)) continue;
                foreach (var part in answer.EnumerateArray())
                {
                    if (part.TryGetProperty("inlineData", out var data) || part.TryGetProperty("inline_data", out data))
                        images.Add(ProviderHttp.DecodeImage(data.TryGetProperty("data", out var d) ? d.GetString() : null, Id));
                    else if (part.TryGetProperty("text", out var t)) text.Append(t.GetString());
                }
            }
        if (images.Count == 0)
        {
            var blocked = root.TryGetProperty("promptFeedback", out var feedback) && feedback.TryGetProperty("blockReason", out var reason)
                ? reason.GetString() : null;
            var why = text.Length > 0 ? text.ToString()
                : blocked is not null ? $"Gemini blocked the prompt ({blocked})."
                : finish is not null and not "STOP" ? $"Gemini made no picture ({finish})."
                : "Gemini answered without a picture.";
            throw new GenerationFailedException(GenerationFailure.Refused, why);
        }
        return (images, text.ToString());
    }
}
