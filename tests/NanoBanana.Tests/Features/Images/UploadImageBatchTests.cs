using NanoBanana.Features.Images.GenerateThumbnails;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using Microsoft.Extensions.DependencyInjection;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Images;

public sealed class UploadImageBatchTests(AppFixture app) : ImageTestContext(app)
{
    static (string, byte[], string)[] GoodFiles(int n) =>
        Enumerable.Range(0, n).Select(i => ($"pic{i}.gif", TestImages.Gif(100 + i, 80), "image/gif")).ToArray();

    [Fact]
    public async Task A_batch_answers_201_with_every_image_in_results()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(session, "generated", "images", GoodFiles(3))).ToUrl("/api/images/upload/batch");
            s.As(user);
            s.StatusCodeShouldBe(201);
        });
        var results = (await Json(result))["results"]!.AsObject();
        Assert.Equal(3, results["total"]!.GetValue<int>());
        Assert.Empty(results["failed"]!.AsArray());
        var images = results["successful"]!.AsArray();
        Assert.Equal([100, 101, 102], images.Select(i => i!["width"]!.GetValue<int>()).Order());
        Assert.All(images, i => Assert.Equal("generated", i!["type"]!.GetValue<string>()));
        Assert.Equal(3, await Redis.SortedSetLengthAsync(Keys.SessionImages(user.Id, session)));
        Assert.Equal(3, (int)await Redis.HashGetAsync(Keys.SessionImageCounts(user.Id, session), "generated"));
    }

    [Fact]
    public async Task A_batch_makes_the_thumbnails_of_every_image()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var tracked = await Host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => await Host.Scenario(s =>
            {
                s.Post.MultipartFormData(Form(session, "uploaded", "images", GoodFiles(2))).ToUrl("/api/images/upload/batch");
                s.As(user);
                s.StatusCodeShouldBe(201);
            })));
        Assert.Equal(2, tracked.Executed.MessagesOf<GenerateThumbnails>().Count());
        var ids = (await Redis.SortedSetRangeByRankAsync(Keys.UserImages(user.Id))).Select(v => v.ToString()).ToList();
        foreach (var id in ids)
            Assert.Equal("ready", (string?)await Redis.HashGetAsync(Keys.Image(user.Id, id), "status"));
        Assert.Equal(0, await UnfinishedWork(user));
    }

    [Fact]
    public async Task A_batch_of_eleven_files_answers_400_and_stores_nothing()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(session, "uploaded", "images", GoodFiles(11))).ToUrl("/api/images/upload/batch");
            s.As(user);
            s.StatusCodeShouldBe(400);
        });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]!["images"]);
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.UserImages(user.Id)));
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.ImageBlobIndex));
    }

    [Fact]
    public async Task A_batch_with_one_bad_file_names_it_and_stores_nothing()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var files = GoodFiles(3).Append(("evil.png", TestImages.Html(), "image/png")).ToArray();
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(session, "uploaded", "images", files)).ToUrl("/api/images/upload/batch");
            s.As(user);
            s.StatusCodeShouldBe(415);
        });
        var body = await ShouldBeProblem(result, 415, "unsupported_media_type");
        var errors = body["errors"]!.AsObject();
        Assert.Equal(["evil.png"], errors.Select(e => e.Key));
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.UserImages(user.Id)));
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.ImageBlobIndex));
        var root = Host.Services.GetRequiredService<LocalStorage>().Root;
        Assert.False(Directory.Exists(Path.Combine(root, "users", user.Id)) &&
                     Directory.EnumerateFiles(Path.Combine(root, "users", user.Id), "*", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public async Task An_empty_batch_answers_400()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(session, "uploaded", "images")).ToUrl("/api/images/upload/batch");
            s.As(user);
            s.StatusCodeShouldBe(400);
        });
        await ShouldBeProblem(result, 400, "validation_failed");
    }
}
