using System.Text.Json;
using System.Text.Json.Serialization;

namespace NanoBanana.Infrastructure.Http;

/// <summary>A JSON value stored ready-made (written by <see cref="Json.Api"/>), written into an answer as it is.</summary>
[JsonConverter(typeof(Converter))]
public sealed record RawJson(string Text)
{
    sealed class Converter : JsonConverter<RawJson>
    {
        public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var doc = JsonDocument.ParseValue(ref reader);
            return new RawJson(doc.RootElement.GetRawText());
        }

        // Only the service's own serializer wrote it, so it is not validated again.
        public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.Text, skipInputValidation: true);
    }
}
