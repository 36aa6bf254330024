using System.Text.Json;

namespace HostileSweep;

/// <summary>The SPEC's error shape (section 1): RFC 9457 problem details with the seed client's members.</summary>
public static class Checks
{
    /// <summary>Null when <paramref name="body"/> is a complete problem-details answer for <paramref name="status"/>, else what is wrong.</summary>
    public static string? ProblemDefect(int status, string? mediaType, byte[] body)
    {
        if (!string.Equals(mediaType, "application/problem+json", StringComparison.OrdinalIgnoreCase))
            return $"content type {mediaType ?? "(none)"}, body {Preview(body)}";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body); }
        catch (JsonException) { return "body is not JSON: " + Preview(body); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return "body is not a JSON object";
            if (!root.TryGetProperty("status", out var s) || s.ValueKind != JsonValueKind.Number || s.GetInt32() != status)
                return "status member missing or not the HTTP status";
            foreach (var name in new[] { "title", "detail", "code", "error", "message" })
                if (!root.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString()))
                    return $"member '{name}' missing or empty";
            if (root.GetProperty("error").GetString() != root.GetProperty("title").GetString()) return "error != title";
            if (root.GetProperty("message").GetString() != root.GetProperty("detail").GetString()) return "message != detail";
            if (root.GetProperty("code").GetString() == "validation_failed"
                && (!root.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Object))
                return "validation_failed without errors";
        }
        return null;
    }

    public static bool IsJson(byte[] body)
    {
        try { using var _ = JsonDocument.Parse(body); return true; }
        catch (JsonException) { return false; }
    }

    public static string Preview(byte[] body, int max = 160)
    {
        if (body.Length == 0) return "(empty)";
        var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, max * 4));
        text = text.Replace("\r", "\\r").Replace("\n", "\\n");
        return text.Length <= max ? text : text[..max] + "...";
    }
}
