using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;
using NanoBanana.Infrastructure.Http;
using Scalar.AspNetCore;

namespace NanoBanana.Infrastructure.OpenApi;

/// <summary>
/// The OpenAPI document (/openapi/v1.json) and its Scalar page. The generator describes each route from
/// its signature and <c>Produces</c> calls; these transformers add what it cannot see: the one error shape
/// (SPEC section 1), the answers the pipeline gives every route of a kind, typed parameters, the
/// token only where a route needs one, and each route's <see cref="RouteDocs"/> metadata.
/// </summary>
public static class ApiDocs
{
    public const string ProblemSchema = "Problem";
    const string IdPattern = "^[0-9a-f]{32}$";

    public static IServiceCollection AddApiDocs(this IServiceCollection services) =>
        services.AddOpenApi("v1", o => o
            .AddSchemaTransformer(DescribeSchema)
            .AddOperationTransformer(DescribeOperation)
            .AddDocumentTransformer(DescribeDocument));

    public static void MapApiDocs(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference("/scalar", o => o
            .WithTitle("NanoBanana API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json")
            .AddPreferredSecuritySchemes("Bearer")).AllowAnonymous();
    }

    static Task DescribeSchema(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken _)
    {
        // Timestamps go through our own converter, which hides their type from the generator.
        var type = context.JsonTypeInfo.Type;
        if (type == typeof(DateTimeOffset) || type == typeof(DateTimeOffset?))
        {
            schema.Type = type == typeof(DateTimeOffset) ? JsonSchemaType.String : JsonSchemaType.String | JsonSchemaType.Null;
            schema.Format = "date-time";
        }
        // A member limited to a few words ([AllowedValues] on it) lists them.
        if (context.JsonPropertyInfo?.AttributeProvider?.GetCustomAttributes(typeof(AllowedValuesAttribute), true)
                is [AllowedValuesAttribute allowed, ..])
            schema.Enum = [.. allowed.Values.Select(v => (JsonNode)JsonValue.Create(v?.ToString())!)];
        // A free JSON object (message params) takes any members.
        if (type == typeof(JsonObject))
        {
            schema.AdditionalPropertiesAllowed = true;
            schema.AdditionalProperties = new OpenApiSchema();
        }
        // An untyped list (always empty today) still says what it holds: anything.
        if (schema.Type is { } t && t.HasFlag(JsonSchemaType.Array) && schema.Items is null)
            schema.Items = new OpenApiSchema();
        return Task.CompletedTask;
    }

    static Task DescribeOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken _)
    {
        var description = context.Description;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var path = "/" + (description.RelativePath ?? "");
        var signedIn = metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any();
        var content = operation.RequestBody?.Content?.Keys ?? [];
        var hasBody = content.Count > 0;
        var parameters = operation.Parameters?.OfType<OpenApiParameter>().ToList() ?? [];
        var idempotent = parameters.Any(p => p.Name == Idempotency.Header);

        // PUT and PATCH of one handler are two operations: each needs its own id.
        if (metadata.OfType<HttpMethodMetadata>().FirstOrDefault()?.HttpMethods is { Count: > 1 } methods
            && !string.Equals(methods[0], description.HttpMethod, StringComparison.OrdinalIgnoreCase))
            operation.OperationId += Pascal(description.HttpMethod ?? "");

        if (signedIn)
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("Bearer", context.Document)] = [] });
        }
        var facts = new List<string> { signedIn ? "Needs a signed-in caller (Bearer token)." : "Public: no token needed." };
        if (idempotent) facts.Add("Accepts Idempotency-Key: a retry with the same key and body answers the first result.");
        operation.Description = $"{operation.Summary?.TrimEnd('.')}. {string.Join(' ', facts)}";

        DescribeParameters(parameters, metadata);

        // The answers the pipeline gives every route of its kind, whatever its handler does.
        var errors = new SortedDictionary<int, string>
        {
            [414] = "The request target (path and query) is longer than 8 KiB.",
        };
        if (path.StartsWith("/api/"))
        {
            errors[429] = "Too many requests from this user or address; Retry-After says when to try again.";
            errors[503] = "The data store is not answering (or a bounded resource is full); Retry-After says when to try again.";
        }
        if (signedIn) errors[401] = "The access token is missing, not valid, expired, or its device signed out.";
        if (hasBody)
        {
            errors[400] = "The body is not valid: malformed, not an object, a member of the wrong type, or a failed rule (errors per field).";
            errors[413] = "The body is larger than this route accepts.";
            errors[415] = content.Contains("multipart/form-data") && !content.Contains("application/json")
                ? "The body is not a multipart form, or a file is not a picture this service reads."
                : "The body is not application/json.";
        }
        if (parameters.Count > 0) errors.TryAdd(400, "A parameter is not valid (errors per field).");
        if (parameters.Any(p => p.In == ParameterLocation.Path))
            errors[404] = "Not found, or not the caller's (another user's resource answers the same).";
        if (idempotent)
        {
            errors.TryAdd(404, "The first request's result was deleted since: its key cannot be replayed.");
            errors[422] = "The Idempotency-Key was used before with another body (idempotency_key_reused).";
        }

        operation.Responses ??= [];
        foreach (var (status, text) in errors)
            if (!operation.Responses.ContainsKey(status.ToString()))
                operation.Responses[status.ToString()] = new OpenApiResponse { Description = text };
        foreach (var (status, response) in operation.Responses.ToList())
        {
            if (!int.TryParse(status, out var code) || code < 400) continue;
            if (response.Content?.ContainsKey("application/json") == true) continue; // an answer of its own (/health's 503)
            // Every error is the one problem-details shape, whatever the endpoint declared it with.
            operation.Responses[status] = new OpenApiResponse
            {
                Description = errors.GetValueOrDefault(code) is { } known && response.Description == ReasonPhrases.GetReasonPhrase(code)
                    ? known
                    : response.Description ?? ReasonPhrases.GetReasonPhrase(code),
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, context.Document) },
                },
                Headers = code is 429 or 503
                    ? new Dictionary<string, IOpenApiHeader>
                    {
                        ["Retry-After"] = new OpenApiHeader
                        {
                            Description = "Seconds to wait before trying again.",
                            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
                        },
                    }
                    : null,
            };
        }

        if (metadata.OfType<ExampleDoc>().LastOrDefault() is { } example)
        {
            if (example.Request is { } request && operation.RequestBody?.Content is { } bodies)
                foreach (var media in bodies.Values)
                    media.Example = JsonSerializer.SerializeToNode(request, Json.Api);
            var success = operation.Responses.Where(r => r.Key.StartsWith('2')).Select(r => r.Value).FirstOrDefault();
            if (success?.Content is { } answers)
                foreach (var media in answers.Values)
                    media.Example = JsonSerializer.SerializeToNode(example.Response, Json.Api);
        }
        return Task.CompletedTask;
    }

    static void DescribeParameters(List<OpenApiParameter> parameters, IList<object> metadata)
    {
        var paging = metadata.OfType<PagingDoc>().LastOrDefault();
        foreach (var p in parameters)
        {
            if (p.In == ParameterLocation.Path && p.Name!.EndsWith("Id"))
            {
                p.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = IdPattern };
                p.Description ??= "An id as this service hands them out: 32 lowercase hex digits.";
            }
            else if (p.Name == "limit" && paging is not null)
            {
                p.Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer, Minimum = "1", Maximum = paging.MaxLimit.ToString(),
                    Default = JsonValue.Create(paging.DefaultLimit),
                };
                p.Description ??= $"Page size: 1 to {paging.MaxLimit} (default {paging.DefaultLimit}).";
            }
            else if (p.Name == "offset" && paging is not null)
            {
                p.Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0", Default = JsonValue.Create(0) };
                p.Description ??= "How many items to skip (default 0).";
            }
            else if (p.Name == Idempotency.Header)
            {
                p.Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = 200, Pattern = "^[\\x21-\\x7E]+$" };
                p.Description ??= "A key of the client's choosing (1-200 visible ASCII characters): a retry with it answers the first result.";
            }
            if (metadata.OfType<QueryDoc>().LastOrDefault(q => q.Name == p.Name) is { } doc)
            {
                p.Description = doc.Description;
                if (doc.OneOf is { } values)
                    p.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. values.Select(v => JsonValue.Create(v) as JsonNode)] };
                else if (doc.Minimum is { } min)
                    p.Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = min.ToString() };
            }
        }
    }

    static Task DescribeDocument(OpenApiDocument doc, OpenApiDocumentTransformerContext context, CancellationToken _)
    {
        doc.Info = new OpenApiInfo
        {
            Title = "NanoBanana API",
            Version = "v1",
            Description = "The backend of a chat-style AI image editor used from many devices at once. " +
                          "Sign in with /api/auth/login (or register), then press Authorize and paste the token. " +
                          "Register, login, refresh, /health and the /ws handshake are public; every other route needs the token. " +
                          "Every error is problem details (the Problem schema) with a stable `code`.",
            // The repository has no license file yet (docs/openapi.md): nothing is granted.
            Contact = new OpenApiContact { Name = "The NanoBanana backend team (see the repository's README)" },
            License = new OpenApiLicense { Name = "Proprietary: no license granted" },
        };
        // The server entry is the address the document was asked at; linters want it without a trailing slash.
        foreach (var server in doc.Servers ?? [])
            server.Url = server.Url?.TrimEnd('/');
        doc.Components ??= new OpenApiComponents();
        doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        doc.Components.SecuritySchemes["Bearer"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "The access token from register, login or refresh.",
        };
        doc.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        doc.Components.Schemas[ProblemSchema] = Problem();
        // Every error answer now refers to Problem (DescribeOperation); the framework's own shapes are unused.
        doc.Components.Schemas.Remove("ProblemDetails");
        doc.Components.Schemas.Remove("HttpValidationProblemDetails");
        return Task.CompletedTask;
    }

    /// <summary>RFC 9457 problem details as this service writes them (ProblemHandling); more members may follow.</summary>
    static OpenApiSchema Problem()
    {
        static OpenApiSchema Text(string description) => new() { Type = JsonSchemaType.String, Description = description };
        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "Problem details (RFC 9457) with the seed client's members. Further members may be added; clients ignore them.",
            Required = new HashSet<string> { "type", "title", "status", "detail", "code", "error", "message", "traceId" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = Text("A URI naming the kind of problem."),
                ["title"] = Text("A short summary of the kind of problem."),
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Description = "The HTTP status." },
                ["detail"] = Text("A sentence a person can read about this occurrence."),
                ["instance"] = Text("The path that was asked for."),
                ["code"] = Text("A stable machine code: validation_failed, not_found, email_taken, rate_limited, ..."),
                ["error"] = Text("The seed client's member: the same as title."),
                ["message"] = Text("The seed client's member: the same as detail."),
                ["traceId"] = Text("The request's trace id, as the logs name it."),
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Description = "For validation: each field (or file name) with its messages.",
                    AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                },
            },
            AdditionalPropertiesAllowed = true,
            AdditionalProperties = new OpenApiSchema(), // said out loud: generated clients then accept more members
        };
    }

    static string Pascal(string method) => method.Length == 0 ? "" : char.ToUpperInvariant(method[0]) + method[1..].ToLowerInvariant();
}
