using System.Security.Cryptography;
using NanoBanana.Features;
using NanoBanana.Infrastructure.Redis;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Images;

public sealed class UploadImageTests(AppFixture app) : ImageTestContext(app)
{
    [Fact]
    public async Task Upload_answers_201_with_the_image_processing_and_its_original_byte_for_byte()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var bytes = TestImages.JpegWithOrientation6AndGps();

        var result = await Upload(Host, user, session, bytes, expect: 201);
        var image = (await Json(result))["image"]!.AsObject();

        Assert.Equal("processing", image["status"]!.GetValue<string>());
        Assert.Equal(session, image["sessionId"]!.GetValue<string>());
        Assert.Equal(user.Id, image["userId"]!.GetValue<string>());
        Assert.Equal("uploaded", image["type"]!.GetValue<string>());
        Assert.Equal("image/jpeg", image["mime"]!.GetValue<string>());
        Assert.Equal(1200, image["width"]!.GetValue<int>());
        Assert.Equal(800, image["height"]!.GetValue<int>());
        Assert.Equal(bytes.Length, image["size"]!.GetValue<long>());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), image["sha256"]!.GetValue<string>());
        Assert.Equal(0, image["refCount"]!.GetValue<int>());
        var id = image["id"]!.GetValue<string>();
        Assert.Equal($"users/{user.Id}/sessions/{session}/{id}/original.jpg", image["path"]!.GetValue<string>());
        Assert.NotNull(image["urlExpiresAt"]);

        var (status, original, contentType) = await Fetch(Host, image["url"]!.GetValue<string>());
        Assert.Equal(200, status);
        Assert.Equal("image/jpeg", contentType);
        Assert.Equal(bytes, original);
    }

    [Fact]
    public async Task Concurrent_uploads_of_one_user_all_commit_each_with_its_events_and_no_blob_stored_twice()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var since = await LoggedEvents.Mark(Host, user.Id);
        var results = new Alba.IScenarioResult[8];
        // Their commits, and those of their thumbnail jobs, meet each other's moved data: each runs again until it commits.
        await Host.TrackActivity(TimeSpan.FromSeconds(120)).ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
        {
            var sent = Enumerable.Range(0, results.Length)
                .Select(i => Upload(Host, user, session, TestImages.Gif(100 + i, 80), $"p{i}.gif", contentType: "image/gif", expect: 201)).ToArray();
            for (var i = 0; i < sent.Length; i++) results[i] = await sent[i];
        }));

        var ids = new List<string>();
        foreach (var r in results) ids.Add((await Json(r))["image"]!["id"]!.GetValue<string>());
        Assert.Equal(8, ids.Distinct().Count());
        var events = await LoggedEvents.Since(Host, user.Id, since);
        Assert.Equal(ids.Order(), events.OfType<ImageUploaded>().Select(e => e.Image.Id).Order());
        Assert.Equal(ids.Order(), events.OfType<ImageReady>().Select(e => e.Image.Id).Order());
        Assert.Equal(16, events.Count);
        Assert.Equal(8, (int)await Redis.HashGetAsync(Keys.SessionImageCounts(user.Id, session), "uploaded"));
        // A handler run again keeps the image ids of its files: no folder of a discarded run is left listed.
        var listed = (await Redis.SortedSetRangeByRankAsync(Keys.ImageBlobIndex)).Select(m => m.ToString()).Where(f => f.StartsWith(user.Id + "/"));
        Assert.Equal(ids.Order(), listed.Select(f => f.Split('/')[2]).Order());
    }

    [Fact]
    public async Task A_jpeg_named_exe_is_judged_by_its_bytes_and_accepted_as_jpeg()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var result = await Upload(Host, user, session, TestImages.NoisyJpeg(), "setup.exe", contentType: "application/x-msdownload", expect: 201);
        var image = (await Json(result))["image"]!;
        Assert.Equal("image/jpeg", image["mime"]!.GetValue<string>());
        Assert.EndsWith("/original.jpg", image["path"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("drawing.svg", "image/svg+xml")]
    [InlineData("page.png", "image/png")]
    public async Task Svg_with_script_and_html_named_png_answer_415(string name, string contentType)
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var bytes = name.EndsWith(".svg") ? TestImages.SvgWithScript() : TestImages.Html();
        var result = await Upload(Host, user, session, bytes, name, contentType: contentType);
        await ShouldBeProblem(result, 415, "unsupported_media_type");
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.UserImages(user.Id)));
    }

    [Fact]
    public async Task A_truncated_jpeg_answers_400()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var jpeg = TestImages.NoisyJpeg();
        var result = await Upload(Host, user, session, jpeg[..(jpeg.Length / 2)], "cut.jpg");
        await ShouldBeProblem(result, 400, "invalid_image");
    }

    [Fact]
    public async Task A_png_bomb_is_refused_from_its_header_with_413()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var bomb = TestImages.PngBomb();
        Assert.True(bomb.Length < 4096);
        var started = DateTime.UtcNow;
        var result = await Upload(Host, user, session, bomb, "tiny.png", contentType: "image/png");
        var body = await ShouldBeProblem(result, 413, "payload_too_large");
        Assert.Contains("megapixels", body["detail"]!.GetValue<string>());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "refused before decoding 10 gigapixels");
    }

    [Fact]
    public async Task A_file_over_the_size_limit_answers_413()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var big = new byte[20 * 1024 * 1024 + 1];
        TestImages.NoisyJpeg().CopyTo(big, 0);
        var result = await Upload(Host, user, session, big, "huge.jpg");
        await ShouldBeProblem(result, 413, "payload_too_large");
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.UserImages(user.Id)));
    }

    [Theory]
    [InlineData("avatar")]
    [InlineData("")]
    public async Task A_type_outside_uploaded_generated_edited_answers_400(string type)
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var result = await Upload(Host, user, session, TestImages.Gif(), "a.gif", type: type);
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]!["type"]);
    }

    [Fact]
    public async Task Uploading_into_another_users_or_a_deleted_or_unknown_session_answers_404()
    {
        var owner = await RegisterUser("owner");
        var other = await RegisterUser("other");
        var session = await CreateSession(owner);
        await ShouldBeProblem(await Upload(Host, other, session, TestImages.Gif(), "a.gif"), 404, "not_found");
        await ShouldBeProblem(await Upload(Host, owner, "no-such-session", TestImages.Gif(), "a.gif"), 404, "not_found");

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/sessions/{session}");
            s.As(owner);
            s.StatusCodeShouldBe(200);
        });
        await ShouldBeProblem(await Upload(Host, owner, session, TestImages.Gif(), "a.gif"), 404, "not_found");
    }

    [Fact]
    public async Task Upload_without_a_token_answers_401()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form("s", "uploaded", "image", ("a.gif", TestImages.Gif(), "image/gif"))).ToUrl("/api/images/upload");
            s.StatusCodeShouldBe(401);
        });
        Assert.Equal(401, result.Context.Response.StatusCode);
    }
}
