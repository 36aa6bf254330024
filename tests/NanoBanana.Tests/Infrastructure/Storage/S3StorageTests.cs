using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Storage;

namespace NanoBanana.Tests.Infrastructure.Storage;

/// <summary>The S3-compatible server scripts/test.sh starts (s3rver; NB_TEST_S3, bucket nanobanana-test).</summary>
public static class TestS3
{
    public static string Endpoint => Environment.GetEnvironmentVariable("NB_TEST_S3") ?? "http://127.0.0.1:4569";
    public const string Bucket = "nanobanana-test";

    /// <summary>The app's settings for it, as environment variables (s3rver's fixed credentials).</summary>
    public static Dictionary<string, string?> AppSettings() => new()
    {
        ["STORAGE_TYPE"] = "aws",
        ["AWS_ENDPOINT"] = Endpoint,
        ["AWS_FORCE_PATH_STYLE"] = "true",
        ["AWS_REGION"] = "us-east-1",
        ["AWS_S3_BUCKET"] = Bucket,
        ["AWS_ACCESS_KEY_ID"] = "S3RVER",
        ["AWS_SECRET_ACCESS_KEY"] = "S3RVER",
    };

    public static S3Storage Create()
    {
        var settings = AppSettings();
        var storage = StorageSettings.From((env, _) => settings.GetValueOrDefault(env));
        return new S3Storage(storage, TimeProvider.System);
    }
}

public sealed class S3StorageTests : ObjectStorageContract, IDisposable
{
    readonly S3Storage _storage = TestS3.Create();
    static readonly HttpClient Http = new();

    protected override IObjectStorage Storage => _storage;

    protected override async Task<(int Status, byte[] Bytes)> Fetch(string url)
    {
        using var response = await Http.GetAsync(url);
        return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Urls_are_signed_for_the_public_endpoint_browsers_reach_when_one_is_set()
    {
        // The same s3rver under another host name, as compose's MinIO is http://minio:9000 inside
        // and http://localhost:9000 outside.
        var inside = new Uri(TestS3.Endpoint);
        var outside = $"http://localhost:{inside.Port}";
        var settings = TestS3.AppSettings();
        settings["AWS_PUBLIC_ENDPOINT"] = outside;
        using var storage = new S3Storage(StorageSettings.From((env, _) => settings.GetValueOrDefault(env)), TimeProvider.System);

        var key = $"users/u/sessions/s/{Guid.NewGuid():N}/original.png";
        var bytes = new byte[] { 1, 2, 3, 4, 5 };
        await storage.PutAsync(key, new MemoryStream(bytes), "image/png");
        var url = storage.GetUrl(key).Url;

        Assert.StartsWith(outside + "/", url);
        var (status, body) = await Fetch(url);
        Assert.Equal(200, status);
        Assert.Equal(bytes, body);
        await storage.DeleteAsync(key);
    }

    [Fact]
    public void Aliyun_settings_map_to_the_oss_s3_endpoint_with_virtual_hosted_buckets()
    {
        var env = new Dictionary<string, string?>
        {
            ["STORAGE_TYPE"] = "aliyun", ["ALIYUN_OSS_REGION"] = "oss-cn-hangzhou", ["ALIYUN_OSS_BUCKET"] = "photos",
            ["ALIYUN_ACCESS_KEY_ID"] = "id", ["ALIYUN_ACCESS_KEY_SECRET"] = "secret",
        };
        var s = StorageSettings.From((name, _) => env.GetValueOrDefault(name));
        Assert.Equal("https://oss-cn-hangzhou.aliyuncs.com", s.S3.Endpoint);
        Assert.Equal("cn-hangzhou", s.S3.Region);
        Assert.False(s.S3.ForcePathStyle);
        Assert.Equal(("photos", "id", "secret"), (s.S3.Bucket, s.S3.AccessKeyId, s.S3.SecretAccessKey));

        using var storage = new S3Storage(s, TimeProvider.System);
        var url = new Uri(storage.GetUrl("users/u/sessions/s/i/original.jpg").Url);
        Assert.Equal("photos.oss-cn-hangzhou.aliyuncs.com", url.Host);
        Assert.Equal("https", url.Scheme);
    }

    public void Dispose() => _storage.Dispose();
}
