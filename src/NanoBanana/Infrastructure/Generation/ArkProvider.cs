using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NanoBanana.Infrastructure.Generation;

/// <summary>
/// Volcengine Ark's Seedream 4.0: one JSON call, input pictures as data URLs, pictures back as
/// <c>data[].b64_json</c>; several pictures come from <c>sequential_image_generation: auto</c>.
/// Ark has no mask: a mask goes along as one more reference picture.
/// </summary>
public sealed class ArkProvider(ArkSettings settings, IHttpClientFactory clients, ILogger<ArkProvider> log) : IImageProvider
{
    public string Id => "seedream";
    public string Name => "Seedream 4.0 (Volcengine Ark)";
    public string DefaultModel => settings.Model;
    public bool Configured => settings.ApiKey is not null;
    public bool Mock => settings.Mock;

    public async Task<ProviderAnswer> Run(ImageRequest request, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["model"] = settings.Model,
            ["prompt"] = request.Prompt,
            ["response_format"] = "b64_json",
            ["watermark"] = false,
            ["stream"] = false,
            ["sequential_image_generation"] = request.N > 1 ? "auto" : "disabled",
        };
        if (request.N > 1) body["sequential_image_generation_options"] = new JsonObject { ["max_images"] = request.N };
        if (request.Size is not null) body["size"] = request.Size;
        var pictures = request.Mask is { } mask ? [.. request.Images, mask] : request.Images;
        if (pictures.Count > 0)
            body["image"] = new JsonArray([.. pictures.Select(p => (JsonNode)$"data:{p.Mime};base64,{Convert.ToBase64String(p.Bytes)}")]);

        using var message = new HttpRequestMessage(HttpMethod.Post, settings.Url) { Content = JsonContent.Create(body) };
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.ApiKey);
        using var doc = await ProviderHttp.Send(clients.CreateClient(Id), message, Id, settings.ApiKey, log, ct);

        var images = new List<byte[]>();
        string? firstError = null;
        if (doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
            foreach (var item in data.EnumerateArray())
            {
                // A picture Ark could not make is an item with an error in place of its bytes.
                if (item.TryGetProperty("b64_json", out var b)) images.Add(ProviderHttp.DecodeImage(b.GetString(), Id));
                else if (item.TryGetProperty("error", out var e) && e.TryGetProperty("message", out var m)) firstError ??= m.GetString();
            }
        if (images.Count == 0 && firstError is not null)
            throw new GenerationFailedException(GenerationFailure.Refused, firstError);
        var model = doc.RootElement.TryGetProperty("model", out var md) && md.ValueKind == JsonValueKind.String ? md.GetString()! : settings.Model;
        return new ProviderAnswer(images, null, model);
    }
}
