using System.Text.Json.Nodes;
using Alba;

namespace NanoBanana.Tests.Infrastructure.OpenApi;

public sealed class RouteAnswersDocTests(AppFixture app) : IntegrationContext(app)
{
    [Theory]
    [InlineData("/api/sessions", "get", "200")]
    [InlineData("/api/sessions", "post", "201")]
    [InlineData("/api/sessions/{sessionId}", "get", "404")]
    [InlineData("/api/sessions/{sessionId}", "put", "200")]
    [InlineData("/api/sessions/{sessionId}", "patch", "200")]
    [InlineData("/api/sessions/{sessionId}", "delete", "404")]
    [InlineData("/api/sessions/{sessionId}/stats", "get", "200")]
    [InlineData("/api/sessions/{sessionId}/messages", "get", "400")]
    [InlineData("/api/sessions/{sessionId}/messages", "post", "201")]
    [InlineData("/api/messages/{messageId}", "get", "404")]
    [InlineData("/api/messages/{messageId}", "put", "400")]
    [InlineData("/api/messages/{messageId}", "delete", "200")]
    [InlineData("/api/messages/{messageId}/revisions", "get", "200")]
    [InlineData("/api/messages/{messageId}/images", "get", "200")]
    [InlineData("/api/messages/{messageId}/images", "post", "400")]
    [InlineData("/api/messages/{messageId}/images/{imageId}", "delete", "404")]
    [InlineData("/api/search", "get", "200")]
    public async Task The_OpenAPI_document_describes_each_route_with_its_answers(string path, string method, string status)
    {
        var result = await Host.Scenario(s => { s.Get.Url("/openapi/v1.json"); s.StatusCodeShouldBe(200); });
        var doc = (await result.ReadAsJsonAsync<JsonObject>())!;
        var operation = doc["paths"]?[path]?[method];
        Assert.NotNull(operation);
        Assert.NotNull(operation!["responses"]?[status]);
    }
}
