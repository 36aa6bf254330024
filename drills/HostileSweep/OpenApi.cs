using System.Text.Json;

namespace HostileSweep;

public enum BodyKind { None, Json, Multipart }

public sealed record Param(string Name, string In);

/// <summary>A property of a JSON request body: its name and the JSON types the schema allows.</summary>
public sealed record Field(string Name, IReadOnlySet<string> Types)
{
    public bool Allows(string type) => Types.Contains(type) || (type == "number" && Types.Contains("integer"));
}

/// <summary>One route of the OpenAPI document.</summary>
public sealed record Operation(string Method, string Template, string Id, IReadOnlyList<Param> Parameters, BodyKind Body, IReadOnlyList<Field> Fields)
{
    public IEnumerable<string> PathParams => Parameters.Where(p => p.In == "path").Select(p => p.Name);
    public IEnumerable<string> QueryParams => Parameters.Where(p => p.In == "query").Select(p => p.Name);
    public HttpMethod HttpMethod => new(Method.ToUpperInvariant());
    public override string ToString() => $"{Method.ToUpperInvariant()} {Template}";
}

/// <summary>Reads the routes, their parameters and body fields from the app's /openapi/v1.json.</summary>
public static class OpenApi
{
    public static List<Operation> Read(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var schemas = doc.RootElement.GetProperty("components").GetProperty("schemas");
        var ops = new List<Operation>();
        foreach (var path in doc.RootElement.GetProperty("paths").EnumerateObject())
        foreach (var op in path.Value.EnumerateObject())
        {
            var parameters = new List<Param>();
            if (op.Value.TryGetProperty("parameters", out var ps))
                foreach (var p in ps.EnumerateArray())
                    parameters.Add(new Param(p.GetProperty("name").GetString()!, p.GetProperty("in").GetString()!));
            var body = BodyKind.None;
            var fields = new List<Field>();
            if (op.Value.TryGetProperty("requestBody", out var rb) && rb.TryGetProperty("content", out var content))
            {
                foreach (var media in content.EnumerateObject())
                {
                    if (media.Name.Contains("multipart", StringComparison.Ordinal)) { body = BodyKind.Multipart; continue; }
                    if (!media.Name.Contains("json", StringComparison.Ordinal)) continue;
                    body = BodyKind.Json;
                    if (media.Value.TryGetProperty("schema", out var schema) && Resolve(schema, schemas) is { } obj
                        && obj.TryGetProperty("properties", out var props))
                        foreach (var prop in props.EnumerateObject())
                            fields.Add(new Field(prop.Name, TypesOf(prop.Value, schemas)));
                }
            }
            var id = op.Value.TryGetProperty("operationId", out var oid) ? oid.GetString()! : $"{op.Name} {path.Name}";
            ops.Add(new Operation(op.Name, path.Name, id, parameters, body, fields));
        }
        return ops;
    }

    static JsonElement? Resolve(JsonElement schema, JsonElement schemas)
    {
        if (schema.TryGetProperty("$ref", out var r))
            return schemas.TryGetProperty(r.GetString()!.Split('/')[^1], out var s) ? s : null;
        return schema;
    }

    static HashSet<string> TypesOf(JsonElement schema, JsonElement schemas)
    {
        var types = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("type", out var t))
        {
            if (t.ValueKind == JsonValueKind.String) types.Add(t.GetString()!);
            else foreach (var x in t.EnumerateArray()) types.Add(x.GetString()!);
        }
        foreach (var combinator in new[] { "oneOf", "anyOf", "allOf" })
            if (schema.TryGetProperty(combinator, out var options))
                foreach (var option in options.EnumerateArray())
                    foreach (var x in TypesOf(Resolve(option, schemas) ?? option, schemas)) types.Add(x);
        if (schema.TryGetProperty("$ref", out var r))
        {
            var name = r.GetString()!.Split('/')[^1];
            // A free JSON value (JsonNode, JsonElement): anything goes at the schema level.
            if (name is "JsonNode" or "JsonObject" or "JsonElement") types.Add("object");
            else if (Resolve(schema, schemas) is { } resolved) foreach (var x in TypesOf(resolved, schemas)) types.Add(x);
        }
        if (types.Count == 0) types.Add("object");
        return types;
    }
}
