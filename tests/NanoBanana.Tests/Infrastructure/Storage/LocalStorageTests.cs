using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Storage;

namespace NanoBanana.Tests.Infrastructure.Storage;

/// <summary>The contract against the local folder, its URLs served by the app's blob route.</summary>
[Collection(AppCollection.Name)]
public sealed class LocalStorageTests(AppFixture app) : ObjectStorageContract
{
    protected override IObjectStorage Storage => app.Host.Services.GetRequiredService<IObjectStorage>();

    protected override async Task<(int Status, byte[] Bytes)> Fetch(string url)
    {
        var result = await app.Host.Scenario(s =>
        {
            s.Get.Url(new Uri(url).PathAndQuery);
            s.IgnoreStatusCode();
        });
        if (result.Context.Response.Body.CanSeek) result.Context.Response.Body.Position = 0;
        using var copy = new MemoryStream();
        await result.Context.Response.Body.CopyToAsync(copy);
        return (result.Context.Response.StatusCode, copy.ToArray());
    }

    [Fact]
    public void The_app_uses_the_local_store_by_default() => Assert.IsType<LocalStorage>(Storage);

    [Fact]
    public async Task An_expired_or_forged_signature_is_refused()
    {
        var key = $"users/u1/sessions/s1/{Guid.NewGuid():N}/original.png";
        await Storage.PutAsync(key, new MemoryStream([1, 2, 3]), "image/png");
        var url = Storage.GetUrl(key, TimeSpan.FromSeconds(-5));
        Assert.Equal(404, (await Fetch(url.Url)).Status);
        var good = Storage.GetUrl(key).Url;
        Assert.Equal(404, (await Fetch(good.Replace("original.png", "other.png"))).Status);
        Assert.Equal(200, (await Fetch(good)).Status);
    }

    [Fact]
    public async Task A_blob_put_from_a_file_is_that_file_whole()
    {
        var key = $"users/u1/sessions/s1/{Guid.NewGuid():N}/original.jpg";
        var bytes = new byte[300_000];
        Random.Shared.NextBytes(bytes);
        var path = Path.Combine(Path.GetTempPath(), $"nb-put-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(path, bytes);
        try
        {
            await using (var file = File.OpenRead(path)) await Storage.PutAsync(key, file, "image/jpeg");
            await using var stored = await Storage.GetAsync(key);
            using var copy = new MemoryStream();
            await stored!.CopyToAsync(copy);
            Assert.Equal(bytes, copy.ToArray());
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(StoredFile(key))!, "*.tmp"));
        }
        finally { File.Delete(path); }
    }

    string StoredFile(string key) => ((LocalStorage)Storage).FileOf(key) ?? throw new InvalidOperationException($"{key} is not stored.");

    [Fact]
    public async Task A_spooled_file_on_the_stores_file_system_is_taken_as_it_is_not_copied()
    {
        var key = $"users/u1/sessions/s1/{Guid.NewGuid():N}/original.jpg";
        var path = Path.Combine(Path.GetDirectoryName(((LocalStorage)Storage).Root)!, $"nb-spool-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);
        try
        {
            await Storage.PutFileAsync(key, path, "image/jpeg");
            // The same file under a second name: a write to the spooled one shows in the stored one (a copy would not).
            await using (var spooled = new FileStream(path, FileMode.Open, FileAccess.Write)) spooled.Write([9]);
            Assert.Equal([9, 2, 3], await File.ReadAllBytesAsync(StoredFile(key)));
            File.Delete(path);
            Assert.Equal([9, 2, 3], await File.ReadAllBytesAsync(StoredFile(key)));
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(StoredFile(key))!, "*.tmp"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task A_file_on_another_file_system_is_copied()
    {
        Assert.True(Directory.Exists("/dev/shm"), "the test needs a second file system (tmpfs at /dev/shm)");
        Assert.False(((LocalStorage)Storage).Root.StartsWith("/dev/shm", StringComparison.Ordinal));
        var key = $"users/u1/sessions/s1/{Guid.NewGuid():N}/original.jpg";
        var path = Path.Combine("/dev/shm", $"nb-spool-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);
        try
        {
            await Storage.PutFileAsync(key, path, "image/jpeg");
            await using (var spooled = new FileStream(path, FileMode.Open, FileAccess.Write)) spooled.Write([9]);
            Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(StoredFile(key)));
        }
        finally { File.Delete(path); }
    }
}
