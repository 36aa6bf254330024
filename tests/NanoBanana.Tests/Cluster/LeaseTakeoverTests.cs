using Stopwatch = System.Diagnostics.Stopwatch;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NanoBanana.Features.Images;
using NanoBanana.Features.Images.CollectGarbage;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using NanoBanana.Infrastructure.Work;
using NanoBanana.Tests.Features.Images;
using NanoBanana.Tests.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Cluster;

/// <summary>
/// Two instances on one Redis (a Redis of the test's own, so no other instance takes part) and one image store,
/// with a 2 s work lease. The instance holding the work dies (its Redis connection closed for good: it can neither
/// renew nor finish) and is never started again; the other must take the work over once the leases lapse.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class LeaseTakeoverTests(AppFixture app) : ImageTestContext(app)
{
    static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    static Dictionary<string, string?> Instance(OwnRedis redis, string storage, TimeSpan? lease = null) => new()
    {
        ["REDIS_URL"] = redis.Endpoint, ["LOCAL_STORAGE_PATH"] = storage,
        ["WORK_LEASE_SECONDS"] = (lease ?? Lease).TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["THUMBNAIL_PARALLELISM"] = "1",
    };

    // A dead instance does not wait for its work to end on the way out.
    static void QuickStop(IServiceCollection s) => s.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));

    /// <summary>The instance is gone as far as Redis knows: its leases are no longer renewed and its work never acknowledged.</summary>
    static Task Die(IAlbaHost host) => host.Services.GetRequiredService<IConnectionMultiplexer>().CloseAsync(allowCommandsToComplete: false);

    [Fact]
    public async Task Thumbnails_left_half_done_by_a_dead_instance_are_finished_by_the_other_each_ready_once()
    {
        await using var redis = await OwnRedis.Start();
        var storage = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "uploads");
        await using var survivor = await AppFixture.StartHost(Instance(redis, storage));
        await using var dying = await AppFixture.StartHost(Instance(redis, storage), QuickStop);
        await using var watcher = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var db = watcher.GetDatabase();

        var user = await RegisterUser(host: dying);
        var session = await CreateSession(dying, user);
        var files = Enumerable.Range(0, 6).Select(i => ($"p{i}.jpg", TestImages.NoisyJpeg(1600, 1200), "image/jpeg")).ToArray();
        var readyEvents = new Dictionary<string, int>();
        var allReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<string> ids = [];
        await watcher.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Keys.EventChannel(user.Id)), (_, message) =>
        {
            if (EventLog.ParseLive((string)message!) is not { Type: "image_ready" } e) return;
            lock (readyEvents)
            {
                var id = JsonNode.Parse(e.Payload)!["image"]!["id"]!.GetValue<string>();
                readyEvents[id] = readyEvents.GetValueOrDefault(id) + 1;
                if (ids.Count > 0 && ids.All(readyEvents.ContainsKey)) allReady.TrySetResult();
            }
        });

        var uploaded = await Json(await dying.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(session, "uploaded", "images", files)).ToUrl("/api/images/upload/batch");
            s.As(user);
            s.StatusCodeShouldBe(201);
        }));
        await Die(dying);
        var diedAt = Stopwatch.StartNew();
        lock (readyEvents)
        {
            ids = [.. uploaded["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())];
            if (ids.All(readyEvents.ContainsKey)) allReady.TrySetResult();
        }
        var processing = 0;
        foreach (var id in ids)
            if (await db.HashGetAsync(Keys.Image(user.Id, id), "status") == "processing") processing++;
        Assert.True(processing >= 2, $"the instance died with {processing} of {ids.Count} images processing: not half done");

        // Within the lease plus the work (one picture at a time on the survivor), never restarting the dead one.
        await allReady.Task.WaitAsync(Lease * 1.2 + TimeSpan.FromSeconds(10 * processing));
        Assert.True(diedAt.Elapsed < Lease * 1.2 + TimeSpan.FromSeconds(10 * processing));

        foreach (var id in ids)
            Assert.Equal("ready", (await GetImage(survivor, user, id))["status"]!.GetValue<string>());
        var logged = (await db.StreamRangeAsync(Keys.EventLog(user.Id))).Where(e => e["t"] == "image_ready")
            .Select(e => JsonNode.Parse(e["p"].ToString())!["image"]!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Order(), logged.Order()); // one image_ready per image
        Assert.Equal(0, await db.SortedSetLengthAsync(Keys.WorkLeases(WorkScope.OfUser(user.Id))));
    }

    [Fact]
    public async Task An_instance_stopping_gracefully_hands_back_the_work_it_has_not_started_long_before_its_lease_lapses()
    {
        var lease = TimeSpan.FromSeconds(60);
        await using var redis = await OwnRedis.Start();
        var storage = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "uploads");
        await using var survivor = await AppFixture.StartHost(Instance(redis, storage, lease));
        var stopping = await AppFixture.StartHost(Instance(redis, storage, lease));
        await using var watcher = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var db = watcher.GetDatabase();

        var user = await RegisterUser(host: stopping);
        var session = await CreateSession(stopping, user);
        var ready = new HashSet<string>();
        List<string> ids = [];
        var allReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await watcher.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Keys.EventChannel(user.Id)), (_, message) =>
        {
            if (EventLog.ParseLive((string)message!) is not { Type: "image_ready" } e) return;
            lock (ready)
            {
                ready.Add(JsonNode.Parse(e.Payload)!["image"]!["id"]!.GetValue<string>());
                if (ids.Count > 0 && ids.All(ready.Contains)) allReady.TrySetResult();
            }
        });
        var files = Enumerable.Range(0, 6).Select(i => ($"p{i}.jpg", TestImages.NoisyJpeg(1600, 1200), "image/jpeg")).ToArray();
        var uploaded = await Json(await stopping.Scenario(s =>
        {
            s.Post.MultipartFormData(Form(session, "uploaded", "images", files)).ToUrl("/api/images/upload/batch");
            s.As(user);
            s.StatusCodeShouldBe(201);
        }));
        var stoppedAt = Stopwatch.StartNew();
        await stopping.StopAsync();
        await stopping.DisposeAsync();
        lock (ready)
        {
            ids = [.. uploaded["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())];
            if (ids.All(ready.Contains)) allReady.TrySetResult();
        }
        var left = 0;
        foreach (var id in ids)
            if (await db.HashGetAsync(Keys.Image(user.Id, id), "status") == "processing") left++;
        Assert.True(left >= 2, $"the instance stopped with {left} of {ids.Count} images processing: nothing to hand back");

        // Handed back, the work is due at once: the survivor's next sweep (a tenth of the lease) takes it, not the lapse.
        await allReady.Task.WaitAsync(lease / 10 + TimeSpan.FromSeconds(4 * left));
        Assert.True(stoppedAt.Elapsed < lease / 2);
        var logged = (await db.StreamRangeAsync(Keys.EventLog(user.Id))).Where(e => e["t"] == "image_ready")
            .Select(e => JsonNode.Parse(e["p"].ToString())!["image"]!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Order(), logged.Order());
        Assert.Equal(0, await db.SortedSetLengthAsync(Keys.WorkLeases(WorkScope.OfUser(user.Id))));
    }

    /// <summary>An S3 endpoint that accepts connections and never answers: a run that reaches the store waits there.</summary>
    sealed class SilentStore : IDisposable
    {
        readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        readonly CancellationTokenSource _stop = new();
        readonly List<TcpClient> _clients = [];

        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SilentStore()
        {
            _listener.Start();
            _ = Accept();
        }

        async Task Accept()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_clients) _clients.Add(client);
                    Reached.TrySetResult();
                }
            }
            catch (OperationCanceledException) { }
        }

        public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_clients) foreach (var c in _clients) c.Dispose();
        }
    }

    [Fact]
    public async Task A_collection_left_running_by_a_dead_instance_is_taken_over_and_finished_by_the_other()
    {
        await using var redis = await OwnRedis.Start();
        var storage = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "uploads");
        using var silent = new SilentStore();
        await using var survivor = await AppFixture.StartHost(Instance(redis, storage));
        var stalled = TestS3.AppSettings();
        stalled["AWS_ENDPOINT"] = silent.Url;
        stalled["STORAGE_TIMEOUT_SECONDS"] = "120";
        foreach (var (k, v) in Instance(redis, storage)) stalled.TryAdd(k, v);
        await using var dying = await AppFixture.StartHost(stalled, QuickStop);
        await using var watcher = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var db = watcher.GetDatabase();

        // An unreferenced image uploaded two days ago, and the blobs of an upload that died before its record (listed first).
        var user = await RegisterUser(host: survivor);
        var session = await CreateSession(survivor, user);
        var (image, _) = await UploadAndWait(survivor, user, session, TestImages.Gif(), "old.gif");
        var id = image["id"]!.GetValue<string>();
        var past = DateTimeOffset.UtcNow.AddDays(-2).ToUnixTimeMilliseconds();
        await db.HashSetAsync(Keys.Image(user.Id, id), "createdAt", past);
        await db.SortedSetAddAsync(Keys.ImageBlobIndex, ImageBlobs.Folder(user.Id, session, id, "gif"), past);
        var orphan = ImageBlobs.Folder(user.Id, session, "orphan", "gif");
        await db.SortedSetAddAsync(Keys.ImageBlobIndex, orphan, 0);

        // The dying instance's run takes the collector's lease and stops at the store, deleting the orphan's blobs.
        await dying.Services.GetRequiredService<Wolverine.IMessageBus>().PublishAsync(new CollectGarbage());
        await silent.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, await db.SortedSetLengthAsync(Keys.WorkLeases("gc")));
        Assert.Equal(2, await db.SortedSetLengthAsync(Keys.ImageBlobIndex));

        var diedAt = Stopwatch.StartNew();
        var tracked = await survivor.TrackActivity(Lease * 1.2 + TimeSpan.FromSeconds(30)).DoNotAssertOnExceptionsDetected()
            .WaitForMessageToBeReceivedAt<CollectGarbage>(survivor)
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ => Die(dying)));

        Assert.True(diedAt.Elapsed < Lease * 1.2 + TimeSpan.FromSeconds(30));
        Assert.Equal(1, tracked.FindSingleTrackedMessageOfType<GarbageCollected>().Removed);
        Assert.False(await db.KeyExistsAsync(Keys.Image(user.Id, id)));
        Assert.Equal(0, await db.SortedSetLengthAsync(Keys.ImageBlobIndex));
        Assert.Equal(0, await db.SortedSetLengthAsync(Keys.WorkLeases("gc")));
        Assert.False(await survivor.Services.GetRequiredService<IObjectStorage>().ExistsAsync(image["path"]!.GetValue<string>()));
    }
}
