namespace NanoBanana.Features.Sessions;

/// <summary><c>{session}</c></summary>
public sealed record SessionResponse(SessionDto Session);

/// <summary><c>{sessions, pagination}</c></summary>
public sealed record SessionsPage(IReadOnlyList<SessionDto> Sessions, Pagination Pagination);

/// <summary>Session titles: given by a person (1-200 characters, trimmed) or made from the first user message.</summary>
public static class SessionTitles
{
    public const int MaxLength = 200;
    public const int AutoMaxTextElements = 50;

    /// <summary>
    /// The auto title of a first message: its first non-blank line, trimmed, cut to at most 50 text
    /// elements (user-perceived characters: no broken surrogate pair, no orphaned combining mark),
    /// at the last space when the cut falls inside a word. Empty when the text has no visible line.
    /// </summary>
    public static string Auto(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "";
        var line = text.Split(['\r', '\n', '\u2028', '\u2029', '\u0085'], StringSplitOptions.TrimEntries)
            .FirstOrDefault(l => l.Length > 0 && !string.IsNullOrWhiteSpace(l))?.Trim() ?? "";
        var info = new System.Globalization.StringInfo(line);
        if (info.LengthInTextElements <= AutoMaxTextElements) return line;
        var cut = info.SubstringByTextElements(0, AutoMaxTextElements);
        // Cut inside a word: go back to the last space, unless that would leave too little.
        var nextIsSpace = char.IsWhiteSpace(info.SubstringByTextElements(AutoMaxTextElements, 1)[0]);
        if (!nextIsSpace)
        {
            var space = cut.LastIndexOf(' ');
            if (space >= 10) cut = cut[..space];
        }
        return cut.TrimEnd();
    }
}
