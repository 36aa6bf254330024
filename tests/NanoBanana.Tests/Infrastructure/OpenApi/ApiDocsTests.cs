using System.Net;
using System.Text.Json.Nodes;
using Alba;

namespace NanoBanana.Tests.Infrastructure.OpenApi;

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
    public async Task Only_routes_for_signed_in_callers_ask_for_the_bearer_token()
    {
        var doc = await Json(await Host.Scenario(s => { s.Get.Url("/openapi/v1.json"); s.StatusCodeShouldBe(200); }));
        Assert.Null(doc["security"]);
        var operations = doc["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Where(o => o.Key is "get" or "put" or "post" or "patch" or "delete")
                .Select(o => (Path: p.Key, Method: o.Key, Security: o.Value!["security"]?.AsArray())))
            .ToList();
        Assert.True(operations.Count >= 30, $"only {operations.Count} operations");
        foreach (var (path, method, security) in operations)
        {
            var isPublic = path is "/api/auth/register" or "/api/auth/login" or "/api/auth/refresh" || !path.StartsWith("/api/");
            if (isPublic)
                Assert.True(security is null, $"{method} {path} is public but asks for a token");
            else
                Assert.True(security?.Single()?.AsObject().Single().Key == "Bearer", $"{method} {path} needs a token but does not say so");
        }
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
