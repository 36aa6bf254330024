using System.Buffers;
using System.Text;
using NanoBanana.Features;

namespace NanoBanana.Tests.Features;

/// <summary>A page answer written from its stored items (<c>Features/Paging.cs</c>, <see cref="PageJson"/>).</summary>
public sealed class PageJsonTests
{
    /// <summary>A response writer that hands out spans of a few bytes, so pieces fall across span boundaries.</summary>
    sealed class SmallSpans(int size) : IBufferWriter<byte>
    {
        readonly List<byte> _written = [];
        byte[] _span = [];

        public int Spans { get; private set; }
        public string Text => Encoding.UTF8.GetString([.. _written]);

        public void Advance(int count) => _written.AddRange(_span.AsSpan(0, count));
        public Memory<byte> GetMemory(int sizeHint = 0) => throw new NotSupportedException();

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Spans++;
            return _span = new byte[Math.Max(size, sizeHint)];
        }
    }

    static ReadOnlyMemory<byte> Utf8(string text) => Encoding.UTF8.GetBytes(text);

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void The_answer_is_its_items_joined_with_the_pagination_whatever_the_writers_spans(int spanSize)
    {
        var page = new PageJson(Utf8("{\"sessions\":["), [Utf8("{\"id\":\"a\",\"title\":\"héllo\"}"), Utf8("{\"id\":\"b\"}")],
            Pagination.Of(limit: 2, offset: 0, total: 3));
        var writer = new SmallSpans(spanSize);
        page.WriteTo(writer);

        const string expected = "{\"sessions\":[{\"id\":\"a\",\"title\":\"héllo\"},{\"id\":\"b\"}],"
            + "\"pagination\":{\"limit\":2,\"offset\":0,\"total\":3,\"hasMore\":true}}";
        Assert.Equal(expected, writer.Text);
        Assert.Equal(Encoding.UTF8.GetByteCount(expected), page.Length);
        // One span per span's worth of answer, not one per piece.
        Assert.True(writer.Spans <= page.Length / spanSize + 1, $"{writer.Spans} spans of {spanSize} bytes for {page.Length}");
    }

    [Fact]
    public void An_empty_page_is_its_brackets_and_pagination()
    {
        var page = new PageJson(Utf8("{\"messages\":["), [], Pagination.Of(limit: 50, offset: 0, total: 0));
        var writer = new SmallSpans(4096);
        page.WriteTo(writer);
        Assert.Equal("{\"messages\":[],\"pagination\":{\"limit\":50,\"offset\":0,\"total\":0,\"hasMore\":false}}", writer.Text);
        Assert.Equal(writer.Text.Length, page.Length);
    }
}
