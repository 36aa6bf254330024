using System.Text;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace NanoBanana.Infrastructure.Observability;

/// <summary>
/// Formats a log event as exactly one line: the rendered text (message, properties, exception message and
/// stack) with every control character (CR, LF, TAB, ESC, the C1 range, line and paragraph separators)
/// escaped, then one newline. Escaping the finished text rather than chosen values means no source (a
/// path, a header, an email in a failed command, an exception's message) can start a forged line or drive
/// a terminal.
/// </summary>
public sealed class LogEscaping(string outputTemplate) : ITextFormatter
{
    readonly MessageTemplateTextFormatter _inner = new(outputTemplate);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        var rendered = new StringWriter();
        _inner.Format(logEvent, rendered);
        var text = rendered.ToString().TrimEnd('\r', '\n');
        output.Write(NeedsEscape(text) ? EscapeString(text) : text);
        output.Write('\n');
    }

    static bool IsControl(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    public static bool NeedsEscape(string s)
    {
        foreach (var c in s)
            if (IsControl(c)) return true;
        return false;
    }

    public static string EscapeString(string s)
    {
        var b = new StringBuilder(s.Length + 64);
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
