using NanoBanana.Infrastructure.Redis;

namespace NanoBanana.Tests.Features.Images;

public sealed class DeleteImageTests(AppFixture app) : ImageTestContext(app)
{
    [Fact]
    public async Task Delete_answers_409_while_a_message_references_the_image_then_200_and_the_blobs_go()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (image, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "a.gif");
        var id = image["id"]!.GetValue<string>();
        var ready = await GetImage(Host, user, id);

        // A message referencing it.
        var message = await PostMessageWith(Host, user, session, id);
        var conflict = await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/images/{id}");
            s.As(user);
            s.StatusCodeShouldBe(409);
        });
        await ShouldBeProblem(conflict, 409, "image_in_use");
        Assert.Equal(200, (await Fetch(Host, ready["url"]!.GetValue<string>())).Status);

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/messages/{message}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        });
        var ok = await Json(await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/images/{id}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        }));
        Assert.False(string.IsNullOrEmpty(ok["message"]!.GetValue<string>()));
        Assert.Equal(404, (await Fetch(Host, ready["url"]!.GetValue<string>())).Status);
        Assert.Equal(404, (await Fetch(Host, ready["thumbnails"]![1]!["url"]!.GetValue<string>())).Status);
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.SessionImages(user.Id, session)));
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.ImageBlobIndex));
        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/images/{id}");
            s.As(user);
            s.StatusCodeShouldBe(404);
        });
    }

    [Fact]
    public async Task Cleanup_removes_the_callers_unreferenced_images_and_keeps_referenced_ones()
    {
        var user = await RegisterUser();
        var other = await RegisterUser("other");
        var session = await CreateSession(user);
        var otherSession = await CreateSession(other);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
            ids.Add((await Json(await Upload(Host, user, session, TestImages.Gif(), "a.gif", expect: 201)))["image"]!["id"]!.GetValue<string>());
        await Upload(Host, other, otherSession, TestImages.Gif(), "b.gif", expect: 201);
        await PostMessageWith(Host, user, session, ids[1]);

        var body = await Json(await Host.Scenario(s =>
        {
            s.Post.Url("/api/images/cleanup");
            s.As(user);
            s.StatusCodeShouldBe(200);
        }));
        Assert.Equal(2, body["results"]!["successful"]!.GetValue<int>());
        Assert.Equal([ids[1]], (await Redis.SortedSetRangeByRankAsync(Keys.UserImages(user.Id))).Select(v => v.ToString()));
        Assert.Equal(1, await Redis.SortedSetLengthAsync(Keys.UserImages(other.Id)));
    }
}
