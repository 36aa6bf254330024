using System.Text.Json.Nodes;
using Alba;
using NanoBanana.Features;
using NanoBanana.Features.Messages;
using NanoBanana.Features.Messages.DeleteMessage;
using NanoBanana.Features.Messages.EditMessage;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Tests.Features.Messages;

using NanoBanana.Tests.Features.Sessions;

public sealed class GetMessageTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Get_answers_messageData()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var posted = await PostMessage(user, id, "hello there", parameters: new JsonObject { ["seed"] = 7 });
        var body = await Get(user, $"/api/messages/{Str(posted["id"])}");
        Assert.Equal(posted.ToJsonString(), body["messageData"]!.ToJsonString());
    }

    [Fact]
    public async Task Unknown_message_answers_404_and_a_malformed_id_400()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/messages/{Guid.CreateVersion7():N}"), 404, "not_found");
        Assert.NotNull((await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/messages/ABC"), 400, "validation_failed"))["errors"]!["messageId"]);
    }
}
