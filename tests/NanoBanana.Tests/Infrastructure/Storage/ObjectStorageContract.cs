using NanoBanana.Infrastructure.Storage;

namespace NanoBanana.Tests.Infrastructure.Storage;

/// <summary>The behaviour every <see cref="IObjectStorage"/> must have; one subclass per store.</summary>
public abstract class ObjectStorageContract
{
    protected abstract IObjectStorage Storage { get; }

    /// <summary>GETs a URL the store handed out, the way a browser would.</summary>
    protected abstract Task<(int Status, byte[] Bytes)> Fetch(string url);

    static string NewKey(string name = "original.jpg") => $"users/u1/sessions/s1/{Guid.NewGuid():N}/{name}";

    static byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        new Random(n).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Put_then_get_returns_the_same_bytes()
    {
        var key = NewKey();
        var bytes = RandomBytes(1024 * 1024 + 17);
        await Storage.PutAsync(key, new MemoryStream(bytes), "image/jpeg");
        await using var stream = await Storage.GetAsync(key);
        Assert.NotNull(stream);
        using var copy = new MemoryStream();
        await stream!.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Fact]
    public async Task A_file_put_then_get_returns_its_bytes()
    {
        var key = NewKey();
        var bytes = RandomBytes(300_000);
        var path = Path.Combine(Path.GetTempPath(), $"nb-put-file-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(path, bytes);
        try
        {
            await Storage.PutFileAsync(key, path, "image/jpeg");
            await using var stream = await Storage.GetAsync(key);
            using var copy = new MemoryStream();
            await stream!.CopyToAsync(copy);
            Assert.Equal(bytes, copy.ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task Put_replaces_an_existing_blob()
    {
        var key = NewKey();
        await Storage.PutAsync(key, new MemoryStream(RandomBytes(100)), "image/png");
        var second = RandomBytes(200);
        await Storage.PutAsync(key, new MemoryStream(second), "image/png");
        await using var stream = await Storage.GetAsync(key);
        using var copy = new MemoryStream();
        await stream!.CopyToAsync(copy);
        Assert.Equal(second, copy.ToArray());
    }

    [Fact]
    public async Task Exists_and_delete_follow_the_blob_and_deleting_twice_is_fine()
    {
        var key = NewKey();
        Assert.False(await Storage.ExistsAsync(key));
        Assert.Null(await Storage.GetAsync(key));
        await Storage.PutAsync(key, new MemoryStream(RandomBytes(10)), "image/gif");
        Assert.True(await Storage.ExistsAsync(key));
        await Storage.DeleteAsync(key);
        Assert.False(await Storage.ExistsAsync(key));
        Assert.Null(await Storage.GetAsync(key));
        await Storage.DeleteAsync(key);
    }

    [Fact]
    public async Task A_signed_url_serves_the_bytes_until_it_expires()
    {
        var key = NewKey("thumb-256.webp");
        var bytes = RandomBytes(5000);
        await Storage.PutAsync(key, new MemoryStream(bytes), "image/webp");
        var url = Storage.GetUrl(key);
        Assert.True(url.ExpiresAt > DateTimeOffset.UtcNow.AddMinutes(59));
        var (status, fetched) = await Fetch(url.Url);
        Assert.Equal(200, status);
        Assert.Equal(bytes, fetched);

        var shortLived = Storage.GetUrl(key, TimeSpan.FromSeconds(30));
        Assert.True(shortLived.ExpiresAt < DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Theory]
    [InlineData("../etc/passwd")]
    [InlineData("users/u1/../../secret")]
    [InlineData("/absolute/path")]
    [InlineData("users\\u1\\x")]
    [InlineData("users//double")]
    public async Task Keys_that_try_to_leave_their_place_are_refused(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Storage.PutAsync(key, new MemoryStream([1]), "image/png"));
        Assert.Throws<ArgumentException>(() => Storage.GetUrl(key));
    }
}
