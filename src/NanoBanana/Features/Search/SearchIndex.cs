using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Search;

/// <summary>
/// A message's entries in the user's search index as loaded before a change: its number, its terms, and those of
/// its words and CJK terms that no other message holds (they leave the vocabulary with it).
/// </summary>
public sealed record IndexEntry(long Number, IReadOnlyList<string> Terms, IReadOnlySet<string> OnlyHere);

/// <summary>
/// The writes of the search index, made by the message slices inside their change: each message has a short
/// per-user number (newest highest, <see cref="Keys.SearchNumbers"/>); each term a ZSET of the numbers of the
/// messages holding it (<see cref="Keys.SearchTerm"/>); words and CJK terms (not the "br*" prefix terms) are
/// listed in the vocabulary for prefix expansion (<see cref="Keys.SearchVocabulary"/>).
/// </summary>
public static class SearchIndex
{
    /// <summary>The index terms of a text, space-separated, as the record stores them.</summary>
    public static string Terms(string text) => string.Join(' ', SearchText.IndexTerms(text));

    public static string[] Split(string terms) => terms.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    static bool InVocabulary(string term) => !term.EndsWith('*');

    /// <summary>The number the next message gets.</summary>
    public static async Task<long> NextNumber(IDatabaseAsync db, string userId) =>
        ((long?)await db.HashGetAsync(Keys.SearchNumbers(userId), "next") ?? 0) + 1;

    /// <summary>Loads a message's entries (<paramref name="terms"/> as its record stores them).</summary>
    public static async Task<IndexEntry> Load(IDatabaseAsync db, string userId, long number, string terms)
    {
        var all = Split(terms).Distinct().ToArray();
        var words = all.Where(InVocabulary).ToArray();
        var sizes = await Task.WhenAll(words.Select(t => db.SortedSetLengthAsync(Keys.SearchTerm(userId, t))));
        return new IndexEntry(number, all, words.Where((_, i) => sizes[i] <= 1).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>
    /// Loads the entries of several messages leaving the index together (a purge batch): a word leaves the
    /// vocabulary with the last of them that holds it when no message outside the batch does.
    /// </summary>
    public static async Task<IReadOnlyList<IndexEntry>> Load(IDatabaseAsync db, string userId, IReadOnlyList<(long Number, string Terms)> messages)
    {
        var terms = messages.Select(m => Split(m.Terms).Distinct().ToArray()).ToList();
        var words = terms.SelectMany(t => t).Where(InVocabulary).Distinct().ToArray();
        var sizes = await Task.WhenAll(words.Select(t => db.SortedSetLengthAsync(Keys.SearchTerm(userId, t))));
        var heldHere = terms.SelectMany(t => t).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        var leaving = words.Where((w, i) => sizes[i] <= heldHere[w]).ToHashSet(StringComparer.Ordinal);
        var lastHolder = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < terms.Count; i++) foreach (var t in terms[i]) lastHolder[t] = i;
        return [.. messages.Select((m, i) => new IndexEntry(m.Number, terms[i],
            terms[i].Where(t => leaving.Contains(t) && lastHolder[t] == i).ToHashSet(StringComparer.Ordinal)))];
    }

    /// <summary>Enters a new message (its number becomes the counter's value).</summary>
    public static void Add(RedisWrites tx, string userId, string messageId, long number, string terms)
    {
        tx.HashSet(Keys.SearchNumbers(userId), [new("next", number), new(number, messageId)]);
        AddTerms(tx, userId, number, Split(terms).Distinct());
    }

    /// <summary>Re-indexes an edited text: the terms it lost go, the new ones come.</summary>
    public static void Replace(RedisWrites tx, string userId, IndexEntry old, string terms)
    {
        var now = Split(terms).Distinct().ToHashSet(StringComparer.Ordinal);
        RemoveTerms(tx, userId, old, old.Terms.Where(t => !now.Contains(t)));
        AddTerms(tx, userId, old.Number, now.Where(t => !old.Terms.Contains(t)));
    }

    /// <summary>Takes a message out of the index.</summary>
    public static void Remove(RedisWrites tx, string userId, IndexEntry old)
    {
        tx.HashDelete(Keys.SearchNumbers(userId), old.Number);
        RemoveTerms(tx, userId, old, old.Terms);
    }

    // Each term is a key of its own (one command each); the vocabulary's members go in one command per change.
    static void AddTerms(RedisWrites tx, string userId, long number, IEnumerable<string> terms)
    {
        var words = new List<SortedSetEntry>();
        foreach (var t in terms)
        {
            tx.SortedSetAdd(Keys.SearchTerm(userId, t), number, number);
            if (InVocabulary(t)) words.Add(new SortedSetEntry(t, 0));
        }
        tx.SortedSetAdd(Keys.SearchVocabulary(userId), [.. words]);
    }

    static void RemoveTerms(RedisWrites tx, string userId, IndexEntry old, IEnumerable<string> terms)
    {
        var words = new List<RedisValue>();
        foreach (var t in terms)
        {
            tx.SortedSetRemove(Keys.SearchTerm(userId, t), old.Number);
            if (old.OnlyHere.Contains(t)) words.Add(t);
        }
        tx.SortedSetRemove(Keys.SearchVocabulary(userId), [.. words]);
    }
}
