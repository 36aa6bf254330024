using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Tests.Infrastructure.Generation;
using NetVips;

namespace NanoBanana.Tests.Features.Generation;

/// <summary>The seed's synchronous generation routes on the shared host, where no provider has settings (local answers mocks).</summary>
public sealed class CompatibilityRoutesTests(AppFixture app) : IntegrationContext(app)
{
    static readonly byte[] Photo = ProviderHarness.Png(120, 80, 30, 120, 220);

    Task<IScenarioResult> Post(TestUser? user, string url, object body, string? header = null) => Host.Scenario(s =>
    {
        s.Post.Json(body).ToUrlWithQuery(url);
        if (user is not null) s.As(user);
        if (header is not null) s.WithRequestHeader("x-mock", header);
        s.IgnoreStatusCode();
    });

    static async Task<List<Image>> Pictures(IScenarioResult result)
    {
        Assert.Equal(200, result.Context.Response.StatusCode);
        var body = (await result.ReadAsJsonAsync<JsonObject>())!;
        return body["images"]!.AsArray().Select(i => Image.NewFromBuffer(Convert.FromBase64String((string)i!))).ToList();
    }

    [Fact]
    public async Task Every_route_answers_401_without_a_token()
    {
        foreach (var url in new[] { "/api/gpt-image-1/generate", "/api/flux/edit", "/api/seedream/generate", "/api/gemini/edit" })
            await ShouldBeProblem(await Post(null, url + "?mock=1", new { prompt = "x" }), 401, "unauthorized");
        await ShouldBeProblem(await Host.Scenario(s => { s.Get.Url("/api/generation/providers"); s.IgnoreStatusCode(); }), 401, "unauthorized");
    }

    [Fact]
    public async Task Mock_query_header_and_body_switches_answer_base64_pictures_of_the_asked_size_from_local()
    {
        var user = await RegisterUser();

        var byQuery = await Pictures(await Post(user, "/api/gpt-image-1/generate?mock=1", new { prompt = "a fox", size = "96x64", n = 2 }));
        var byHeader = await Pictures(await Post(user, "/api/flux/generate", new { prompt = "a fox", size = "64x64" }, header: "1"));
        var byBody = await Pictures(await Post(user, "/api/seedream/generate", new { prompt = "a fox", size = "80x40", mock = true }));

        Assert.Equal(2, byQuery.Count);
        Assert.All(byQuery, p => Assert.Equal((96, 64), (p.Width, p.Height)));
        Assert.Equal((64, 64), (byHeader[0].Width, byHeader[0].Height));
        Assert.Equal((80, 40), (byBody[0].Width, byBody[0].Height));
    }

    [Fact]
    public async Task A_provider_without_settings_answers_400_provider_not_configured()
    {
        var user = await RegisterUser();
        var body = await ShouldBeProblem(await Post(user, "/api/gpt-image-1/generate", new { prompt = "a fox" }), 400, "provider_not_configured");
        Assert.Contains("mock=1", body["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Gemini_edit_takes_a_data_url_and_keeps_its_size()
    {
        var user = await RegisterUser();

        var pictures = await Pictures(await Post(user, "/api/gemini/edit?mock=1", new
        {
            instruction = "make it night",
            originalImage = "data:image/png;base64," + Convert.ToBase64String(Photo),
            referenceImages = new[] { Convert.ToBase64String(ProviderHarness.Png(20, 20)) },
            images = new[] { "the seed's hooks send members the route does not know" },
        }));

        Assert.Equal((120, 80), (pictures[0].Width, pictures[0].Height));
    }

    [Fact]
    public async Task Flux_edit_takes_the_seed_fluxServices_multipart_form()
    {
        var user = await RegisterUser();
        var form = new MultipartFormDataContent
        {
            { new StringContent("make it night"), "prompt" },
            { new StringContent("1"), "n" },
            { new StringContent("1024x1024"), "size" },
            { new StringContent("png"), "output_format" },
        };
        var image = new ByteArrayContent(Photo);
        image.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(image, "image[]", "photo.png");

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(form).ToUrlWithQuery("/api/flux/edit?mock=1");
            s.As(user);
            s.IgnoreStatusCode();
        });

        var pictures = await Pictures(result);
        Assert.Equal((120, 80), (pictures[0].Width, pictures[0].Height));
    }

    [Fact]
    public async Task Get_generate_with_mock_answers_a_picture_as_the_original_did()
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/seedream/generate?mock=1&size=50x50");
            s.As(user);
            s.IgnoreStatusCode();
        });
        var pictures = await Pictures(result);
        Assert.Equal((50, 50), (pictures[0].Width, pictures[0].Height));
    }

    [Fact]
    public async Task Bad_input_answers_400_or_415_problem_details()
    {
        var user = await RegisterUser();

        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/generate?mock=1", new { prompt = "" }), 400, "validation_failed");
        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/generate?mock=1", new { prompt = "x", n = 5 }), 400, "validation_failed");
        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/generate?mock=1", new { prompt = "x", size = "huge" }), 400, "validation_failed");
        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/edit?mock=1", new { instruction = "x" }), 400, "validation_failed");
        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/edit?mock=1", new { instruction = "x", originalImage = "not base64!" }), 400, "validation_failed");
        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/edit?mock=1",
            new { instruction = "x", originalImage = Convert.ToBase64String("<svg xmlns='http://www.w3.org/2000/svg'/>"u8.ToArray()) }), 415, "unsupported_media_type");
        await ShouldBeProblem(await Post(user, "/api/gpt-image-1/generate?mock=1", new { prompt = "x", n = "2" }), 400, "validation_failed");
    }

    [Fact]
    public async Task Providers_lists_all_five_with_local_configured_and_the_default()
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s => { s.Get.Url("/api/generation/providers"); s.As(user); });
        var body = await Json(result);

        var providers = body["providers"]!.AsArray().Select(p => p!.AsObject()).ToList();
        Assert.Equal(["gpt-image-1", "flux", "seedream", "gemini", "local"], providers.Select(p => (string)p["id"]!));
        Assert.All(providers, p => Assert.Equal(["generate", "edit"], p["operations"]!.AsArray().Select(o => (string)o!)));
        Assert.All(providers, p => Assert.False(string.IsNullOrEmpty((string?)p["defaultModel"])));
        Assert.Equal([false, false, false, false, true], providers.Select(p => (bool)p["configured"]!));
        Assert.Equal("local", (string?)body["defaultProvider"]);
    }
}
