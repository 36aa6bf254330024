using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NanoBanana.Infrastructure.Configuration;

namespace NanoBanana.Infrastructure.Storage;

/// <summary>
/// Blobs in a folder, served by this app at <c>/blobs/{key}?exp=&amp;sig=</c> with an HMAC-SHA256
/// signature over key and expiry, so the folder is as private as a bucket.
/// </summary>
public sealed class LocalStorage : IObjectStorage
{
    readonly string _root;
    readonly byte[] _signingKey;
    readonly string _baseUrl;
    readonly TimeSpan _lifetime;
    readonly TimeProvider _clock;

    public LocalStorage(StorageSettings settings, string jwtSecret, string fallbackBaseUrl, TimeProvider clock)
    {
        _root = Path.GetFullPath(settings.LocalPath);
        Directory.CreateDirectory(_root);
        // A key of its own: leaking a blob URL never helps forge a token, and vice versa.
        _signingKey = settings.SigningSecret is { Length: > 0 } s
            ? Encoding.UTF8.GetBytes(s)
            : HMACSHA256.HashData(Encoding.UTF8.GetBytes(jwtSecret), "nanobanana/blob-urls/v1"u8);
        _baseUrl = (settings.PublicBaseUrl ?? fallbackBaseUrl).TrimEnd('/');
        _lifetime = TimeSpan.FromSeconds(settings.UrlExpirySeconds);
        _clock = clock;
    }

    public string Root => _root;

    string PathOf(string key)
    {
        BlobKeys.EnsureSafe(key);
        var full = Path.GetFullPath(Path.Combine(_root, key));
        if (!full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException("The blob key leaves the storage folder.", nameof(key));
        return full;
    }

    public async Task PutAsync(string key, Stream content, string contentType, CancellationToken ct = default)
    {
        var path = PathOf(key);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // Write aside, then rename: a reader never sees half a blob.
            var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            try
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
                    await content.CopyToAsync(file, ct);
                File.Move(temp, path, overwrite: true);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
        catch (IOException e)
        {
            throw new StorageUnavailableException("The local store could not write the blob.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StorageUnavailableException("The local store could not write the blob.", e);
        }
    }

    /// <summary>
    /// A second name for the file (a hard link) when it lies on the store's file system: no bytes read or written.
    /// Anywhere else (another file system, or links refused) its bytes are copied as <see cref="PutAsync"/> does.
    /// </summary>
    public async Task PutFileAsync(string key, string path, string contentType, CancellationToken ct = default)
    {
        var target = PathOf(key);
        if (!OperatingSystem.IsWindows())
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                // Linked aside, then renamed over the key: the same replace-in-one-step as a put.
                var temp = target + "." + Guid.NewGuid().ToString("N") + ".tmp";
                if (Link(path, temp) == 0)
                {
                    try { File.Move(temp, target, overwrite: true); }
                    finally { if (File.Exists(temp)) File.Delete(temp); }
                    return;
                }
            }
            catch (IOException e) { throw new StorageUnavailableException("The local store could not write the blob.", e); }
            catch (UnauthorizedAccessException e) { throw new StorageUnavailableException("The local store could not write the blob.", e); }
        }
        await using var content = File.OpenRead(path);
        await PutAsync(key, content, contentType, ct);
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    static extern int Link(string existing, string created);

    public Task<Stream?> GetAsync(string key, CancellationToken ct = default)
    {
        var path = PathOf(key);
        try
        {
            return Task.FromResult<Stream?>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, useAsync: true));
        }
        catch (FileNotFoundException) { return Task.FromResult<Stream?>(null); }
        catch (DirectoryNotFoundException) { return Task.FromResult<Stream?>(null); }
    }

    public Task<bool> ExistsAsync(string key, CancellationToken ct = default) => Task.FromResult(File.Exists(PathOf(key)));

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default)
    {
        var folder = PathOf(prefix.TrimEnd('/'));
        IReadOnlyList<string> keys = Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(_root, f).Replace(Path.DirectorySeparatorChar, '/'))
                .Where(k => !k.EndsWith(".tmp", StringComparison.Ordinal)).ToList()
            : [];
        return Task.FromResult(keys);
    }

    public Task DeleteAsync(string key, CancellationToken ct = default)
    {
        var path = PathOf(key);
        try
        {
            File.Delete(path);
            // Tidy the image's folder once its last blob is gone.
            var dir = Path.GetDirectoryName(path)!;
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
        }
        catch (DirectoryNotFoundException) { }
        catch (IOException) { /* a concurrent writer recreated the folder: leave it */ }
        return Task.CompletedTask;
    }

    public SignedUrl GetUrl(string key, TimeSpan? lifetime = null)
    {
        BlobKeys.EnsureSafe(key);
        var expires = _clock.GetUtcNow() + (lifetime ?? _lifetime);
        var exp = expires.ToUnixTimeSeconds();
        var path = string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
        return new SignedUrl($"{_baseUrl}/blobs/{path}?exp={exp}&sig={Sign(key, exp)}",
            DateTimeOffset.FromUnixTimeSeconds(exp));
    }

    string Sign(string key, long exp) =>
        Base64Url(HMACSHA256.HashData(_signingKey, Encoding.UTF8.GetBytes($"{key}\n{exp.ToString(CultureInfo.InvariantCulture)}")));

    /// <summary>True when <paramref name="sig"/> signs this key and expiry, and the expiry is still ahead.</summary>
    public bool Verify(string key, long exp, string? sig)
    {
        if (sig is null || !BlobKeys.IsSafe(key)) return false;
        if (_clock.GetUtcNow().ToUnixTimeSeconds() > exp) return false;
        var expected = Encoding.ASCII.GetBytes(Sign(key, exp));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(sig));
    }

    /// <summary>The file behind a key, for the blob route (after <see cref="Verify"/>).</summary>
    public string? FileOf(string key)
    {
        var path = PathOf(key);
        return File.Exists(path) ? path : null;
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
