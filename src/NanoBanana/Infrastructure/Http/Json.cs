using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NanoBanana.Infrastructure.Http;

public static class Json
{
    /// <summary>camelCase; unknown members ignored (SPEC section 1: the seed client sends extra ones), wrong types refused.</summary>
    public static void Configure(JsonSerializerOptions o)
    {
        o.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        o.PropertyNameCaseInsensitive = true;
        o.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        o.NumberHandling = JsonNumberHandling.Strict;
        o.Converters.Add(new UtcMillisecondsConverter());
    }

    /// <summary>
    /// Reads a JSON body that may be absent (no body or an empty one): the seed client posts some routes
    /// without one. A present body must be JSON (415 otherwise) and an object (400, see <see cref="JsonObjectBodies"/>).
    /// </summary>
    public static async Task<T?> ReadOptionalBody<T>(HttpContext http) where T : class
    {
        if (http.Request.ContentLength == 0) return null;
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty) return null;
        if (!http.Request.HasJsonContentType())
            throw new BadHttpRequestException("Expected a JSON body.", StatusCodes.Status415UnsupportedMediaType);
        var options = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>();
        return JsonSerializer.Deserialize<T>(bytes.Span, options.Value.SerializerOptions)
               ?? throw new ApiProblem(StatusCodes.Status400BadRequest, "body_not_object", "The request body must be a JSON object ({ ... }), not null.");
    }

    /// <summary>
    /// The API's own options (the HTTP answers use these settings): for JSON stored ready-made and sent as is,
    /// byte for byte what the answer would write. Non-ASCII is written unescaped, as ASP.NET Core's answers do.
    /// </summary>
    public static readonly JsonSerializerOptions Api = CreateApi();

    static JsonSerializerOptions CreateApi()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        Configure(o);
        return o;
    }

    /// <summary>Options for values stored in Redis: the same wire names, tolerant of fields added later.</summary>
    public static readonly JsonSerializerOptions Storage = CreateStorage();

    static JsonSerializerOptions CreateStorage()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        o.Converters.Add(new UtcMillisecondsConverter());
        return o;
    }

    /// <summary>Timestamps as ISO-8601 UTC with milliseconds: <c>2025-01-27T10:00:00.000Z</c>.</summary>
    public sealed class UtcMillisecondsConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
    }
}
