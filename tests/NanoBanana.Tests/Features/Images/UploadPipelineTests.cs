using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Storage;
using Wolverine.Tracking;

namespace NanoBanana.Tests.Features.Images;

/// <summary>
/// How uploads and thumbnail jobs overlap on one instance: a job holds a libvips slot for its pixels only, and an
/// upload's records are decided in the user's turn once its originals are stored.
/// </summary>
public sealed class UploadPipelineTests(AppFixture app) : ImageTestContext(app)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task With_one_slot_the_next_images_thumbnails_are_made_while_the_last_ones_are_being_stored()
    {
        var user = await RegisterUser();
        await using var host = await AppFixture.StartHost(
            new Dictionary<string, string?> { ["THUMBNAIL_PARALLELISM"] = "1" },
            s => s.AddSingleton<IObjectStorage>(sp => new HeldStorage(sp.GetRequiredService<LocalStorage>())));
        var store = (HeldStorage)host.Services.GetRequiredService<IObjectStorage>();
        var session = await CreateSession(host, user);
        string first = "", second = "";

        try
        {
            await host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                first = await ImageIdOf(await Upload(host, user, session, TestImages.NoisyJpeg(), expect: 201));
                // The first job has made its thumbnails and is held storing one of them.
                Assert.Equal(first, await store.FirstThumbnailHeld.WaitAsync(Patience));
                second = await ImageIdOf(await Upload(host, user, session, TestImages.NoisyJpeg(640, 480), expect: 201));
                // The second job's pixels ran meanwhile: its thumbnails reach the store while the first one's put still waits.
                Assert.Equal(second, await store.OtherImagesThumbnail.WaitAsync(Patience));
                store.Release();
            }));
        }
        finally { store.Release(); }

        Assert.Equal("ready", (await GetImage(host, user, first))["status"]!.GetValue<string>());
        Assert.Equal("ready", (await GetImage(host, user, second))["status"]!.GetValue<string>());
        Assert.Equal(0, await UnfinishedWork(user));
    }

    [Fact]
    public async Task An_upload_whose_user_changed_while_its_original_was_stored_is_recorded_without_running_again()
    {
        var user = await RegisterUser();
        await using var host = await AppFixture.StartHost(
            services: s => s.AddSingleton<IObjectStorage>(sp => new HeldStorage(sp.GetRequiredService<LocalStorage>(), holdOriginal: true)));
        var store = (HeldStorage)host.Services.GetRequiredService<IObjectStorage>();
        var session = await CreateSession(host, user);

        Task<IScenarioResult>? upload = null;
        try
        {
            await host.TrackActivity(TimeSpan.FromSeconds(60)).ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                upload = Upload(host, user, session, TestImages.Gif());
                Assert.Same(store.OriginalHeld, await Task.WhenAny(store.OriginalHeld, upload));
                await CreateSession(host, user); // another change of the user commits while the original is on its way
                store.Release();
                await ImageIdOf(await upload);
            }));
        }
        finally { store.Release(); }

        // Decided once, after the original was stored: no second run looked for an original it had stored already.
        Assert.Equal(0, store.Lookups);
        Assert.Equal(1, store.OriginalsStored);
        var image = await GetImage(host, user, await ImageIdOf(await upload!));
        Assert.Equal("ready", image["status"]!.GetValue<string>());
    }

    static async Task<string> ImageIdOf(IScenarioResult result)
    {
        Assert.Equal(201, result.Context.Response.StatusCode);
        return (await Json(result))["image"]!["id"]!.GetValue<string>();
    }

    /// <summary>
    /// The local store with the first thumbnail put (or, with <c>holdOriginal</c>, the first original's) held until
    /// <see cref="Release"/>; it tells which image's thumbnail arrived while one was held, and counts lookups.
    /// </summary>
    sealed class HeldStorage(IObjectStorage inner, bool holdOriginal = false) : IObjectStorage
    {
        readonly TaskCompletionSource<string> _thumbnailHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly TaskCompletionSource<string> _otherThumbnail = new(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly TaskCompletionSource _originalHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int _held, _originals, _lookups;

        public Task<string> FirstThumbnailHeld => _thumbnailHeld.Task;
        public Task<string> OtherImagesThumbnail => _otherThumbnail.Task;
        public Task OriginalHeld => _originalHeld.Task;
        public int OriginalsStored => Volatile.Read(ref _originals);
        public int Lookups => Volatile.Read(ref _lookups);
        public void Release() => _released.TrySetResult();

        public async Task PutAsync(string key, Stream content, string contentType, CancellationToken ct = default)
        {
            var name = Path.GetFileName(key);
            var image = Path.GetFileName(Path.GetDirectoryName(key))!;
            if (name.StartsWith("original.", StringComparison.Ordinal))
            {
                if (Interlocked.Increment(ref _originals) == 1 && holdOriginal)
                {
                    _originalHeld.TrySetResult();
                    await _released.Task;
                }
            }
            else if (!holdOriginal && name.StartsWith("thumb-", StringComparison.Ordinal))
            {
                if (Interlocked.CompareExchange(ref _held, 1, 0) == 0)
                {
                    _thumbnailHeld.TrySetResult(image);
                    await _released.Task;
                }
                else if (_thumbnailHeld.Task.Result != image) _otherThumbnail.TrySetResult(image);
            }
            await inner.PutAsync(key, content, contentType, ct);
        }

        public Task<bool> ExistsAsync(string key, CancellationToken ct = default)
        {
            Interlocked.Increment(ref _lookups);
            return inner.ExistsAsync(key, ct);
        }

        public Task<Stream?> GetAsync(string key, CancellationToken ct = default) => inner.GetAsync(key, ct);
        public Task DeleteAsync(string key, CancellationToken ct = default) => inner.DeleteAsync(key, ct);
        public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default) => inner.ListAsync(prefix, ct);
        public SignedUrl GetUrl(string key, TimeSpan? lifetime = null) => inner.GetUrl(key, lifetime);
    }
}
