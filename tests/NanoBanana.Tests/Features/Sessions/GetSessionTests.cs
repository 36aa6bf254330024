using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;

namespace NanoBanana.Tests.Features.Sessions;

public sealed class GetSessionTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Get_answers_the_session()
    {
        var user = await RegisterUser();
        var created = await CreateSession(user, "Mine");
        var body = await Get(user, $"/api/sessions/{Str(created["id"])}");
        Assert.Equal(created.ToJsonString(), body["session"]!.ToJsonString());
    }

    [Fact]
    public async Task Unknown_and_malformed_ids_answer_404_and_400()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{Guid.CreateVersion7():N}"), 404, "not_found");
        var bad = await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/sessions/not-an-id"), 400, "validation_failed");
        Assert.NotNull(bad["errors"]!["sessionId"]);
    }
}
