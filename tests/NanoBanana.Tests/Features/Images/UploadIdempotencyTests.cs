using NanoBanana.Features.Images.GenerateThumbnails;
using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Images;

/// <summary><c>Idempotency-Key</c> on <c>POST /api/images/upload</c> and <c>/api/images/upload/batch</c>.</summary>
public sealed class UploadIdempotencyTests(AppFixture app) : ImageTestContext(app)
{
    const string Single = "/api/images/upload";
    const string Batch = "/api/images/upload/batch";

    static Task<IScenarioResult> Send(IAlbaHost host, TestUser user, string route, string? key, string sessionId,
        string type, params (string Name, byte[] Bytes, string ContentType)[] files) =>
        host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(sessionId, type, route == Single ? "image" : "images", files)).ToUrl(route);
            s.As(user);
            if (key is not null) s.WithRequestHeader("Idempotency-Key", key);
            s.IgnoreStatusCode();
        });

    static Task<IScenarioResult> UploadGif(IAlbaHost host, TestUser user, string? key, string sessionId, byte[] gif,
        string name = "a.gif", string type = "uploaded") =>
        Send(host, user, Single, key, sessionId, type, (name, gif, "image/gif"));

    static (string, byte[], string)[] Gifs(params int[] widths) =>
        widths.Select(w => ($"pic{w}.gif", TestImages.Gif(w, 80), "image/gif")).ToArray();

    static string Str(JsonNode? n) => n!.GetValue<string>();

    static async Task<string> ImageIdOf(IScenarioResult result)
    {
        Assert.Equal(201, result.Context.Response.StatusCode);
        return Str((await Json(result))["image"]!["id"]);
    }

    static async Task<List<string>> BatchIdsOf(IScenarioResult result)
    {
        Assert.Equal(201, result.Context.Response.StatusCode);
        return (await Json(result))["results"]!["successful"]!.AsArray().Select(i => Str(i!["id"])).ToList();
    }

    /// <summary>The image folders holding an original in the local store (the user's blobs, as the store has them).</summary>
    static List<string> OriginalsInStore(IAlbaHost host, TestUser user)
    {
        var folder = Path.Combine(host.Services.GetRequiredService<LocalStorage>().Root, "users", user.Id);
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, "original.*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Select(f => Path.GetFileName(Path.GetDirectoryName(f)!))
            .Order().ToList();
    }

    async Task<List<string>> Listed(string key) =>
        (await Redis.SortedSetRangeByRankAsync(key)).Select(v => v.ToString()).Order().ToList();

    /// <summary>What the service holds of the user's images: records in both lists, blob folders listed, originals in the store.</summary>
    async Task AssertOnlyImages(TestUser user, string sessionId, params string[] ids)
    {
        var expected = ids.Order().ToList();
        Assert.Equal(expected, await Listed(Keys.UserImages(user.Id)));
        Assert.Equal(expected, await Listed(Keys.SessionImages(user.Id, sessionId)));
        foreach (var id in ids) Assert.True(await Redis.KeyExistsAsync(Keys.Image(user.Id, id)));
        Assert.Equal(expected, (await Listed(Keys.ImageBlobIndex)).Select(f => f.Split('/')[2]).Order().ToList());
        Assert.Equal(expected, OriginalsInStore(Host, user));
    }

    [Fact]
    public async Task A_retry_with_the_same_key_and_file_answers_201_with_the_first_image_as_it_is_now_and_stores_nothing()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var gif = TestImages.Gif();
        IScenarioResult? first = null;
        await Host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => first = await UploadGif(Host, user, "upload-1", session, gif)));
        var id = await ImageIdOf(first!);
        Assert.Equal("processing", Str((await Json(first!))["image"]!["status"]));

        var mark = await LoggedEvents.Mark(Host, user.Id);
        IScenarioResult? again = null;
        var tracked = await Host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => again = await UploadGif(Host, user, "upload-1", session, gif)));

        Assert.Equal(id, await ImageIdOf(again!));
        var image = (await Json(again!))["image"]!;
        Assert.Equal("ready", Str(image["status"])); // the record as it is now, thumbnails made since
        Assert.Equal(2, image["thumbnails"]!.AsArray().Count);
        Assert.Empty(await LoggedEvents.Since(Host, user.Id, mark));
        Assert.Empty(tracked.Executed.MessagesOf<GenerateThumbnails>());
        await AssertOnlyImages(user, session, id);
        Assert.Equal(1, (int)await Redis.HashGetAsync(Keys.SessionImageCounts(user.Id, session), "uploaded"));

        var ttl = await Redis.KeyTimeToLiveAsync(Keys.Idempotency(user.Id, "upload", "upload-1"));
        Assert.InRange(ttl!.Value, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
    }

    [Fact]
    public async Task A_retry_that_names_the_file_differently_is_the_same_upload()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var gif = TestImages.Gif();
        var id = await ImageIdOf(await UploadGif(Host, user, "k", session, gif, "IMG_0001.gif"));
        Assert.Equal(id, await ImageIdOf(await UploadGif(Host, user, "k", session, gif, "image (1).gif")));
        await AssertOnlyImages(user, session, id);
    }

    [Fact]
    public async Task The_same_key_with_other_bytes_type_or_session_answers_422_and_stores_nothing()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var otherSession = await CreateSession(user);
        var gif = TestImages.Gif();
        var id = await ImageIdOf(await UploadGif(Host, user, "k", session, gif));

        await ShouldBeProblem(await UploadGif(Host, user, "k", session, TestImages.Gif(301, 200)), 422, "idempotency_key_reused");
        await ShouldBeProblem(await UploadGif(Host, user, "k", session, gif, type: "generated"), 422, "idempotency_key_reused");
        await ShouldBeProblem(await UploadGif(Host, user, "k", otherSession, gif), 422, "idempotency_key_reused");
        await AssertOnlyImages(user, session, id);
        Assert.Equal(0, await Redis.SortedSetLengthAsync(Keys.SessionImages(user.Id, otherSession)));

        var second = await ImageIdOf(await UploadGif(Host, user, "k2", session, TestImages.Gif(301, 200)));
        await AssertOnlyImages(user, session, id, second);
    }

    [Fact]
    public async Task An_upload_refused_with_4xx_stores_no_key_so_the_corrected_retry_is_stored()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        await ShouldBeProblem(await UploadGif(Host, user, "k", "no-such-session", TestImages.Gif()), 404, "not_found");
        await ShouldBeProblem(await Send(Host, user, Single, "k", session, "uploaded", ("a.png", TestImages.Html(), "image/png")),
            415, "unsupported_media_type");
        await ShouldBeProblem(await UploadGif(Host, user, "k", session, TestImages.Gif(), type: "avatar"), 400, "validation_failed");
        await ShouldBeProblem(await Send(Host, user, Batch, "kb", session, "uploaded",
            Gifs(100).Append(("evil.png", TestImages.Html(), "image/png")).ToArray()), 415, "unsupported_media_type");
        Assert.False(await Redis.KeyExistsAsync(Keys.Idempotency(user.Id, "upload", "k")));
        Assert.False(await Redis.KeyExistsAsync(Keys.Idempotency(user.Id, "upload-batch", "kb")));

        var id = await ImageIdOf(await UploadGif(Host, user, "k", session, TestImages.Gif()));
        var batch = await BatchIdsOf(await Send(Host, user, Batch, "kb", session, "uploaded", Gifs(100)));
        await AssertOnlyImages(user, session, [id, .. batch]);
    }

    [Theory]
    [InlineData(Single, "empty")]
    [InlineData(Single, "space")]
    [InlineData(Batch, "long")]
    [InlineData(Batch, "space")]
    public async Task A_malformed_key_answers_400_naming_the_header_and_stores_nothing(string route, string malformed)
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var key = malformed switch { "empty" => "", "space" => "has space", _ => new string('k', 201) };
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(session, "uploaded", route == Single ? "image" : "images", ("a.gif", TestImages.Gif(), "image/gif")))
                .ToUrl(route);
            s.As(user);
            s.WithRequestHeader("Idempotency-Key", key);
            s.IgnoreStatusCode();
        });
        var body = await ShouldBeProblem(result, 400, "validation_failed");
        Assert.NotNull(body["errors"]!["Idempotency-Key"]);
        await AssertOnlyImages(user, session);
    }

    [Fact]
    public async Task Keys_are_scoped_per_route_and_per_user()
    {
        var a = await RegisterUser("a");
        var b = await RegisterUser("b");
        var sessionA = await CreateSession(a);
        var sessionB = await CreateSession(b);
        var gif = TestImages.Gif();

        var single = await ImageIdOf(await UploadGif(Host, a, "shared", sessionA, gif));
        var batch = await BatchIdsOf(await Send(Host, a, Batch, "shared", sessionA, "uploaded", ("a.gif", gif, "image/gif")));
        Assert.NotEqual(single, Assert.Single(batch));
        await AssertOnlyImages(a, sessionA, single, batch[0]);

        var ofB = await ImageIdOf(await UploadGif(Host, b, "shared", sessionB, gif));
        Assert.NotEqual(single, ofB);
        Assert.Equal([ofB], await Listed(Keys.UserImages(b.Id)));
    }

    [Fact]
    public async Task A_batch_retry_answers_201_with_the_first_images_in_their_order_and_stores_nothing()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var files = Gifs(120, 100, 110);
        IScenarioResult? created = null;
        await Host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => created = await Send(Host, user, Batch, "batch-1", session, "generated", files)));
        var first = await BatchIdsOf(created!);
        Assert.Equal(3, first.Count);

        var mark = await LoggedEvents.Mark(Host, user.Id);
        var again = await Send(Host, user, Batch, "batch-1", session, "generated", files);
        Assert.Equal(first, await BatchIdsOf(again));
        var results = (await Json(again))["results"]!;
        Assert.Equal(3, results["total"]!.GetValue<int>());
        Assert.Equal([120, 100, 110], results["successful"]!.AsArray().Select(i => i!["width"]!.GetValue<int>()));
        Assert.Empty(results["failed"]!.AsArray());
        Assert.Empty(await LoggedEvents.Since(Host, user.Id, mark));

        // Another order of the same files, one file fewer or another type is another body.
        await ShouldBeProblem(await Send(Host, user, Batch, "batch-1", session, "generated", Gifs(100, 120, 110)), 422, "idempotency_key_reused");
        await ShouldBeProblem(await Send(Host, user, Batch, "batch-1", session, "generated", Gifs(120, 100)), 422, "idempotency_key_reused");
        await ShouldBeProblem(await Send(Host, user, Batch, "batch-1", session, "edited", files), 422, "idempotency_key_reused");
        await AssertOnlyImages(user, session, [.. first]);
        Assert.Equal(3, (int)await Redis.HashGetAsync(Keys.SessionImageCounts(user.Id, session), "generated"));
    }

    [Fact]
    public async Task A_retry_after_the_image_was_deleted_answers_404_and_uploads_nothing_again()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var gif = TestImages.Gif();
        var id = await ImageIdOf(await UploadGif(Host, user, "k", session, gif));
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/images/{id}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        });

        var retry = await ShouldBeProblem(await UploadGif(Host, user, "k", session, gif), 404, "not_found");
        Assert.Contains("deleted", Str(retry["detail"]));
        await AssertOnlyImages(user, session);
        await ShouldBeProblem(await UploadGif(Host, user, "k", session, TestImages.Gif(301, 200)), 422, "idempotency_key_reused");
    }

    [Fact]
    public async Task A_batch_retry_after_some_images_were_deleted_answers_the_rest_and_404_once_none_is_left()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var files = Gifs(100, 110, 120);
        var first = await BatchIdsOf(await Send(Host, user, Batch, "k", session, "uploaded", files));
        async Task Delete(string id) => await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/images/{id}");
            s.As(user);
            s.StatusCodeShouldBe(200);
        });

        await Delete(first[1]);
        var again = await Send(Host, user, Batch, "k", session, "uploaded", files);
        Assert.Equal([first[0], first[2]], await BatchIdsOf(again));
        Assert.Equal(2, (await Json(again))["results"]!["total"]!.GetValue<int>());
        await AssertOnlyImages(user, session, first[0], first[2]);

        await Delete(first[0]);
        await Delete(first[2]);
        await ShouldBeProblem(await Send(Host, user, Batch, "k", session, "uploaded", files), 404, "not_found");
        await AssertOnlyImages(user, session);
    }

    [Fact]
    public async Task Concurrent_uploads_with_one_key_end_with_one_image_whichever_wins()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var gif = TestImages.Gif();
        var results = new IScenarioResult[4];
        // Tracked so that the winner's thumbnail job has ended too before the store is inspected.
        await Host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
        {
            var sent = Enumerable.Range(0, results.Length).Select(_ => UploadGif(Host, user, "same", session, gif)).ToArray();
            for (var i = 0; i < sent.Length; i++) results[i] = await sent[i];
        }));

        var ids = new List<string>();
        foreach (var r in results) ids.Add(await ImageIdOf(r));
        var winner = Assert.Single(ids.Distinct());
        await AssertOnlyImages(user, session, winner);
        Assert.Equal(0, await UnfinishedWork(user));
    }

    [Fact]
    public async Task An_upload_that_loses_its_key_to_a_concurrent_one_removes_its_blob_and_answers_the_winners_image()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        await using var host = await AppFixture.StartHost(
            new Dictionary<string, string?> { ["LOCAL_STORAGE_PATH"] = Host.Services.GetRequiredService<LocalStorage>().Root },
            s => s.AddSingleton<IObjectStorage>(sp => new GatedStorage(sp.GetRequiredService<LocalStorage>())));
        var gate = (GatedStorage)host.Services.GetRequiredService<IObjectStorage>();
        var gif = TestImages.Gif();

        // The first request stops just before storing its original; the second runs from start to end meanwhile.
        var loser = UploadGif(host, user, "raced", session, gif);
        Assert.Same(gate.FirstOriginalArrived, await Task.WhenAny(gate.FirstOriginalArrived, loser));
        IScenarioResult? winner = null;
        await host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync(
            (Func<Wolverine.IMessageContext, Task>)(async _ => winner = await UploadGif(host, user, "raced", session, gif)));
        var id = await ImageIdOf(winner!);
        var mark = await LoggedEvents.Mark(host, user.Id);

        gate.Release();
        Assert.Equal(id, await ImageIdOf(await loser));
        Assert.Equal(2, gate.OriginalsStored); // the loser did store its blob, and removed it again
        await AssertOnlyImages(user, session, id);
        Assert.Equal(0, await UnfinishedWork(user));
        Assert.Empty(await LoggedEvents.Since(host, user.Id, mark));
    }

    [Theory]
    [InlineData(Single)]
    [InlineData(Batch)]
    public async Task The_OpenAPI_document_declares_the_header_and_the_422_as_the_other_create_routes_do(string route)
    {
        var doc = await Json(await Host.Scenario(s => { s.Get.Url("/openapi/v1.json"); s.StatusCodeShouldBe(200); }));
        var post = doc["paths"]![route]!["post"]!;
        var header = Assert.Single(post["parameters"]!.AsArray(), p => Str(p!["name"]) == "Idempotency-Key");
        Assert.Equal("header", Str(header!["in"]));
        Assert.NotNull(post["responses"]!["422"]);
    }

    /// <summary>The real store, with the first put of an original held until <see cref="Release"/>.</summary>
    sealed class GatedStorage(IObjectStorage inner) : IObjectStorage
    {
        readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int _originals;

        public Task FirstOriginalArrived => _arrived.Task;
        public int OriginalsStored => Volatile.Read(ref _originals);
        public void Release() => _released.TrySetResult();

        public async Task PutAsync(string key, Stream content, string contentType, CancellationToken ct = default)
        {
            if (Path.GetFileName(key).StartsWith("original.", StringComparison.Ordinal))
            {
                if (Interlocked.Increment(ref _originals) == 1)
                {
                    _arrived.TrySetResult();
                    await _released.Task;
                }
            }
            await inner.PutAsync(key, content, contentType, ct);
        }

        public Task<Stream?> GetAsync(string key, CancellationToken ct = default) => inner.GetAsync(key, ct);
        public Task<bool> ExistsAsync(string key, CancellationToken ct = default) => inner.ExistsAsync(key, ct);
        public Task DeleteAsync(string key, CancellationToken ct = default) => inner.DeleteAsync(key, ct);
        public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default) => inner.ListAsync(prefix, ct);
        public SignedUrl GetUrl(string key, TimeSpan? lifetime = null) => inner.GetUrl(key, lifetime);
    }
}
