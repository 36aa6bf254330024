using System.Globalization;
using System.Text.Json;
using FluentValidation;
using NanoBanana.Infrastructure.Http;
using StackExchange.Redis;

namespace NanoBanana.Features;

/// <summary>
/// A list route's query: <c>limit</c> and <c>offset</c> as the query string gave them. They stay text in the command
/// so that a bad value answers 400 naming it (SPEC: never a binder error, never a silent clamp); the command's
/// validator checks them with <see cref="Paging.PageRules"/>, and the handler reads <see cref="Paging.PageOf"/>.
/// </summary>
public interface IPageQuery
{
    string? Limit { get; }
    string? Offset { get; }
}

public readonly record struct Page(int Limit, int Offset);

/// <summary>The one paging rule of every list route: limit 1..max (default per route), offset 0 or more.</summary>
public static class Paging
{
    /// <summary>The page a validated query asks for.</summary>
    public static Page PageOf(this IPageQuery query, int defaultLimit) =>
        new(Whole(query.Limit) is { } l ? (int)l : defaultLimit, Whole(query.Offset) is { } o ? (int)o : 0);

    public static void PageRules<T>(this AbstractValidator<T> validator, int maxLimit) where T : IPageQuery
    {
        validator.RuleFor(x => x.Limit).Must(l => l is null || Whole(l) is >= 1 and var n && n <= maxLimit)
            .OverridePropertyName("limit").WithMessage($"'limit' must be a whole number from 1 to {maxLimit}.");
        validator.RuleFor(x => x.Offset).Must(o => o is null || Whole(o) is >= 0 and <= int.MaxValue)
            .OverridePropertyName("offset").WithMessage("'offset' must be a whole number, 0 or more.");
    }

    static long? Whole(string? text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite,
            CultureInfo.InvariantCulture, out var n) ? n : null;
}

/// <summary>
/// A page answer, <c>{"&lt;items&gt;":[...],"pagination":{...}}</c>, put together from its items' stored API JSON: each
/// item is copied once into the answer's bytes, never decoded or re-encoded.
/// </summary>
public static class PageAnswer
{
    /// <param name="open">The answer up to its first item, e.g. <c>{"messages":[</c>.</param>
    public static byte[] Compose(ReadOnlySpan<byte> open, IReadOnlyList<ReadOnlyMemory<byte>> items, Pagination pagination)
    {
        ReadOnlySpan<byte> between = "],\"pagination\":"u8;
        var tail = JsonSerializer.SerializeToUtf8Bytes(pagination, Json.Api);
        var length = open.Length + Math.Max(0, items.Count - 1) + between.Length + tail.Length + 1;
        foreach (var item in items) length += item.Length;
        // Every byte is written below: no need to clear the array first.
        var answer = GC.AllocateUninitializedArray<byte>(length);
        var rest = answer.AsSpan();
        Put(open, ref rest);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) Put(","u8, ref rest);
            Put(items[i].Span, ref rest);
        }
        Put(between, ref rest);
        Put(tail, ref rest);
        rest[0] = (byte)'}';
        return answer;
    }

    /// <summary>
    /// The stored JSON of a page's <paramref name="ids"/> (one HMGET) if no change committed since the user's version
    /// was read as <paramref name="before"/>, ahead of the ids: the version is read again after the HMGET, and every
    /// committed change moves it, so an unchanged version brackets reads that all saw the same data. Null when it moved
    /// or an item has no stored JSON (older data): the caller then reads the page item by item in one script.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>[]?> StoredItems(IDatabase db, RedisKey json, RedisKey version, RedisValue[] ids, Task<RedisValue> before)
    {
        // Sent together, in order: the HMGET runs before the second GET.
        var storedTask = ids.Length == 0 ? null : db.HashGetAsync(json, ids);
        var after = db.StringGetAsync(version);
        var stored = storedTask is null ? [] : await storedTask;
        if (await before != await after || !Array.TrueForAll(stored, v => !v.IsNull)) return null;
        return Array.ConvertAll(stored, v => (ReadOnlyMemory<byte>)v);
    }

    static void Put(ReadOnlySpan<byte> bytes, ref Span<byte> rest)
    {
        bytes.CopyTo(rest);
        rest = rest[bytes.Length..];
    }
}
