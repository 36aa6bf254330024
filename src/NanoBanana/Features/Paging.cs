using System.Buffers;
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
/// item is copied once, straight into the response, never decoded or re-encoded (no answer-sized array in between).
/// </summary>
public sealed class PageJson : IResult
{
    readonly ReadOnlyMemory<byte> _open;
    readonly IReadOnlyList<ReadOnlyMemory<byte>> _items;
    readonly byte[] _pagination;

    /// <param name="open">The answer up to its first item, e.g. <c>{"messages":[</c>.</param>
    public PageJson(ReadOnlyMemory<byte> open, IReadOnlyList<ReadOnlyMemory<byte>> items, Pagination pagination)
    {
        _open = open;
        _items = items;
        _pagination = JsonSerializer.SerializeToUtf8Bytes(pagination, Json.Api);
        Length = open.Length + Math.Max(0, items.Count - 1) + Between.Length + _pagination.Length + 1;
        foreach (var item in items) Length += item.Length;
    }

    static ReadOnlySpan<byte> Between => "],\"pagination\":"u8;

    public long Length { get; }

    public void WriteTo(IBufferWriter<byte> writer)
    {
        var to = new Filler(writer);
        to.Put(_open.Span);
        for (var i = 0; i < _items.Count; i++)
        {
            if (i > 0) to.Put(","u8);
            to.Put(_items[i].Span);
        }
        to.Put(Between);
        to.Put(_pagination);
        to.Put("}"u8);
        to.Done();
    }

    /// <summary>
    /// Fills the writer's spans one after the other: one GetSpan and Advance per span, not per piece (Kestrel's
    /// response writer takes a lock for each).
    /// </summary>
    ref struct Filler(IBufferWriter<byte> writer)
    {
        Span<byte> _span;
        int _used;

        public void Put(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (_used == _span.Length)
                {
                    Done();
                    _span = writer.GetSpan();
                }
                var n = Math.Min(bytes.Length, _span.Length - _used);
                bytes[..n].CopyTo(_span[_used..]);
                _used += n;
                bytes = bytes[n..];
            }
        }

        public void Done()
        {
            if (_used > 0) writer.Advance(_used);
            _span = default;
            _used = 0;
        }
    }

    public async Task ExecuteAsync(HttpContext http)
    {
        var response = http.Response;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = Length;
        WriteTo(response.BodyWriter);
        await response.BodyWriter.FlushAsync(http.RequestAborted);
    }
}

/// <summary>The reads behind a <see cref="PageJson"/> that the read cache does not answer.</summary>
public static class PageAnswer
{
    /// <summary>
    /// The stored JSON of a page's <paramref name="ids"/> (one HMGET) if no change committed since the user's version
    /// was read as <paramref name="before"/>, ahead of the ids: the version is read again after the HMGET, and every
    /// committed change moves it, so an unchanged version brackets reads that all saw the same data. Null when it moved
    /// or an item has no stored JSON (older data): the caller then reads the page item by item in one script.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>[]?> StoredItems(IDatabase db, RedisKey json, RedisKey version, RedisValue[] ids, Task<RedisValue> before)
    {
        // Sent together, in order: the HMGET runs before the second GET.
        var reads = db.CreateBatch();
        var storedTask = ids.Length == 0 ? null : reads.HashGetAsync(json, ids);
        var after = reads.StringGetAsync(version);
        reads.Execute();
        var stored = storedTask is null ? [] : await storedTask;
        if (await before != await after || !Array.TrueForAll(stored, v => !v.IsNull)) return null;
        return Array.ConvertAll(stored, v => (ReadOnlyMemory<byte>)v);
    }
}
