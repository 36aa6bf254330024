using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace NanoBanana.Infrastructure.Generation;

/// <summary>
/// The OpenAI Images API: <c>images/generations</c> (JSON) and <c>images/edits</c> (multipart
/// <c>image[]</c>, <c>mask</c>, <c>prompt</c>, <c>n</c>, <c>size</c>), answering <c>data[].b64_json</c>.
/// gpt-image-1 on Azure OpenAI or on OpenAI itself, and FLUX.1 Kontext on Azure AI, speak it.
/// A typed client rather than the OpenAI SDK: the SDK's edit sends one picture (no <c>image[]</c> list).
/// </summary>
public sealed class ImagesApiProvider(string id, string name, ImagesApiSettings settings, IHttpClientFactory clients,
    ILogger<ImagesApiProvider> log) : IImageProvider
{
    public string Id => id;
    public string Name => name;
    public string DefaultModel => settings.Model;
    public bool Configured => settings.Configured;
    public bool Mock => settings.Mock;

    public async Task<ProviderAnswer> Run(ImageRequest request, CancellationToken ct)
    {
        using var message = request.IsEdit ? Edit(request) : Generate(request);
        if (settings.AzureKeyHeader) message.Headers.Add("api-key", settings.ApiKey);
        else message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.ApiKey);

        using var doc = await ProviderHttp.Send(clients.CreateClient(id), message, id, settings.ApiKey, log, ct);
        var images = new List<byte[]>();
        if (doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == System.Text.Json.JsonValueKind.Array)
            foreach (var item in data.EnumerateArray())
                images.Add(ProviderHttp.DecodeImage(item.TryGetProperty("b64_json", out var b) ? b.GetString() : null, id));
        return new ProviderAnswer(images, null, settings.Model);
    }

    HttpRequestMessage Generate(ImageRequest request)
    {
        var body = new JsonObject { ["model"] = settings.Model, ["prompt"] = request.Prompt, ["n"] = request.N };
        if (request.Size is not null) body["size"] = request.Size;
        if (request.Quality is not null) body["quality"] = request.Quality;
        if (request.OutputFormat is not null) body["output_format"] = request.OutputFormat;
        return new HttpRequestMessage(HttpMethod.Post, settings.GenerationsUrl) { Content = JsonContent.Create(body) };
    }

    HttpRequestMessage Edit(ImageRequest request)
    {
        var form = new MultipartFormDataContent
        {
            { new StringContent(settings.Model), "model" },
            { new StringContent(request.Prompt), "prompt" },
            { new StringContent(request.N.ToString(System.Globalization.CultureInfo.InvariantCulture)), "n" },
        };
        if (request.Size is not null) form.Add(new StringContent(request.Size), "size");
        if (request.Quality is not null) form.Add(new StringContent(request.Quality), "quality");
        if (request.OutputFormat is not null) form.Add(new StringContent(request.OutputFormat), "output_format");
        for (var i = 0; i < request.Images.Count; i++)
            form.Add(File(request.Images[i]), "image[]", $"image{i}.{ProviderHttp.Extension(request.Images[i].Mime)}");
        if (request.Mask is { } mask) form.Add(File(mask), "mask", $"mask.{ProviderHttp.Extension(mask.Mime)}");
        return new HttpRequestMessage(HttpMethod.Post, settings.EditsUrl) { Content = form };
    }

    static ByteArrayContent File(InputPicture picture)
    {
        var content = new ByteArrayContent(picture.Bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(picture.Mime);
        return content;
    }
}
