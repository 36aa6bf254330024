using System.Text.Json.Nodes;
using NanoBanana.Tests.Features.Sessions;

namespace NanoBanana.Tests.Features.Search;

public sealed class SearchTests(AppFixture app) : ChatContext(app)
{
    TestUser _user = null!;
    string _session = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _user = await RegisterUser();
        _session = await NewSessionId(_user, "Search playground");
    }

    async Task<string> Say(string text) => await NewMessageId(_user, _session, text);

    async Task<JsonObject> Find(string q, string extra = "") =>
        await Get(_user, "/api/search?q=" + Uri.EscapeDataString(q) + extra);

    async Task<List<string>> Ids(string q) =>
        (await Find(q))["results"]!.AsArray().Select(r => Str(r!["messageId"])).ToList();

    [Fact]
    public async Task Latin_words_are_found_by_prefix_case_and_accent_insensitively()
    {
        var cafe = await Say("Meet me at the Café Müller tomorrow");
        var naive = await Say("A NAÏVE approach to sunsets");
        await Say("Nothing relevant here");

        Assert.Equal([cafe], await Ids("cafe"));
        Assert.Equal([cafe], await Ids("CAF"));
        Assert.Equal([cafe], await Ids("café"));
        Assert.Equal([cafe], await Ids("muller"));
        Assert.Equal([naive], await Ids("naive sun"));
        Assert.Empty(await Ids("afe")); // not a word prefix
        Assert.Empty(await Ids("cafe sunsets")); // every part must match
    }

    [Fact]
    public async Task Results_are_newest_first_with_session_title_text_time_and_paging()
    {
        var ids = new List<string>();
        for (int i = 0; i < 5; i++) ids.Add(await Say($"banana number {i}"));
        var body = await Find("banana", "&limit=2&offset=1");
        var results = body["results"]!.AsArray();
        Assert.Equal([ids[3], ids[2]], results.Select(r => Str(r!["messageId"])));
        var first = results[0]!;
        Assert.Equal(_session, Str(first["sessionId"]));
        Assert.Equal("Search playground", Str(first["sessionTitle"]));
        Assert.Equal("banana number 3", Str(first["text"]));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", Str(first["createdAt"]));
        Assert.Equal(5, body["pagination"]!["total"]!.GetValue<int>());
        Assert.True(body["pagination"]!["hasMore"]!.GetValue<bool>());

        // The same page through an intersection of two parts (a walk, not a range).
        await Say("number without the fruit");
        var both = await Find("banana numb", "&limit=2&offset=1");
        Assert.Equal([ids[3], ids[2]], both["results"]!.AsArray().Select(r => Str(r!["messageId"])));
        Assert.Equal(5, both["pagination"]!["total"]!.GetValue<int>());
        var tail = await Find("num ban", "&limit=2&offset=4");
        Assert.Equal([ids[0]], tail["results"]!.AsArray().Select(r => Str(r!["messageId"])));
        Assert.False(tail["pagination"]!["hasMore"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Highlights_are_utf16_offsets_of_the_matches_in_the_original_text()
    {
        await Say("🍌 Café and cafés");
        var result = (await Find("cafe"))["results"]![0]!;
        var text = Str(result["text"]);
        var spans = result["highlights"]!.AsArray().Select(h => text[h!["start"]!.GetValue<int>()..h["end"]!.GetValue<int>()]).ToList();
        Assert.Equal(["Café", "café"], spans);
        Assert.Equal(3, result["highlights"]![0]!["start"]!.GetValue<int>()); // the banana is two UTF-16 units, then a space
    }

    [Fact]
    public async Task Cyrillic_and_Greek_are_found_by_prefix_in_any_case()
    {
        var ru = await Say("Сделай ФОН закатом над морем");
        var el = await Say("Καλημέρα κόσμε");
        Assert.Equal([ru], await Ids("фон"));
        Assert.Equal([ru], await Ids("зака"));
        Assert.Equal([el], await Ids("καλημερα"));
    }

    [Fact]
    public async Task Chinese_is_found_by_any_substring_of_two_or_more_characters()
    {
        var zh = await Say("请把背景换成海滩日落");
        await Say("背后的风景很好");
        Assert.Equal([zh], await Ids("背景"));
        Assert.Equal([zh], await Ids("换成海滩"));
        Assert.Equal([zh], await Ids("海滩日落"));
        Assert.Empty(await Ids("背景日落海滩")); // all bigrams but one missing: not a substring
        var result = (await Find("换成海滩"))["results"]![0]!;
        var h = result["highlights"]![0]!;
        Assert.Equal("换成海滩", Str(result["text"])[h["start"]!.GetValue<int>()..h["end"]!.GetValue<int>()]);
    }

    [Fact]
    public async Task Three_character_runs_are_verified_not_just_matched_by_bigrams()
    {
        // Contains the bigrams 海滩 and 滩日 but never 海滩日.
        var decoy = await Say("海滩 滩日");
        var real = await Say("海滩日落");
        Assert.Equal([real], await Ids("海滩日"));
        Assert.Contains(decoy, await Ids("海滩"));
    }

    [Fact]
    public async Task A_long_CJK_query_is_exact_and_too_many_words_answer_400()
    {
        var sentence = "请把这张照片的背景换成海滩日落并且让天空更蓝一些谢谢你的帮助";
        var whole = await Say(sentence);
        await Say("请把这张照片的背景换成海滩日落"); // shares the first bigrams, not the whole run
        Assert.Equal([whole], await Ids(sentence));
        var words = string.Join(' ', Enumerable.Range(0, 17).Select(i => $"word{i}"));
        Assert.NotNull((await ShouldBeProblem(await Send(_user, HttpMethod.Get, "/api/search?q=" + Uri.EscapeDataString(words)), 400, "validation_failed"))["errors"]!["q"]);
    }

    [Fact]
    public async Task Japanese_and_Korean_are_found_by_substring()
    {
        var ja = await Say("背景を夕焼けの海に変えてください");
        var ko = await Say("배경을 해변 일몰로 바꿔 주세요");
        Assert.Equal([ja], await Ids("夕焼け"));
        Assert.Equal([ja], await Ids("変えて"));
        Assert.Equal([ko], await Ids("해변"));
        Assert.Equal([ko], await Ids("일몰로"));
        Assert.Equal([ko], await Ids("바꿔"));
    }

    [Fact]
    public async Task Mixed_text_is_found_by_either_part()
    {
        var mixed = await Say("把背景换成 sunset 的颜色");
        Assert.Equal([mixed], await Ids("sunset"));
        Assert.Equal([mixed], await Ids("SUN"));
        Assert.Equal([mixed], await Ids("背景"));
        Assert.Equal([mixed], await Ids("背景 sun"));
    }

    [Fact]
    public async Task Queries_without_words_match_nothing_and_a_missing_q_is_400()
    {
        await Say("something");
        var none = await Find("!!! ???");
        Assert.Empty(none["results"]!.AsArray());
        Assert.Equal(0, none["pagination"]!["total"]!.GetValue<int>());
        Assert.NotNull((await ShouldBeProblem(await Send(_user, HttpMethod.Get, "/api/search"), 400, "validation_failed"))["errors"]!["q"]);
    }

    [Fact]
    public async Task The_scratch_keys_of_a_search_do_not_outlive_it()
    {
        await Say("alpha beta gamma");
        await Say("alphabet soup");
        // "alph" expands to two words (a union), "gam" to one, intersected: every scratch key is used.
        Assert.Equal(2, (await Find("alph"))["pagination"]!["total"]!.GetValue<int>());
        Assert.Equal(1, (await Find("alph gam"))["pagination"]!["total"]!.GetValue<int>());
        var server = App.Admin.GetServers().First();
        var leftovers = server.Keys(pattern: "*ixtmp*").ToList();
        Assert.Empty(leftovers);
    }
}
