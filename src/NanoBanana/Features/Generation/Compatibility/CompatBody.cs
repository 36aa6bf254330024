using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NanoBanana.Features.Generation.Compatibility;

/// <summary>
/// Every member the original's generation routes read (each route uses its own subset). Pictures are
/// base64 or data URLs, decoded straight from the JSON reader's bytes (<see cref="PictureConverter"/>),
/// so a 30 MB body is not copied into a string on the way.
/// </summary>
public sealed record CompatBody
{
    public string? Prompt { get; init; }
    public string? Instruction { get; init; }
    [JsonConverter(typeof(PictureConverter))] public byte[]? OriginalImage { get; init; }
    [JsonConverter(typeof(PictureListConverter))] public List<byte[]>? ReferenceImages { get; init; }
    [JsonConverter(typeof(PictureConverter))] public byte[]? MaskImage { get; init; }
    public string? Size { get; init; }
    public int? N { get; init; }
    [JsonPropertyName("max_images")] public int? MaxImages { get; init; }
    public string? Quality { get; init; }
    [JsonPropertyName("output_format")] public string? OutputFormat { get; init; }
    public long? Seed { get; init; }
    public bool? Mock { get; init; }

    /// <summary>camelCase as the seed sends it; members a route does not know are ignored (SPEC section 1).</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        NumberHandling = JsonNumberHandling.Strict,
    };
}

public sealed class PictureConverter : JsonConverter<byte[]>
{
    public override byte[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("A picture is a base64 string or a data URL.");
        if (reader.HasValueSequence || reader.ValueIsEscaped) return Decode(Encoding.UTF8.GetBytes(reader.GetString()!));
        return Decode(reader.ValueSpan);
    }

    static byte[] Decode(ReadOnlySpan<byte> text)
    {
        if (text.StartsWith("data:"u8))
        {
            var comma = text.IndexOf((byte)',');
            if (comma < 0 || !text[..comma].EndsWith(";base64"u8)) throw new JsonException("A data URL picture must be base64.");
            text = text[(comma + 1)..];
        }
        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(text.Length)];
        var status = Base64.DecodeFromUtf8(text, bytes, out _, out var written);
        if (status == OperationStatus.Done) return bytes[..written];
        // Line breaks inside the base64 (some encoders wrap at 76 columns): the lenient decoder skips them.
        try { return Convert.FromBase64String(Encoding.ASCII.GetString(text)); }
        catch (FormatException) { throw new JsonException("A picture is not valid base64."); }
    }

    public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options) => writer.WriteBase64StringValue(value);
}

public sealed class PictureListConverter : JsonConverter<List<byte[]>>
{
    static readonly PictureConverter One = new();

    public override List<byte[]>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("referenceImages is a list of pictures.");
        var list = new List<byte[]>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            if (One.Read(ref reader, typeof(byte[]), options) is { } picture) list.Add(picture);
        return list;
    }

    public override void Write(Utf8JsonWriter writer, List<byte[]> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, options);
}
