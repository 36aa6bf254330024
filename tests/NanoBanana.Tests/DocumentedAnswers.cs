using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace NanoBanana.Tests;

/// <summary>
/// Holds the OpenAPI document to the service: every answer a test host gives to a route the document lists is
/// checked against that operation's documented answer for its status (the status must be listed, the body must
/// match the schema of its media type). A mismatch fails the request that showed it: the host throws, so the
/// test that made the call fails with the reason. Installed in every test host (AppFixture, LiveServer).
/// </summary>
public sealed class DocumentedAnswers : IStartupFilter
{
    public static void AddTo(IServiceCollection services) => services.AddSingleton<IStartupFilter, DocumentedAnswers>();

    /// <summary>How many answers were checked so far (a test proves the check runs).</summary>
    public static int Checked => _checked;
    static int _checked;

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(Check);
        next(app);
    };

    static async Task Check(HttpContext http, RequestDelegate next)
    {
        if (http.WebSockets.IsWebSocketRequest) { await next(http); return; }
        var contract = await ApiContract.Of(http.RequestServices);
        var operation = contract.Find(http.Request.Method, http.Request.Path.Value ?? "");
        if (operation is null) { await next(http); return; }

        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await next(http);
        }
        finally
        {
            http.Response.Body = original;
        }
        Interlocked.Increment(ref _checked);
        var violation = contract.Check(operation, http.Response.StatusCode, http.Response.ContentType, buffer.ToArray());
        if (violation is not null)
            throw new InvalidOperationException($"{http.Request.Method} {http.Request.Path}{http.Request.QueryString} answered " +
                                                $"{http.Response.StatusCode} unlike the OpenAPI document: {violation}");
        buffer.Position = 0;
        await buffer.CopyToAsync(original);
    }
}

/// <summary>The OpenAPI document as a checker of answers: operations by method and path, schemas built once.</summary>
public sealed class ApiContract
{
    static readonly SemaphoreSlim Loading = new(1, 1);
    static ApiContract? _loaded;

    readonly List<(string Method, Regex Path, int Literals, JsonObject Operation)> _operations = [];
    readonly JsonObject _definitions;
    readonly ConcurrentDictionary<string, JsonSchema> _schemas = new();
    static int _built;

    public JsonObject Document { get; }

    ApiContract(JsonObject document)
    {
        Document = document;
        // The response schemas refer to #/components/schemas/X; each is checked as a schema with those as $defs.
        var schemas = document["components"]?["schemas"]?.ToJsonString() ?? "{}";
        _definitions = JsonNode.Parse(Rewrite(schemas))!.AsObject();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var pattern = "^/" + string.Join('/', segments.Select(s => s.StartsWith('{') ? "[^/]+" : Regex.Escape(s))) + "/?$";
            foreach (var (method, operation) in item!.AsObject())
                if (operation is JsonObject op && op["responses"] is not null)
                    _operations.Add((method.ToUpperInvariant(), new Regex(pattern, RegexOptions.IgnoreCase), segments.Count(s => !s.StartsWith('{')), op));
        }
    }

    /// <summary>The document the app serves (the same for every test host: one app).</summary>
    public static async Task<ApiContract> Of(IServiceProvider services)
    {
        if (_loaded is { } loaded) return loaded;
        await Loading.WaitAsync();
        try
        {
            if (_loaded is not null) return _loaded;
            var provider = services.GetRequiredKeyedService<IOpenApiDocumentProvider>("v1");
            var document = await provider.GetOpenApiDocumentAsync();
            using var text = new StringWriter();
            document.SerializeAsV31(new OpenApiJsonWriter(text));
            return _loaded = new ApiContract(JsonNode.Parse(text.ToString())!.AsObject());
        }
        finally
        {
            Loading.Release();
        }
    }

    /// <summary>The operation the router would pick: the path's most literal template that has the method.</summary>
    public JsonObject? Find(string method, string path) =>
        _operations.Where(o => o.Method == method.ToUpperInvariant() && o.Path.IsMatch(path))
            .OrderByDescending(o => o.Literals).Select(o => o.Operation).FirstOrDefault();

    /// <summary>Why the answer is not what the operation documents, or null when it is.</summary>
    public string? Check(JsonObject operation, int status, string? contentType, byte[] body)
    {
        var responses = operation["responses"]!.AsObject();
        var response = responses[status.ToString()] ?? responses["default"];
        if (response is null)
            return $"status {status} is not documented (documented: {string.Join(", ", responses.Select(r => r.Key))})";
        if (response["content"] is not JsonObject content || content.Count == 0) return null;
        var media = contentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (media is null || content[media] is not JsonObject documented)
            return $"its content type '{contentType}' is not documented (documented: {string.Join(", ", content.Select(c => c.Key))})";
        if (documented["schema"] is not JsonNode schemaNode) return null;
        if (!media.EndsWith("json")) return null;
        if (body.Length == 0) return "the body is empty where the document promises JSON";

        return Mismatch(schemaNode, body);
    }

    /// <summary>Why the JSON <paramref name="body"/> does not match <paramref name="schemaNode"/> (a schema of the document), or null.</summary>
    public string? Mismatch(JsonNode schemaNode, byte[] body)
    {
        JsonDocument instance;
        try { instance = JsonDocument.Parse(body); }
        catch (JsonException e) { return $"the body is not JSON: {e.Message}"; }
        using (instance)
        {
            var schema = _schemas.GetOrAdd(schemaNode.ToJsonString(), Build);
            var result = schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (result.IsValid) return null;
            var errors = (result.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))
                .Distinct().Take(5);
            var text = Encoding.UTF8.GetString(body);
            return $"the body does not match {schemaNode.ToJsonString()}: {string.Join("; ", errors)} (body: {(text.Length > 400 ? text[..400] + "..." : text)})";
        }
    }

    JsonSchema Build(string schemaJson)
    {
        var root = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$defs"] = _definitions.DeepClone(),
            ["allOf"] = new JsonArray(JsonNode.Parse(Rewrite(schemaJson))),
        };
        using var document = JsonDocument.Parse(root.ToJsonString());
        var uri = new Uri($"https://nanobanana.test/answers/{Interlocked.Increment(ref _built)}");
        return JsonSchema.Build(document.RootElement.Clone(), new BuildOptions { SchemaRegistry = new SchemaRegistry() }, uri);
    }

    static string Rewrite(string json) => json.Replace("#/components/schemas/", "#/$defs/");
}
