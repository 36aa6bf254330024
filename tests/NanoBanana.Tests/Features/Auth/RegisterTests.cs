using System.Text.Json.Nodes;
using Alba;

namespace NanoBanana.Tests.Features.Auth;

public sealed class RegisterTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task Register_answers_201_with_user_tokens_and_expiry()
    {
        var (email, username) = NewIdentity();
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email, username, password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(201);
        });
        var body = await Json(result);
        Assert.False(string.IsNullOrEmpty(body["message"]!.GetValue<string>()));
        var user = body["user"]!.AsObject();
        Assert.Equal(email, user["email"]!.GetValue<string>());
        Assert.Equal(username, user["username"]!.GetValue<string>());
        Assert.True(user["isActive"]!.GetValue<bool>());
        Assert.Null(user["passwordHash"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", user["createdAt"]!.GetValue<string>());
        Assert.Equal(3, body["token"]!.GetValue<string>().Split('.').Length);
        Assert.False(string.IsNullOrEmpty(body["refreshToken"]!.GetValue<string>()));
        Assert.True(DateTimeOffset.Parse(body["expiresAt"]!.GetValue<string>()) > DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task Duplicate_email_in_any_case_answers_409_email_taken()
    {
        var first = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = first.Email.ToUpperInvariant(), username = "other_" + Guid.NewGuid().ToString("N")[..6], password = Password })
                .ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(409);
        });
        await ShouldBeProblem(result, 409, "email_taken");
    }

    [Fact]
    public async Task Duplicate_username_answers_409_username_taken_and_frees_the_email()
    {
        var first = await RegisterUser();
        var (email, _) = NewIdentity();
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email, username = first.Username, password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(409);
        });
        await ShouldBeProblem(result, 409, "username_taken");

        // The email claimed on the way was released: it can register with another username.
        await Host.Scenario(s =>
        {
            s.Post.Json(new { email, username = "free_" + Guid.NewGuid().ToString("N")[..6], password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(201);
        });
    }

    [Fact]
    public async Task Concurrent_registrations_of_one_email_give_one_account()
    {
        var (email, _) = NewIdentity();
        var attempts = Enumerable.Range(0, 8).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new { email, username = $"race{i}_{Guid.NewGuid():N}"[..20], password = Password }).ToUrl("/api/auth/register");
            s.IgnoreStatusCode();
        }));
        var statuses = (await Task.WhenAll(attempts)).Select(r => r.Context.Response.StatusCode).ToList();
        Assert.Equal(1, statuses.Count(s => s == 201));
        Assert.Equal(7, statuses.Count(s => s == 409));
    }

    [Fact]
    public async Task Concurrent_registrations_of_one_username_give_one_account()
    {
        var (_, username) = NewIdentity();
        var attempts = Enumerable.Range(0, 8).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new { email = $"race{i}.{Guid.NewGuid():N}@example.com", username = i % 2 == 0 ? username : username.ToUpperInvariant(), password = Password })
                .ToUrl("/api/auth/register");
            s.IgnoreStatusCode();
        }));
        var statuses = (await Task.WhenAll(attempts)).Select(r => r.Context.Response.StatusCode).ToList();
        Assert.Equal(1, statuses.Count(s => s == 201));
        Assert.Equal(7, statuses.Count(s => s == 409));
    }

    [Theory]
    [InlineData("not-an-email", "valid_name", "long enough password", "email")]
    // Control and invisible format characters: an address that prints like someone else's (hostile input sweep).
    [InlineData("ok@example.com\u0000", "valid_name", "long enough password", "email")]
    [InlineData("ok@exam\u200Bple.com", "valid_name", "long enough password", "email")]
    [InlineData("\u202Eok@example.com", "valid_name", "long enough password", "email")]
    [InlineData("ok@example.com", "ab", "long enough password", "username")]
    [InlineData("ok@example.com", "bad name!", "long enough password", "username")]
    [InlineData("ok@example.com", "valid_name", "short", "password")]
    public async Task Invalid_fields_answer_400_naming_the_field(string email, string username, string password, string field)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email, username, password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(400);
        });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]![field]);
    }

    [Fact]
    public async Task Malformed_json_answers_400_problem()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("{\"email\": \"a@b.co\", ").ToUrl("/api/auth/register");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(400);
        });
        await ShouldBeProblem(result, 400, "malformed_json");
    }

    [Fact]
    public async Task Wrongly_typed_fields_or_a_body_that_is_not_an_object_answer_400_not_500()
    {
        foreach (var json in new[] { "{\"email\":5,\"username\":\"abc\",\"password\":\"password1\"}", "[]", "null" })
        {
            var result = await Host.Scenario(s =>
            {
                s.Post.Text(json).ToUrl("/api/auth/register");
                s.WithRequestHeader("Content-Type", "application/json");
                s.StatusCodeShouldBe(400);
            });
            Assert.Equal(400, (await Json(result))["status"]!.GetValue<int>());
        }
    }
}
