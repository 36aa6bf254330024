using Alba;

namespace NanoBanana.Tests.Features.Auth;

public sealed class UpdateProfileTests(AppFixture app) : IntegrationContext(app)
{
    Task<IScenarioResult> Update(TestUser user, object body) => Host.Scenario(s =>
    {
        s.Put.Json(body).ToUrl("/api/auth/me");
        s.As(user);
        s.IgnoreStatusCode();
    });

    [Fact]
    public async Task Changes_username_and_avatar_and_answers_the_user()
    {
        var user = await RegisterUser();
        var before = (await Json(await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); })))["user"]!;
        var newName = "renamed_" + Guid.NewGuid().ToString("N")[..8];

        var result = await Update(user, new { username = newName, avatar = "https://cdn.example.com/a.png" });
        Assert.Equal(200, result.Context.Response.StatusCode);
        var u = (await Json(result))["user"]!;
        Assert.Equal(newName, u["username"]!.GetValue<string>());
        Assert.Equal("https://cdn.example.com/a.png", u["avatar"]!.GetValue<string>());
        Assert.Equal(user.Email, u["email"]!.GetValue<string>());
        Assert.True(u["updatedAt"]!.GetValue<DateTimeOffset>() > before["updatedAt"]!.GetValue<DateTimeOffset>());

        var me = (await Json(await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); })))["user"]!;
        Assert.Equal(newName, me["username"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_old_username_is_freed_and_the_new_one_is_taken()
    {
        var user = await RegisterUser();
        var newName = "moved_" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(200, (await Update(user, new { username = newName })).Context.Response.StatusCode);

        var other = await RegisterUser("other");
        Assert.Equal(200, (await Update(other, new { username = user.Username })).Context.Response.StatusCode);
        await ShouldBeProblem(await Update(other, new { username = newName.ToUpperInvariant() }), 409, "username_taken");

        var (email, _) = NewIdentity();
        var register = await Host.Scenario(s =>
        {
            s.Post.Json(new { email, username = newName, password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(409);
        });
        await ShouldBeProblem(register, 409, "username_taken");
    }

    [Fact]
    public async Task A_username_taken_by_someone_else_answers_409_and_changes_nothing()
    {
        var taken = await RegisterUser("taken");
        var user = await RegisterUser();
        await ShouldBeProblem(await Update(user, new { username = taken.Username, avatar = "https://x.example/a.png" }), 409, "username_taken");
        var me = (await Json(await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); })))["user"]!;
        Assert.Equal(user.Username, me["username"]!.GetValue<string>());
        Assert.Null(me["avatar"]);
    }

    [Fact]
    public async Task Concurrent_renames_to_one_username_give_it_to_one_user()
    {
        var users = new List<TestUser>();
        for (var i = 0; i < 4; i++) users.Add(await RegisterUser("racer"));
        var wanted = "prize_" + Guid.NewGuid().ToString("N")[..8];
        var results = await Task.WhenAll(users.Select(u => Update(u, new { username = wanted })));
        Assert.Equal(1, results.Count(r => r.Context.Response.StatusCode == 200));
        Assert.Equal(3, results.Count(r => r.Context.Response.StatusCode == 409));
    }

    [Fact]
    public async Task A_change_of_case_of_ones_own_username_is_allowed()
    {
        var user = await RegisterUser();
        var result = await Update(user, new { username = user.Username.ToUpperInvariant() });
        Assert.Equal(200, result.Context.Response.StatusCode);
        Assert.Equal(user.Username.ToUpperInvariant(), (await Json(result))["user"]!["username"]!.GetValue<string>());
    }

    [Fact]
    public async Task Absent_fields_stay_and_an_empty_avatar_removes_it()
    {
        var user = await RegisterUser();
        await Update(user, new { avatar = "/api/images/abc" });
        var kept = (await Json(await Update(user, new { })))["user"]!;
        Assert.Equal(user.Username, kept["username"]!.GetValue<string>());
        Assert.Equal("/api/images/abc", kept["avatar"]!.GetValue<string>());

        var cleared = (await Json(await Update(user, new { avatar = "" })))["user"]!;
        Assert.Null(cleared["avatar"]);
    }

    [Theory]
    [InlineData("{\"username\":\"ab\"}", "username")]
    [InlineData("{\"username\":\"bad name!\"}", "username")]
    [InlineData("{\"avatar\":\"javascript:alert(1)\"}", "avatar")]
    public async Task Invalid_values_answer_400_naming_the_field(string json, string field)
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Put.Text(json).ToUrl("/api/auth/me");
            s.WithRequestHeader("Content-Type", "application/json");
            s.As(user);
            s.IgnoreStatusCode();
        });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]![field]);
    }

    [Fact]
    public async Task The_email_cannot_be_changed_here_an_email_member_is_ignored_like_any_unknown_one()
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Put.Text("{\"email\":\"new@example.com\"}").ToUrl("/api/auth/me");
            s.WithRequestHeader("Content-Type", "application/json");
            s.As(user);
            s.StatusCodeShouldBe(200);
        });
        Assert.Equal(user.Email, (await Json(result))["user"]!["email"]!.GetValue<string>());
        var me = await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); s.StatusCodeShouldBe(200); });
        Assert.Equal(user.Email, (await Json(me))["user"]!["email"]!.GetValue<string>());
    }

    [Fact]
    public async Task Without_a_token_answers_401()
    {
        var result = await Host.Scenario(s =>
        {
            s.Put.Json(new { username = "someone" }).ToUrl("/api/auth/me");
            s.IgnoreStatusCode();
        });
        await ShouldBeProblem(result, 401, "unauthorized");
    }
}
