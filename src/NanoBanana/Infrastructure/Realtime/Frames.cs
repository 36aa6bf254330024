using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace NanoBanana.Infrastructure.Realtime;

/// <summary>A server frame ready to write: its UTF-8 JSON bytes, built once and shared by every socket it goes to.</summary>
public sealed record EventFrame(long Seq, string? Scope, ReadOnlyMemory<byte> Bytes);

/// <summary>Server frames as SPEC section 5 writes them: <c>{type, payload, seq?, timestamp}</c>.</summary>
public static class Frames
{
    public static string Timestamp(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static EventFrame Event(LoggedEvent e) =>
        new(e.Seq, e.Scope, Write(w =>
        {
            w.WriteString("type", e.Type);
            w.WritePropertyName("payload");
            w.WriteRawValue(e.Payload, skipInputValidation: true);
            w.WriteNumber("seq", e.Seq);
            w.WriteString("timestamp", Timestamp(e.Timestamp));
        }));

    /// <summary>A frame with no seq (typing, pong, errors, resync notices): not stored, not replayed.</summary>
    public static ReadOnlyMemory<byte> Control(string type, Action<Utf8JsonWriter>? payload, DateTimeOffset now) =>
        Write(w =>
        {
            w.WriteString("type", type);
            if (payload is not null)
            {
                w.WriteStartObject("payload");
                payload(w);
                w.WriteEndObject();
            }
            w.WriteString("timestamp", Timestamp(now));
        });

    public static ReadOnlyMemory<byte> Error(string code, string message, DateTimeOffset now) =>
        Control("error", w => { w.WriteString("code", code); w.WriteString("message", message); }, now);

    /// <summary>The seed's open frame, top-level members as the seed client reads them, plus the user's current seq.</summary>
    public static ReadOnlyMemory<byte> Connected(string sessionId, string userId, long lastSeq, DateTimeOffset now) =>
        Write(w =>
        {
            w.WriteString("type", "connected");
            w.WriteString("sessionId", sessionId);
            w.WriteString("userId", userId);
            w.WriteNumber("lastSeq", lastSeq);
            w.WriteString("timestamp", Timestamp(now));
        });

    static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
