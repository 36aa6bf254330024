using System.Text;
using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Tests.Features.Images;

namespace NanoBanana.Tests.Infrastructure.OpenApi;

/// <summary>
/// The OpenAPI document tells the truth (issue 18): what it says of each route, and the check that holds every
/// answer of the suite to it (<see cref="DocumentedAnswers"/>). The same document, with real answers of the main
/// shapes, is written for scripts/test.sh's Spectral and TypeScript checks.
/// </summary>
public sealed class OpenApiContractTests(AppFixture app) : ImageTestContext(app)
{
    async Task<JsonObject> Document() =>
        await Json(await Host.Scenario(s => { s.Get.Url("/openapi/v1.json"); s.StatusCodeShouldBe(200); }));

    static IEnumerable<(string Path, string Method, JsonObject Operation)> Operations(JsonObject doc) =>
        doc["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject()
            .Where(o => o.Key is "get" or "put" or "post" or "patch" or "delete")
            .Select(o => (p.Key, o.Key, o.Value!.AsObject())));

    static string[] Statuses(JsonObject doc, string path, string method) =>
        [.. doc["paths"]![path]![method]!["responses"]!.AsObject().Select(r => r.Key)];

    [Fact]
    public async Task Every_answer_of_a_documented_route_is_checked_against_the_document()
    {
        var before = DocumentedAnswers.Checked;
        var user = await RegisterUser();
        await Host.Scenario(s => { s.Get.Url("/api/sessions"); s.As(user); s.StatusCodeShouldBe(200); });
        Assert.True(DocumentedAnswers.Checked >= before + 2, "the answers were not checked");
    }

    [Fact]
    public async Task An_undocumented_status_or_shape_is_a_violation()
    {
        var contract = await ApiContract.Of(Host.Services);
        var list = contract.Find("GET", "/api/sessions")!;
        var page = """{"sessions":[{"id":"0196","userId":"u","title":"t","createdAt":"2025-01-27T10:00:00.000Z","updatedAt":"2025-01-27T10:00:00.000Z","messageCount":0,"deletedAt":null}],"pagination":{"limit":20,"offset":0,"total":1,"hasMore":false}}""";
        Assert.Null(contract.Check(list, 200, "application/json; charset=utf-8", Encoding.UTF8.GetBytes(page)));
        Assert.Contains("not documented", contract.Check(list, 418, "application/problem+json", "{}"u8.ToArray()));
        Assert.Contains("does not match", contract.Check(list, 200, "application/json", Encoding.UTF8.GetBytes(page.Replace("\"title\":\"t\",", ""))));
        Assert.Contains("does not match", contract.Check(list, 200, "application/json", Encoding.UTF8.GetBytes(page.Replace("\"total\":1", "\"total\":\"1\""))));
        Assert.Contains("content type", contract.Check(list, 200, "text/plain", "x"u8.ToArray()));

        var problem = """{"type":"https://httpstatuses.io/401","title":"Unauthorized","status":401,"detail":"d","instance":"/api/sessions","code":"unauthorized","error":"Unauthorized","message":"d","traceId":"t","extra":1}""";
        Assert.Null(contract.Check(list, 401, "application/problem+json", Encoding.UTF8.GetBytes(problem)));
        Assert.Contains("does not match", contract.Check(list, 401, "application/problem+json", Encoding.UTF8.GetBytes(problem.Replace("\"code\":\"unauthorized\",", ""))));
        // The router's choice: the literal route before the one with an id.
        Assert.Equal("ListUserImages", contract.Find("GET", "/api/images/user/all")!["operationId"]!.GetValue<string>());
        Assert.Equal("GetImage", contract.Find("GET", "/api/images/cleanup")!["operationId"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_error_schema_is_the_problem_shape_with_the_seed_members_and_allows_more()
    {
        var doc = await Document();
        var problem = doc["components"]!["schemas"]!["Problem"]!;
        foreach (var member in new[] { "code", "message", "error", "traceId", "errors", "status", "title", "detail" })
            Assert.NotNull(problem["properties"]![member]);
        Assert.NotEqual("false", problem["additionalProperties"]?.ToJsonString());
        Assert.Null(doc["components"]!["schemas"]!["ProblemDetails"]);
        foreach (var (path, method, operation) in Operations(doc))
            foreach (var (status, response) in operation["responses"]!.AsObject().Where(r => r.Key[0] is '4' or '5'))
            {
                if (path == "/health") continue; // its 503 is the health report
                Assert.Equal("#/components/schemas/Problem",
                    response!["content"]?["application/problem+json"]?["schema"]?["$ref"]?.GetValue<string>());
            }
    }

    [Fact]
    public async Task Every_status_the_pipeline_gives_is_documented()
    {
        var doc = await Document();
        foreach (var path in new[] { "/api/images/{imageId}", "/api/images/user/all", "/api/images/session/{sessionId}", "/api/images/cleanup" })
            foreach (var method in doc["paths"]![path]!.AsObject().Select(m => m.Key))
                Assert.Contains("401", Statuses(doc, path, method));
        foreach (var (path, method) in new[] { ("/api/sessions", "post"), ("/api/auth/login", "post"), ("/api/sessions/{sessionId}/messages", "post"), ("/api/messages/{messageId}", "put") })
            Assert.Superset(new HashSet<string> { "400", "413", "415", "429" }, Statuses(doc, path, method).ToHashSet());
        Assert.Contains("400", Statuses(doc, "/api/auth/logout", "post"));
        Assert.Contains("404", Statuses(doc, "/api/sessions", "post")); // an idempotent replay whose first session is gone
        Assert.Superset(new HashSet<string> { "400", "413", "415" }, Statuses(doc, "/api/images/upload", "post").ToHashSet());
    }

    [Fact]
    public async Task Only_signed_in_routes_ask_for_the_token_and_public_ones_say_so()
    {
        var doc = await Document();
        foreach (var (path, method, operation) in Operations(doc))
        {
            var isPublic = path is "/api/auth/register" or "/api/auth/login" or "/api/auth/refresh" || !path.StartsWith("/api/");
            Assert.Equal(isPublic, operation["security"] is null);
            Assert.Contains(isPublic ? "Public" : "signed-in", operation["description"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Upload_bodies_are_multipart_forms_with_their_fields()
    {
        var doc = await Document();
        JsonNode Form(string path) =>
            Resolve(doc, doc["paths"]![path]!["post"]!["requestBody"]!["content"]!["multipart/form-data"]!["schema"]!);
        var single = Form("/api/images/upload");
        Assert.Equal("binary", Resolve(doc, single["properties"]!["image"]!)["format"]!.GetValue<string>());
        Assert.NotNull(single["properties"]!["sessionId"]);
        Assert.Equal(3, single["properties"]!["type"]!["enum"]!.AsArray().Count);
        var batch = Form("/api/images/upload/batch");
        Assert.Equal("binary", Resolve(doc, batch["properties"]!["images"]!["items"]!)["format"]!.GetValue<string>());
        Assert.NotNull(batch["properties"]!["sessionId"]);
        Assert.NotNull(Resolve(doc, doc["components"]!["schemas"]!["BatchResults"]!["properties"]!["failed"]!)["items"]);
    }

    [Fact]
    public async Task Parameters_are_typed_and_optional_members_are_not_required()
    {
        var doc = await Document();
        JsonObject Param(string path, string name) => doc["paths"]![path]!["get"]!["parameters"]!.AsArray()
            .Single(p => p!["name"]!.GetValue<string>() == name)!.AsObject();
        var limit = Param("/api/images/user/all", "limit")["schema"]!;
        Assert.Equal("integer", limit["type"]!.GetValue<string>());
        Assert.Equal("1000", limit["maximum"]!.ToJsonString());
        Assert.Equal("100", Param("/api/sessions", "limit")["schema"]!["maximum"]!.ToJsonString());
        Assert.Equal("0", Param("/api/search", "offset")["schema"]!["minimum"]!.ToJsonString());
        Assert.Equal("^[0-9a-f]{32}$", Param("/api/sessions/{sessionId}", "sessionId")["schema"]!["pattern"]!.GetValue<string>());
        Assert.Equal(3, Param("/api/images/session/{sessionId}", "type")["schema"]!["enum"]!.AsArray().Count);
        Assert.Equal("integer", Param("/api/sync", "since")["schema"]!["type"]!.GetValue<string>());

        var schemas = doc["components"]!["schemas"]!;
        Assert.Null(schemas["CreateSession"]!["required"]);
        Assert.Null(schemas["EditMessage"]!["required"]);
        Assert.Equal(["role"], schemas["PostMessage"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public async Task Operations_have_unique_ids_descriptions_and_examples_and_the_document_names_contact_and_license()
    {
        var doc = await Document();
        Assert.NotNull(doc["info"]!["contact"]!["name"]);
        Assert.NotNull(doc["info"]!["license"]!["name"]);
        var operations = Operations(doc).ToList();
        var ids = operations.Select(o => o.Operation["operationId"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var (path, method, operation) in operations)
        {
            Assert.False(string.IsNullOrWhiteSpace(operation["description"]?.GetValue<string>()), $"{method} {path} has no description");
            if (operation["requestBody"]?["content"]?["application/json"] is JsonObject request)
                Assert.True(request["example"] is not null, $"{method} {path} has no request example");
            var success = operation["responses"]!.AsObject().First(r => r.Key[0] is '2' or '1');
            if (success.Value!["content"]?["application/json"] is JsonObject response)
                Assert.True(response["example"] is not null, $"{method} {path} has no response example");
        }
    }

    [Fact]
    public async Task Every_example_matches_its_schema()
    {
        var contract = await ApiContract.Of(Host.Services);
        var checkedExamples = 0;
        foreach (var (path, method, operation) in Operations(contract.Document))
        {
            var media = new List<(string Where, JsonNode Media)>();
            foreach (var (type, m) in operation["requestBody"]?["content"]?.AsObject() ?? [])
                media.Add(($"request {type}", m!));
            foreach (var (status, response) in operation["responses"]!.AsObject())
                foreach (var (type, m) in response!["content"]?.AsObject() ?? [])
                    media.Add(($"{status} {type}", m!));
            foreach (var (where, m) in media.Where(m => m.Media["example"] is not null && m.Media["schema"] is not null))
            {
                var mismatch = contract.Mismatch(m["schema"]!, Encoding.UTF8.GetBytes(m["example"]!.ToJsonString()));
                Assert.True(mismatch is null, $"{method} {path} {where}: {mismatch}");
                checkedExamples++;
            }
        }
        Assert.True(checkedExamples >= 60, $"only {checkedExamples} examples");
    }

    /// <summary>
    /// Writes the document and real answers of the main shapes (NB_OPENAPI_OUT, set by scripts/test.sh) for the
    /// TypeScript check (tools/openapi/shapes.ts), which assigns each to the generated client's type.
    /// </summary>
    [Fact]
    public async Task The_document_and_real_answers_of_the_main_shapes_are_written_for_the_client_checks()
    {
        var output = Environment.GetEnvironmentVariable("NB_OPENAPI_OUT") ?? Path.Combine(Path.GetTempPath(), "nanobanana-openapi", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(output, "answers"));
        var user = await RegisterUser();
        var sessionId = await CreateSession(user);
        var session = (await Json(await Host.Scenario(s => { s.Get.Url($"/api/sessions/{sessionId}"); s.As(user); })))["session"]!;
        var image = (await Json(await Upload(Host, user, sessionId, TestImages.PngWithAlpha(), "a.png", contentType: "image/png", expect: 201)))["image"]!;
        var messageId = await PostMessageWith(Host, user, sessionId, image["id"]!.GetValue<string>());
        var message = (await Json(await Host.Scenario(s => { s.Get.Url($"/api/messages/{messageId}"); s.As(user); })))["messageData"]!;
        var pagination = (await Json(await Host.Scenario(s => { s.Get.Url("/api/sessions?limit=1"); s.As(user); })))["pagination"]!;
        var problem = await Json(await Host.Scenario(s => { s.Get.Url($"/api/sessions/{new string('0', 32)}"); s.As(user); s.StatusCodeShouldBe(404); }));

        foreach (var (name, answer) in new[] { ("session", session), ("messageData", message), ("image", image), ("pagination", pagination), ("problem", (JsonNode)problem) })
            await File.WriteAllTextAsync(Path.Combine(output, "answers", name + ".json"), answer.ToJsonString());
        await File.WriteAllTextAsync(Path.Combine(output, "openapi.json"), (await Document()).ToJsonString());
        Assert.Equal(sessionId, session["id"]!.GetValue<string>());
        Assert.Equal(6, Directory.GetFiles(output, "*.json", SearchOption.AllDirectories).Length);
    }

    static JsonNode Resolve(JsonObject doc, JsonNode schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference
            ? doc["components"]!["schemas"]![reference.Split('/')[^1]]!
            : schema;
}
