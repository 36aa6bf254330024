namespace NanoBanana.Tests.Features;

/// <summary>
/// The one paging rule (<c>Features/Paging.cs</c>) on every list route: a bad limit or offset answers 400 naming it,
/// never a silent clamp; the route's largest limit is accepted.
/// </summary>
public sealed class PagingTests(AppFixture app) : IntegrationContext(app)
{
    [Theory]
    [InlineData("/api/sessions?", 100)]
    [InlineData("/api/sessions/{session}/messages?", 100)]
    [InlineData("/api/search?q=x&", 100)]
    [InlineData("/api/images/session/{session}?", 1000)]
    [InlineData("/api/images/user/all?", 1000)]
    public async Task A_bad_limit_or_offset_answers_400_naming_it(string route, int maxLimit)
    {
        var user = await RegisterUser();
        var url = route.Replace("{session}", await UserCalls.On(Host, user).CreateSession());
        (string Query, string Field)[] bad =
        [
            ("limit=0", "limit"), ($"limit={maxLimit + 1}", "limit"), ("limit=-5", "limit"), ("limit=abc", "limit"),
            ("limit=1.5", "limit"), ("limit=1&limit=2", "limit"), ("offset=-1", "offset"), ("offset=x", "offset"),
            ("offset=99999999999999", "offset"),
        ];
        foreach (var (query, field) in bad)
        {
            var result = await Host.Scenario(s => { s.Get.Url(url + query); s.As(user); s.IgnoreStatusCode(); });
            var body = await ShouldBeProblem(result, 400, "validation_failed");
            Assert.True(body["errors"]?[field] is not null, $"{url}{query}: {body.ToJsonString()}");
        }
        await Host.Scenario(s => { s.Get.Url($"{url}limit={maxLimit}&offset=0"); s.As(user); s.StatusCodeShouldBe(200); });
    }
}
