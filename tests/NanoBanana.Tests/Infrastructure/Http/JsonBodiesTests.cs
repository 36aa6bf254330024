using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Tests.Features.Sessions;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>SPEC section 1, unknown members: extra members ignored, a wrong type or a body that is not an object refused in words that say so.</summary>
public sealed class JsonBodiesTests(AppFixture app) : ChatContext(app)
{
    Task<IScenarioResult> SendText(TestUser? user, string method, string url, string body) =>
        Host.Scenario(s =>
        {
            if (user is not null) s.As(user);
            var send = method switch { "PUT" => s.Put, "DELETE" => s.Delete, _ => s.Post };
            send.Text(body).ToUrl(url);
            s.WithRequestHeader("Content-Type", "application/json");
            s.IgnoreStatusCode();
        });

    [Fact]
    public async Task The_seed_clients_extra_members_are_ignored_images_on_a_new_message_and_a_whole_message_on_an_edit()
    {
        var user = await RegisterUser();
        var session = await NewSessionId(user);

        var posted = await SendText(user, "POST", $"/api/sessions/{session}/messages",
            "{\"role\":\"user\",\"text\":\"a cat\",\"imageIds\":[],\"images\":[]}");
        Assert.Equal(201, posted.Context.Response.StatusCode);
        var message = (await Json(posted))["messageData"]!.AsObject();

        // The seed's edit hook sends the message it holds, with the new text.
        message["text"] = "a dog";
        message["userId"] = "someone-else";
        var edited = await SendText(user, "PUT", $"/api/messages/{Str(message["id"])}", message.ToJsonString());
        Assert.Equal(200, edited.Context.Response.StatusCode);
        Assert.Equal("a dog", Str((await Json(edited))["messageData"]!["text"]));
        Assert.Equal("a dog", Str((await Get(user, $"/api/messages/{Str(message["id"])}"))["messageData"]!["text"]));

        var created = await SendText(user, "POST", "/api/sessions", "{\"title\":\"Trip\",\"pinned\":true}");
        Assert.Equal(201, created.Context.Response.StatusCode);
        Assert.Equal("Trip", Str((await Json(created))["session"]!["title"]));
    }

    [Fact]
    public async Task A_known_member_of_the_wrong_type_answers_400_naming_it()
    {
        var user = await RegisterUser();
        var session = await NewSessionId(user);
        var id = await NewMessageId(user, session);

        var edit = await ShouldBeProblem(await SendText(user, "PUT", $"/api/messages/{id}", "{\"text\":5}"), 400, "validation_failed");
        Assert.NotNull(edit["errors"]!["text"]);
        Assert.Contains("'text' has the wrong type", Str(edit["message"]));

        var register = await ShouldBeProblem(await SendText(null, "POST", "/api/auth/register",
            "{\"email\":[\"a@b.co\"],\"username\":\"abc\",\"password\":\"password1\"}"), 400, "validation_failed");
        Assert.NotNull(register["errors"]!["email"]);
    }

    [Theory]
    [InlineData("POST", "/api/auth/register", "\"x\"", "a string")]
    [InlineData("POST", "/api/auth/login", "1", "a number")]
    [InlineData("POST", "/api/auth/login", " [] ", "an array")]
    [InlineData("POST", "/api/auth/login", "true", "a boolean")]
    [InlineData("POST", "/api/sessions", "null", "null")]
    [InlineData("POST", "/api/sessions", "[{\"title\":\"x\"}]", "an array")]
    [InlineData("POST", "/api/auth/logout", "null", "null")]
    [InlineData("POST", "/api/auth/refresh", "null", "null")]
    [InlineData("POST", "/api/auth/refresh", "\"a-refresh-token\"", "a string")]
    [InlineData("PUT", "/api/auth/me", "\n\t-3", "a number")]
    [InlineData("PUT", "/api/auth/password", "null", "null")]
    public async Task A_body_that_is_valid_json_but_not_an_object_answers_400_saying_so(string method, string url, string body, string kind)
    {
        var user = await RegisterUser();
        var problem = await ShouldBeProblem(await SendText(user, method, url, body), 400, "body_not_object");
        Assert.Equal($"The request body must be a JSON object ({{ ... }}), not {kind}.", Str(problem["message"]));

        // Nothing happened: the device is still signed in.
        await Get(user, "/api/auth/me");
    }

    [Fact]
    public async Task The_refusal_of_a_body_that_is_not_an_object_is_readable_by_the_seed_clients_browser()
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.As(user);
            s.Post.Text("null").ToUrl("/api/sessions");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithRequestHeader("Origin", "http://localhost:5173");
            s.StatusCodeShouldBe(400);
        });
        Assert.Equal("http://localhost:5173", result.Context.Response.Headers.AccessControlAllowOrigin.ToString());
    }

    [Fact]
    public async Task Text_that_is_not_json_still_answers_malformed_json_and_an_object_after_whitespace_and_a_bom_is_read_whole()
    {
        var user = await RegisterUser();
        var problem = await ShouldBeProblem(await SendText(user, "POST", "/api/sessions", "nope"), 400, "malformed_json");
        Assert.Contains("not valid JSON", Str(problem["message"]));

        var created = await SendText(user, "POST", "/api/sessions", "\uFEFF \r\n {\"title\":\"" + new string('t', 90) + "\"}");
        Assert.Equal(201, created.Context.Response.StatusCode);
        Assert.Equal(new string('t', 90), Str((await Json(created))["session"]!["title"]));
    }
}
