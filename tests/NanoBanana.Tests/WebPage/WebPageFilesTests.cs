using System.Net;

namespace NanoBanana.Tests.WebPage;

/// <summary>The page's files as the pipeline serves them: at /, revalidated, under a 'self' Content-Security-Policy.</summary>
public sealed class WebPageFilesTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task The_page_is_served_at_the_root_with_a_self_only_policy_and_the_security_headers()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/");
            s.StatusCodeShouldBe(200);
        });
        var headers = result.Context.Response.Headers;
        Assert.StartsWith("text/html", result.Context.Response.ContentType);
        Assert.Contains("<script type=\"module\" src=\"js/app.js\">", await result.ReadAsTextAsync());
        var policy = headers.ContentSecurityPolicy.ToString();
        Assert.Contains("default-src 'self'", policy);
        Assert.Contains("script-src 'self';", policy);
        Assert.Contains("connect-src 'self';", policy);
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.Equal("no-cache", headers.CacheControl.ToString());
        Assert.Equal("nosniff", headers.XContentTypeOptions.ToString());
        Assert.Equal("DENY", headers.XFrameOptions.ToString());
    }

    [Fact]
    public async Task The_scripts_are_served_as_javascript_and_revalidated_by_etag()
    {
        var first = await Host.Scenario(s =>
        {
            s.Get.Url("/js/app.js");
            s.StatusCodeShouldBe(200);
        });
        Assert.Equal("text/javascript", first.Context.Response.ContentType);
        var etag = first.Context.Response.Headers.ETag.ToString();
        Assert.NotEmpty(etag);

        await Host.Scenario(s =>
        {
            s.Get.Url("/js/app.js");
            s.WithRequestHeader("If-None-Match", etag);
            s.StatusCodeShouldBe((int)HttpStatusCode.NotModified);
        });
    }

    [Fact]
    public async Task The_api_keeps_answering_problem_details_for_an_unknown_path()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/nothing-here");
            s.StatusCodeShouldBe(404);
        });
        Assert.Null(result.Context.Response.Headers.ContentSecurityPolicy.FirstOrDefault());
    }
}
