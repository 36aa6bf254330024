using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using NanoBanana.Infrastructure.Generation;

namespace NanoBanana.Tests.Infrastructure.Generation;

/// <summary>What each provider adapter sends: URL, key header, model or deployment, prompt, and the input pictures as its API expects them.</summary>
public sealed class ProviderWireTests : IAsyncLifetime
{
    FakeProvider _fake = null!;
    public async Task InitializeAsync() => _fake = await FakeProvider.Start();
    public async Task DisposeAsync() => await _fake.DisposeAsync();

    static readonly byte[] Original = ProviderHarness.Png(40, 30, 10, 200, 10);
    static readonly byte[] Reference = ProviderHarness.Png(20, 20, 10, 10, 200);
    static readonly byte[] Mask = ProviderHarness.Png(40, 30, 0, 0, 0);

    static ImageRequest EditRequest(int n = 1) => new("make it night", [new(Original, "image/png"), new(Reference, "image/png")],
        new InputPicture(Mask, "image/png"), "1024x1024", n);

    ReceivedRequest Only() => Assert.Single(_fake.Requests);
    static JsonObject JsonOf(ReceivedRequest r) => JsonNode.Parse(r.Body)!.AsObject();

    [Fact]
    public async Task Azure_gpt_image_1_generate_posts_json_to_the_deployment_with_api_key()
    {
        var c = ProviderCase.GptImageAzure;
        _fake.Answer(FakeProvider.Json(200, c.Success(ProviderHarness.Png(16, 16))));
        await using var h = new ProviderHarness(c.Env(_fake.BaseUrl));

        await h.Run("gpt-image-1", new ImageRequest("a lighthouse", [], Size: "1536x1024", N: 2, Quality: "high", OutputFormat: "png"));

        var r = Only();
        Assert.Equal("POST", r.Method);
        Assert.Equal("/openai/deployments/gpt-image-1/images/generations", r.Path);
        Assert.Equal("?api-version=2025-03-01-preview", r.Query);
        Assert.Equal(ProviderCase.AzureKey, r.Header("api-key"));
        Assert.Equal("", r.Header("Authorization"));
        var body = JsonOf(r);
        Assert.Equal("a lighthouse", (string?)body["prompt"]);
        Assert.Equal(2, (int?)body["n"]);
        Assert.Equal("1536x1024", (string?)body["size"]);
        Assert.Equal("high", (string?)body["quality"]);
        Assert.Equal("png", (string?)body["output_format"]);
    }

    [Fact]
    public async Task Azure_gpt_image_1_edit_sends_multipart_image_list_and_mask_to_the_edits_version()
    {
        var c = ProviderCase.GptImageAzure;
        _fake.Answer(FakeProvider.Json(200, c.Success(ProviderHarness.Png(16, 16))));
        await using var h = new ProviderHarness(c.Env(_fake.BaseUrl));

        await h.Run("gpt-image-1", EditRequest(n: 2));

        var r = Only();
        Assert.Equal("/openai/deployments/gpt-image-1/images/edits", r.Path);
        Assert.Equal("?api-version=2025-04-01-preview", r.Query);
        Assert.Equal(ProviderCase.AzureKey, r.Header("api-key"));
        var form = await Multipart(r);
        Assert.Equal([Original, Reference], form.Files["image[]"]);
        Assert.Equal(Mask, Assert.Single(form.Files["mask"]));
        Assert.Equal("make it night", form.Fields["prompt"]);
        Assert.Equal("2", form.Fields["n"]);
        Assert.Equal("1024x1024", form.Fields["size"]);
        Assert.Equal("image/png", form.FileTypes["image[]"][0]);
    }

    [Fact]
    public async Task With_only_OPENAI_API_KEY_gpt_image_1_calls_openais_images_api_with_a_bearer_key()
    {
        _fake.Answer(FakeProvider.Json(200, ProviderCase.GptImageAzure.Success(ProviderHarness.Png(16, 16))));
        await using var h = new ProviderHarness(new Dictionary<string, string?>
        {
            ["OPENAI_API_KEY"] = "sk-test-openai", ["OPENAI_BASE_URL"] = _fake.BaseUrl + "/v1",
        });

        await h.Run("gpt-image-1", new ImageRequest("a lighthouse", []));
        await h.Run("gpt-image-1", EditRequest());

        var requests = _fake.Requests.ToArray();
        Assert.Equal(["/v1/images/generations", "/v1/images/edits"], requests.Select(r => r.Path));
        Assert.All(requests, r => Assert.Equal("Bearer sk-test-openai", r.Header("Authorization")));
        Assert.Equal("gpt-image-1", (string?)JsonOf(requests[0])["model"]);
        Assert.Equal("gpt-image-1", (await Multipart(requests[1])).Fields["model"]);
    }

    [Fact]
    public async Task Flux_calls_its_azure_deployment_and_falls_back_to_the_azure_openai_endpoint_and_key()
    {
        var c = ProviderCase.Flux;
        _fake.Answer(FakeProvider.Json(200, c.Success(ProviderHarness.Png(16, 16))));
        await using (var h = new ProviderHarness(c.Env(_fake.BaseUrl)))
            await h.Run("flux", EditRequest());
        await using (var h = new ProviderHarness(new Dictionary<string, string?>
                     {
                         ["AZURE_OPENAI_ENDPOINT"] = _fake.BaseUrl, ["AZURE_OPENAI_API_KEY"] = ProviderCase.AzureKey,
                         ["AZURE_FLUX_DEPLOYMENT"] = "flux-kontext-dev",
                     }))
            await h.Run("flux", new ImageRequest("a lighthouse", []));

        var requests = _fake.Requests.ToArray();
        Assert.Equal("/openai/deployments/FLUX.1-Kontext-pro/images/edits", requests[0].Path);
        Assert.Equal("?api-version=2025-04-01-preview", requests[0].Query);
        Assert.Equal(ProviderCase.FluxKey, requests[0].Header("api-key"));
        var form = await Multipart(requests[0]);
        Assert.Equal("FLUX.1-Kontext-pro", form.Fields["model"]);
        Assert.Equal([Original, Reference], form.Files["image[]"]);
        Assert.Equal("/openai/deployments/flux-kontext-dev/images/generations", requests[1].Path);
        Assert.Equal(ProviderCase.AzureKey, requests[1].Header("api-key"));
    }

    [Fact]
    public async Task Seedream_posts_json_with_data_urls_b64_json_and_no_watermark_with_a_bearer_key()
    {
        var c = ProviderCase.Seedream;
        _fake.Answer(FakeProvider.Json(200, c.Success(ProviderHarness.Png(16, 16))));
        await using var h = new ProviderHarness(c.Env(_fake.BaseUrl));

        await h.Run("seedream", EditRequest(n: 3));

        var r = Only();
        Assert.Equal("/api/v3/images/generations", r.Path);
        Assert.Equal($"Bearer {ProviderCase.ArkKey}", r.Header("Authorization"));
        var body = JsonOf(r);
        Assert.Equal("doubao-seedream-4-0-250828", (string?)body["model"]);
        Assert.Equal("make it night", (string?)body["prompt"]);
        Assert.Equal("b64_json", (string?)body["response_format"]);
        Assert.False((bool)body["watermark"]!);
        Assert.Equal("1024x1024", (string?)body["size"]);
        Assert.Equal("auto", (string?)body["sequential_image_generation"]);
        Assert.Equal(3, (int?)body["sequential_image_generation_options"]!["max_images"]);
        var images = body["image"]!.AsArray().Select(i => (string)i!).ToArray();
        Assert.Equal($"data:image/png;base64,{Convert.ToBase64String(Original)}", images[0]);
        Assert.Equal($"data:image/png;base64,{Convert.ToBase64String(Reference)}", images[1]);
        Assert.Equal(3, images.Length); // the mask goes along as one more reference
    }

    [Fact]
    public async Task Seedream_generate_sends_no_images_and_one_picture_disabled_sequence()
    {
        _fake.Answer(FakeProvider.Json(200, ProviderCase.Seedream.Success(ProviderHarness.Png(16, 16))));
        await using var h = new ProviderHarness(new Dictionary<string, string?>
        {
            ["SEEDREAM_BASE_URL"] = _fake.BaseUrl + "/ark", ["VOLCENGINE_API_KEY"] = "volc-key", ["SEEDREAM_MODEL_ID"] = "seedream-custom",
        });

        await h.Run("seedream", new ImageRequest("a lighthouse", []));

        var body = JsonOf(Only());
        Assert.Equal("Bearer volc-key", Only().Header("Authorization"));
        Assert.Equal("seedream-custom", (string?)body["model"]);
        Assert.Null(body["image"]);
        Assert.Equal("disabled", (string?)body["sequential_image_generation"]);
    }

    [Fact]
    public async Task Gemini_sends_text_and_inlineData_parts_with_x_goog_api_key_and_returns_its_words()
    {
        var c = ProviderCase.Gemini;
        _fake.Answer(FakeProvider.Json(200, c.Success(ProviderHarness.Png(16, 16))));
        await using var h = new ProviderHarness(c.Env(_fake.BaseUrl));

        var result = await h.Run("gemini", EditRequest() with { Seed = 42 });

        var r = Only();
        Assert.Equal("/v1beta/models/gemini-2.5-flash-image:generateContent", r.Path);
        Assert.Equal(ProviderCase.GeminiKey, r.Header("x-goog-api-key"));
        Assert.DoesNotContain(ProviderCase.GeminiKey, r.Query);
        var body = JsonOf(r);
        var parts = body["contents"]![0]!["parts"]!.AsArray();
        Assert.Equal("make it night", (string?)parts[0]!["text"]);
        Assert.Equal("image/png", (string?)parts[1]!["inlineData"]!["mimeType"]);
        Assert.Equal(Convert.ToBase64String(Original), (string?)parts[1]!["inlineData"]!["data"]);
        Assert.Equal(Convert.ToBase64String(Reference), (string?)parts[2]!["inlineData"]!["data"]);
        Assert.Equal(42, (long?)body["generationConfig"]!["seed"]);
        Assert.Contains("IMAGE", body["generationConfig"]!["responseModalities"]!.AsArray().Select(m => (string?)m));
        Assert.Equal("Here is your picture.", result.Text);
        Assert.Equal("gemini-2.5-flash-image", result.Model);
    }

    [Fact]
    public async Task Gemini_answering_words_only_is_a_refusal_with_those_words()
    {
        _fake.Answer(FakeProvider.Json(200, """
            {"candidates":[{"content":{"parts":[{"text":"I can't make pictures of real people."}],"role":"model"},"finishReason":"STOP","index":0}]}
            """));
        await using var h = new ProviderHarness(ProviderCase.Gemini.Env(_fake.BaseUrl));

        var e = await Assert.ThrowsAsync<GenerationFailedException>(() => h.Run("gemini", new ImageRequest("a portrait", [])));

        Assert.Equal(GenerationFailure.Refused, e.Kind);
        Assert.Equal("I can't make pictures of real people.", e.Message);
    }

    sealed record Form(Dictionary<string, string> Fields, Dictionary<string, List<byte[]>> Files, Dictionary<string, List<string>> FileTypes);

    static async Task<Form> Multipart(ReceivedRequest r)
    {
        var boundary = HeaderUtilities.RemoveQuotes(MediaTypeHeaderValue.Parse(r.ContentType).Boundary).Value!;
        var reader = new MultipartReader(boundary, new MemoryStream(r.Body));
        var form = new Form([], [], []);
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            var disposition = ContentDispositionHeaderValue.Parse(section.ContentDisposition);
            var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value!;
            using var buffer = new MemoryStream();
            await section.Body.CopyToAsync(buffer);
            if (disposition.FileName.HasValue || disposition.FileNameStar.HasValue)
            {
                (form.Files.TryGetValue(name, out var list) ? list : form.Files[name] = []).Add(buffer.ToArray());
                (form.FileTypes.TryGetValue(name, out var types) ? types : form.FileTypes[name] = []).Add(section.ContentType ?? "");
            }
            else form.Fields[name] = Encoding.UTF8.GetString(buffer.ToArray());
        }
        return form;
    }
}
