using System.Net;
using System.Text.Json.Nodes;
using Alba;

namespace NanoBanana.Tests.Infrastructure;

public sealed class ApiDocsTests(AppFixture app) : IntegrationContext(app)
{
    [Theory]
    [InlineData("/api/auth/register", "post", true)]
    [InlineData("/api/auth/login", "post", true)]
    [InlineData("/api/auth/me", "get", false)]
    [InlineData("/api/auth/me", "put", true)]
    [InlineData("/api/auth/password", "put", true)]
    [InlineData("/api/auth/refresh", "post", true)]
    [InlineData("/api/auth/logout", "post", true)]
    [InlineData("/health", "get", false)]
    public async Task The_openapi_document_lists_the_route_with_its_schemas(string path, string method, bool hasBody)
    {
        var doc = await Json(await Host.Scenario(s => { s.Get.Url("/openapi/v1.json"); s.StatusCodeShouldBe(200); }));
        var operation = doc["paths"]?[path]?[method]?.AsObject();
        Assert.True(operation is not null, $"{method.ToUpperInvariant()} {path} is missing from the document");
        if (hasBody)
            Assert.NotNull(operation["requestBody"]?["content"]?["application/json"]?["schema"]);
        var success = operation["responses"]!.AsObject().First(r => r.Key.StartsWith('2')).Value!;
        Assert.NotNull(success["content"]?["application/json"]?["schema"]);
    }

    [Fact]
    public async Task Optional_members_are_not_required_and_timestamps_are_date_time_strings()
    {
        var doc = await Json(await Host.Scenario(s => { s.Get.Url("/openapi/v1.json"); s.StatusCodeShouldBe(200); }));
        var schemas = doc["components"]!["schemas"]!;
        foreach (var optional in new[] { "UpdateProfile", "Refresh", "Logout" })
            Assert.Null(schemas[optional]!["required"]);
        Assert.DoesNotContain("refreshToken", schemas["RefreshResponse"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("string", schemas["UserDto"]!["properties"]!["createdAt"]!["type"]!.GetValue<string>());
        Assert.Equal("date-time", schemas["UserDto"]!["properties"]!["createdAt"]!["format"]!.GetValue<string>());
        Assert.NotEqual(true, doc["paths"]!["/api/auth/refresh"]!["post"]!["requestBody"]!["required"]?.GetValue<bool>());
    }

    [Fact]
    public async Task The_document_declares_the_bearer_scheme()
    {
        var doc = await Json(await Host.Scenario(s => { s.Get.Url("/openapi/v1.json"); s.StatusCodeShouldBe(200); }));
        Assert.Equal("bearer", doc["components"]!["securitySchemes"]!["Bearer"]!["scheme"]!.GetValue<string>());
    }

    [Fact]
    public async Task Scalar_answers_an_html_page()
    {
        var client = Host.Server.CreateClient();
        var response = await client.GetAsync("/scalar");
        for (var hops = 0; hops < 3 && (int)response.StatusCode is >= 300 and < 400; hops++)
            response = await client.GetAsync(response.Headers.Location!.IsAbsoluteUri
                ? response.Headers.Location.PathAndQuery
                : new Uri(new Uri("http://localhost/scalar"), response.Headers.Location).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }
}
