using NanoBanana.Features.Search;

namespace NanoBanana.Tests.Features.Search;

/// <summary>The tokenizer is a pure function: tested directly, next to the HTTP tests that use it.</summary>
public sealed class SearchTextTests
{
    [Fact]
    public void Folding_lowers_case_and_removes_accents()
    {
        Assert.Equal("cafe", SearchText.Fold("Café"));
        Assert.Equal("naive", SearchText.Fold("NAÏVE"));
        Assert.Equal("ёлка".Replace('ё', 'е'), SearchText.Fold("Ёлка"));
    }

    [Fact]
    public void Index_terms_are_folded_words_and_cjk_bigrams()
    {
        var terms = SearchText.IndexTerms("Café 把背景 sunset 猫");
        Assert.Equal(new[] { "cafe", "c*", "ca*", "caf*", "把背", "背景", "sunset", "s*", "su*", "sun*", "猫" }.Order(), terms.Order());
    }

    [Fact]
    public void Short_query_words_are_one_prefix_term_and_longer_ones_expand()
    {
        var query = SearchText.ParseQuery("Bri sunset 海滩日落");
        Assert.Equal(new SearchText.Group(null, "bri*"), query.Groups[0]);
        Assert.Equal(new SearchText.Group("sunset", null), query.Groups[1]);
        Assert.Equal(["海滩", "滩日", "日落"], query.Groups.Skip(2).Select(g => g.Exact));
        Assert.Equal(["海滩日落"], query.Verify);
    }

    [Fact]
    public void Korean_and_Japanese_runs_are_cut_into_bigrams()
    {
        Assert.Equal(new[] { "해변" }, SearchText.IndexTerms("해변"));
        Assert.Equal(new[] { "夕焼", "焼け" }.Order(), SearchText.IndexTerms("夕焼け").Order());
    }
}
