using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Realtime;

namespace NanoBanana.Tests.Features.Sessions;

public sealed class SessionStatsTests(AppFixture app) : ChatContext(app)
{
    [Fact]
    public async Task Stats_count_messages_and_the_session_images_and_date_the_last_message()
    {
        var user = await RegisterUser();
        var id = await NewSessionId(user);
        var empty = (await Get(user, $"/api/sessions/{id}/stats"))["stats"]!;
        Assert.Equal(0, empty["messageCount"]!.GetValue<int>());
        Assert.Equal(0, empty["imageCount"]!.GetValue<int>());
        Assert.Null(empty["lastMessageAt"]);

        await PostMessage(user, id, "one");
        var last = await PostMessage(user, id, "two", role: "assistant");
        await SeedImages(user, id, 2);
        await SeedImage(user, id, type: "generated");

        var stats = (await Get(user, $"/api/sessions/{id}/stats"))["stats"]!;
        Assert.Equal(2, stats["messageCount"]!.GetValue<int>());
        Assert.Equal(3, stats["imageCount"]!.GetValue<int>());
        Assert.Equal(2, stats["uploadedCount"]!.GetValue<int>());
        Assert.Equal(1, stats["generatedCount"]!.GetValue<int>());
        Assert.Equal(Str(last["createdAt"]), Str(stats["lastMessageAt"]));
    }

    [Fact]
    public async Task Stats_of_an_unknown_session_answer_404()
    {
        var user = await RegisterUser();
        await ShouldBeProblem(await Send(user, HttpMethod.Get, $"/api/sessions/{Guid.CreateVersion7():N}/stats"), 404, "not_found");
        await ShouldBeProblem(await Send(user, HttpMethod.Get, "/api/sessions/XYZ/stats"), 400, "validation_failed");
    }
}
