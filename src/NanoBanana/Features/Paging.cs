using System.Buffers;
using System.Globalization;
using System.Text.Json;
using FluentValidation;
using NanoBanana.Infrastructure.Http;

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
/// A page answer, <c>{"&lt;items&gt;":[...],"pagination":{...}}</c>, put together from its items' stored API JSON: the
/// items are copied once into the answer's bytes, never decoded or re-encoded.
/// </summary>
public static class PageAnswer
{
    /// <param name="open">The answer up to its first item, e.g. <c>{"messages":[</c>.</param>
    /// <param name="items">The items' JSON joined with commas (a Redis script's <c>table.concat</c>).</param>
    public static byte[] Compose(ReadOnlySpan<byte> open, ReadOnlySpan<byte> items, Pagination pagination)
    {
        ReadOnlySpan<byte> between = "],\"pagination\":"u8;
        var tail = JsonSerializer.SerializeToUtf8Bytes(pagination, Json.Api);
        // Every byte is written below: no need to clear the array first.
        var answer = GC.AllocateUninitializedArray<byte>(open.Length + items.Length + between.Length + tail.Length + 1);
        var rest = answer.AsSpan();
        open.CopyTo(rest); rest = rest[open.Length..];
        items.CopyTo(rest); rest = rest[items.Length..];
        between.CopyTo(rest); rest = rest[between.Length..];
        tail.CopyTo(rest);
        answer[^1] = (byte)'}';
        return answer;
    }

    /// <summary>The same from items one by one (records read without their stored JSON).</summary>
    public static byte[] Compose(ReadOnlySpan<byte> open, IReadOnlyList<byte[]> items, Pagination pagination)
    {
        var joined = new ArrayBufferWriter<byte>(Math.Max(1, items.Sum(i => i.Length + 1)));
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) joined.Write(","u8);
            joined.Write(items[i]);
        }
        return Compose(open, joined.WrittenSpan, pagination);
    }
}
