using System.Text;
using Serilog.Core;
using Serilog.Events;

namespace NanoBanana.Infrastructure.Observability;

/// <summary>
/// Escapes control characters (CR, LF, ESC, the C1 range, line and paragraph separators) in every string
/// a log event carries, so a value from a request (a path, a header, an email) cannot start a forged
/// line or drive a terminal. Runs on every event before any sink writes it.
/// </summary>
public sealed class LogEscaping : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        List<LogEventProperty>? changed = null;
        foreach (var (name, value) in logEvent.Properties)
            if (Escape(value) is { } escaped) (changed ??= []).Add(new LogEventProperty(name, escaped));
        if (changed is null) return;
        foreach (var p in changed) logEvent.AddOrUpdateProperty(p);
    }

    /// <summary>The value with its strings escaped, or null when nothing needed it.</summary>
    static LogEventPropertyValue? Escape(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string s } when NeedsEscape(s) => new ScalarValue(EscapeString(s)),
        SequenceValue seq when seq.Elements.Select(Escape).ToList() is var items && items.Any(i => i is not null) =>
            new SequenceValue(seq.Elements.Select((e, i) => items[i] ?? e)),
        StructureValue st when st.Properties.Select(p => Escape(p.Value)).ToList() is var props && props.Any(p => p is not null) =>
            new StructureValue(st.Properties.Select((p, i) => props[i] is { } v ? new LogEventProperty(p.Name, v) : p), st.TypeTag),
        DictionaryValue d when d.Elements.Select(kv => Escape(kv.Value)).ToList() is var vals && vals.Any(v => v is not null) =>
            new DictionaryValue(d.Elements.Select((kv, i) => new KeyValuePair<ScalarValue, LogEventPropertyValue>(kv.Key, vals[i] ?? kv.Value))),
        _ => null,
    };

    static bool IsControl(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    static bool NeedsEscape(string s)
    {
        foreach (var c in s)
            if (IsControl(c)) return true;
        return false;
    }

    public static string EscapeString(string s)
    {
        var b = new StringBuilder(s.Length + 16);
        foreach (var c in s)
        {
            if (!IsControl(c)) { b.Append(c); continue; }
            b.Append(c switch
            {
                '\r' => "\\r",
                '\n' => "\\n",
                '\t' => "\\t",
                _ => $"\\u{(int)c:x4}",
            });
        }
        return b.ToString();
    }
}
