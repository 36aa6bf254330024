using System.Globalization;
using System.Text;

namespace NanoBanana.Features.Search;

/// <summary>
/// How text becomes search terms, the same way for the messages written and the queries read.
/// Spaced scripts (Latin, Cyrillic, Greek...) are cut into words folded to lower case without
/// accents ("Café" -> "cafe"), found by prefix. Chinese, Japanese and Korean runs have no reliable
/// word boundaries: they are indexed as overlapping pairs of characters (bigrams), so any substring
/// of two or more characters is found by intersecting its bigrams and verifying the text.
/// </summary>
public static class SearchText
{
    /// <summary>Longest word kept in the index (longer ones are cut): keeps keys small.</summary>
    public const int MaxWordLength = 64;

    /// <summary>
    /// Word prefixes up to this many characters are indexed as terms of their own ("br*"): the short
    /// prefixes are the ones that expand to thousands of words, and as one term they answer with an
    /// exact total in O(log n + page) instead of a union of every word they start.
    /// </summary>
    public const int IndexedPrefixLength = 3;

    /// <summary>A query of more words than this is refused (400): each word is a set to intersect.</summary>
    public const int MaxQueryWords = 16;

    /// <summary>
    /// A long CJK run uses this many of its bigrams to find candidates; the verification of the whole
    /// run keeps the answer exact, the cap keeps a pasted sentence from becoming a hundred-set intersection.
    /// </summary>
    public const int MaxBigramsPerRun = 8;

    /// <summary>Marks a prefix term; never part of a word, so prefix terms and words cannot collide.</summary>
    public const string PrefixMark = "*";

    public enum Kind { Word, Cjk }

    /// <summary>A piece of text: where it sits in the original (UTF-16 offsets) and its searchable form.</summary>
    public readonly record struct Token(Kind Kind, int Start, int Length, string Form);

    public static bool IsCjk(Rune r)
    {
        var c = r.Value;
        return c is >= 0x3040 and <= 0x30FF        // Hiragana, Katakana
            or >= 0x31F0 and <= 0x31FF              // Katakana phonetic extensions
            or >= 0x3400 and <= 0x4DBF              // CJK extension A
            or >= 0x4E00 and <= 0x9FFF              // CJK unified ideographs
            or >= 0xF900 and <= 0xFAFF              // CJK compatibility ideographs
            or >= 0xFF66 and <= 0xFF9F              // half-width Katakana
            or >= 0xAC00 and <= 0xD7AF              // Hangul syllables
            or >= 0x1100 and <= 0x11FF              // Hangul Jamo
            or >= 0x3130 and <= 0x318F              // Hangul compatibility Jamo
            or >= 0x20000 and <= 0x3FFFF;           // CJK extensions B and later
    }

    static bool IsWordPart(Rune r)
    {
        var cat = Rune.GetUnicodeCategory(r);
        return cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
            or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
            or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;
    }

    /// <summary>Lower case, accents removed: decompose (FormD), drop the combining marks, recompose.</summary>
    public static string Fold(string word)
    {
        var decomposed = word.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(decomposed.Length);
        foreach (var ch in decomposed)
        {
            var cat = CharUnicodeInfo.GetUnicodeCategory(ch);
            if (cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark) continue;
            sb.Append(ch);
        }
        return sb.ToString().Normalize(NormalizationForm.FormC).ToLowerInvariant();
    }

    /// <summary>The words and CJK runs of a text, in order, with their offsets in the original.</summary>
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < text.Length)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var r, out var used) != System.Buffers.OperationStatus.Done)
            {
                i += Math.Max(1, used);
                continue;
            }
            if (IsCjk(r))
            {
                int start = i;
                while (i < text.Length && Rune.DecodeFromUtf16(text.AsSpan(i), out var r2, out var u2) == System.Buffers.OperationStatus.Done && IsCjk(r2))
                    i += u2;
                var run = text[start..i];
                tokens.Add(new Token(Kind.Cjk, start, i - start, run.Normalize(NormalizationForm.FormC)));
            }
            else if (IsWordPart(r) && Rune.GetUnicodeCategory(r) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
            {
                int start = i;
                while (i < text.Length && Rune.DecodeFromUtf16(text.AsSpan(i), out var r2, out var u2) == System.Buffers.OperationStatus.Done
                       && IsWordPart(r2) && !IsCjk(r2))
                    i += u2;
                var folded = Fold(text[start..i]);
                if (folded.Length > 0) tokens.Add(new Token(Kind.Word, start, i - start, folded));
            }
            else i += used;
        }
        return tokens;
    }

    static List<string> Runes(string s)
    {
        var list = new List<string>();
        foreach (var r in s.EnumerateRunes()) list.Add(r.ToString());
        return list;
    }

    /// <summary>The distinct index terms of a message text: folded words and CJK bigrams (a lone CJK character is its own term).</summary>
    public static IReadOnlyCollection<string> IndexTerms(string text)
    {
        var terms = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in Tokenize(text))
        {
            if (t.Kind == Kind.Word)
            {
                var word = Cut(t.Form);
                terms.Add(word);
                var runes = Runes(word);
                for (int n = 1; n <= Math.Min(IndexedPrefixLength, runes.Count); n++)
                    terms.Add(string.Concat(runes.Take(n)) + PrefixMark);
            }
            else
            {
                var runes = Runes(t.Form);
                if (runes.Count == 1) terms.Add(runes[0]);
                for (int k = 0; k + 1 < runes.Count; k++) terms.Add(runes[k] + runes[k + 1]);
            }
        }
        return terms;
    }

    static string Cut(string word)
    {
        if (word.Length <= MaxWordLength) return word;
        var cut = MaxWordLength;
        if (char.IsHighSurrogate(word[cut - 1])) cut--;
        return word[..cut];
    }

    /// <summary>
    /// One condition of a query; a message matches when it matches every group. A group matches a
    /// message indexed under any of its terms: either the vocabulary terms starting with
    /// <see cref="Prefix"/> (words, lone CJK characters) or exactly <see cref="Exact"/> (a bigram).
    /// </summary>
    public sealed record Group(string? Prefix, string? Exact);

    public sealed record Query(IReadOnlyList<Group> Groups, IReadOnlyList<string> Verify, IReadOnlyList<Token> Tokens)
    {
        public bool IsEmpty => Groups.Count == 0;
        public int WordCount => Tokens.Where(t => t.Kind == Kind.Word).Select(t => t.Form).Distinct().Count();
    }

    public static Query ParseQuery(string q)
    {
        var groups = new List<Group>();
        var verify = new List<string>();
        var tokens = Tokenize(q);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tokens)
        {
            if (t.Kind == Kind.Word)
            {
                var w = Cut(t.Form);
                if (!seen.Add("w:" + w)) continue;
                // A short prefix is one indexed term; a longer one expands through the vocabulary (few words).
                groups.Add(Runes(w).Count <= IndexedPrefixLength ? new Group(null, w + PrefixMark) : new Group(w, null));
                continue;
            }
            var runes = Runes(t.Form);
            if (runes.Count == 1)
            {
                if (seen.Add("w:" + runes[0])) groups.Add(new Group(runes[0], null));
                continue;
            }
            var used = 0;
            for (int k = 0; k + 1 < runes.Count && used < MaxBigramsPerRun; k++)
                if (seen.Add("b:" + runes[k] + runes[k + 1]))
                {
                    groups.Add(new Group(null, runes[k] + runes[k + 1]));
                    used++;
                }
            // Two bigrams may both occur without the whole run occurring: the text is checked.
            if (runes.Count > 2) verify.Add(t.Form);
        }
        return new Query(groups, verify, tokens);
    }

    /// <summary>Where the query matches the text: UTF-16 [start, end) ranges, sorted and merged.</summary>
    public static IReadOnlyList<(int Start, int End)> Highlights(string text, Query query)
    {
        var ranges = new List<(int Start, int End)>();
        var words = query.Tokens.Where(t => t.Kind == Kind.Word).Select(t => Cut(t.Form)).Distinct().ToList();
        var runs = query.Tokens.Where(t => t.Kind == Kind.Cjk).Select(t => t.Form).Distinct().ToList();
        foreach (var t in Tokenize(text))
        {
            if (t.Kind == Kind.Word)
            {
                foreach (var w in words)
                {
                    if (!Cut(t.Form).StartsWith(w, StringComparison.Ordinal)) continue;
                    ranges.Add((t.Start, t.Start + OriginalPrefixLength(text.Substring(t.Start, t.Length), w.Length)));
                }
            }
            else
            {
                foreach (var run in runs)
                {
                    for (int at = t.Form.IndexOf(run, StringComparison.Ordinal); at >= 0; at = t.Form.IndexOf(run, at + 1, StringComparison.Ordinal))
                        if (t.Form.Length == t.Length) ranges.Add((t.Start + at, t.Start + at + run.Length));
                }
            }
        }
        ranges.Sort();
        var merged = new List<(int Start, int End)>();
        foreach (var r in ranges)
        {
            if (merged.Count > 0 && r.Start <= merged[^1].End)
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, r.End));
            else merged.Add(r);
        }
        return merged;
    }

    /// <summary>How many UTF-16 units of the original word make up the first <paramref name="foldedLength"/> folded ones (whole text elements).</summary>
    static int OriginalPrefixLength(string word, int foldedLength)
    {
        var e = StringInfo.GetTextElementEnumerator(word);
        while (e.MoveNext())
        {
            var end = e.ElementIndex + e.GetTextElement().Length;
            if (Fold(word[..end]).Length >= foldedLength) return end;
        }
        return word.Length;
    }
}
