using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Search;

/// <summary>
/// Writes of the search index as parts of a <see cref="UserChange"/>. A message is indexed under its short
/// number <c>n</c> (<see cref="Keys.SearchNumbers"/>) in one sorted set per term (<see cref="Keys.SearchTerm"/>);
/// the vocabulary (<see cref="Keys.SearchVocabulary"/>) lists the words and CJK terms that some message holds
/// (not the prefix terms, which end in '*').
/// </summary>
public static class SearchIndex
{
    /// <summary>A message's entry: its number and its terms (space-separated), as its record holds them.</summary>
    public sealed record Entry(long N, string Terms)
    {
        public IEnumerable<string> TermList => Terms.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The removal of some entries, with the vocabulary words no entry keeps once they are gone.</summary>
    public sealed record Removal(string UserId, IReadOnlyList<Entry> Entries, IReadOnlyList<string> VocabularyGone);

    /// <summary>Reads what removing <paramref name="entries"/> decides on: how many numbers each of their words holds now.</summary>
    public static async Task<Removal> LoadRemoval(IDatabase db, string userId, IReadOnlyList<Entry> entries)
    {
        var removed = entries.SelectMany(e => e.TermList.Where(t => !t.EndsWith('*')).Distinct())
            .GroupBy(t => t, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.LongCount(), StringComparer.Ordinal);
        var batch = db.CreateBatch();
        var sizes = removed.Keys.Select(t => (Term: t, Size: batch.SortedSetLengthAsync(Keys.SearchTerm(userId, t)))).ToList();
        batch.Execute();
        var gone = new List<string>();
        foreach (var (term, size) in sizes)
            if (await size <= removed[term]) gone.Add(term);
        return new Removal(userId, entries, gone);
    }

    public static void Remove(UserChange change, Removal removal)
    {
        var userId = removal.UserId;
        foreach (var entry in removal.Entries)
        {
            foreach (var term in entry.TermList.Distinct())
                change.Write(tx => tx.SortedSetRemoveAsync(Keys.SearchTerm(userId, term), entry.N));
            change.Write(tx => tx.HashDeleteAsync(Keys.SearchNumbers(userId), entry.N));
        }
        if (removal.VocabularyGone.Count > 0)
            change.Write(tx => tx.SortedSetRemoveAsync(Keys.SearchVocabulary(userId), [.. removal.VocabularyGone.Select(t => (RedisValue)t)]));
    }
}
