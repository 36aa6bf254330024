namespace NanoBanana.Infrastructure.Storage;

/// <summary>
/// Where image blobs live: a local folder served by this app, or an S3-compatible bucket.
/// Keys are relative paths such as <c>users/u/sessions/s/i/original.jpg</c>. Buckets stay
/// private; browsers read through <see cref="GetUrl"/>, a signed URL that expires.
/// </summary>
public interface IObjectStorage
{
    /// <summary>Stores <paramref name="content"/> (read from its current position to its end) under <paramref name="key"/>, replacing any blob there.</summary>
    Task PutAsync(string key, Stream content, string contentType, CancellationToken ct = default);

    /// <summary>
    /// Stores the file at <paramref name="path"/>, which the caller never changes afterwards (a spooled upload): a store
    /// may take the file itself rather than a copy of its bytes.
    /// </summary>
    async Task PutFileAsync(string key, string path, string contentType, CancellationToken ct = default)
    {
        await using var content = File.OpenRead(path);
        await PutAsync(key, content, contentType, ct);
    }

    /// <summary>The blob's bytes, or null when there is none.</summary>
    Task<Stream?> GetAsync(string key, CancellationToken ct = default);

    Task<bool> ExistsAsync(string key, CancellationToken ct = default);

    /// <summary>Removes the blob; removing one that does not exist is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken ct = default);

    /// <summary>The keys of every blob whose key starts with <paramref name="prefix"/> (a folder such as <c>users/u/</c>).</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default);

    /// <summary>A URL a browser can GET the blob from until <see cref="SignedUrl.ExpiresAt"/>.</summary>
    SignedUrl GetUrl(string key, TimeSpan? lifetime = null);
}

public readonly record struct SignedUrl(string Url, DateTimeOffset ExpiresAt);

/// <summary>The store did not answer (after retries) or refused: callers answer 503 <c>storage_unavailable</c>.</summary>
public sealed class StorageUnavailableException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>
    /// The put was never attempted (the store's circuit was open), so it stored nothing. False when
    /// unknown: a put that failed after it was sent may have stored the object, or part of it.
    /// </summary>
    public bool NothingSent { get; init; }
}

public static class BlobKeys
{
    /// <summary>SPEC section 4: <c>users/{userId}/sessions/{sessionId}/{imageId}/{original|thumb-256|thumb-1024}.{ext}</c>.</summary>
    /// <summary>The folder of every blob of one user.</summary>
    public static string UserPrefix(string userId) => $"users/{userId}/";

    public static string For(string userId, string sessionId, string imageId, string name, string ext) =>
        $"users/{userId}/sessions/{sessionId}/{imageId}/{name}.{ext}";

    /// <summary>
    /// A key is a relative path of safe segments: no empty, "." or ".." segment, no backslash,
    /// no control character. Everything the stores accept goes through here.
    /// </summary>
    public static bool IsSafe(string key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > 1024 || key[0] == '/') return false;
        foreach (var ch in key)
            if (char.IsControl(ch) || ch == '\\' || ch == ':') return false;
        foreach (var segment in key.Split('/'))
            if (segment is "" or "." or "..") return false;
        return true;
    }

    public static string EnsureSafe(string key) =>
        IsSafe(key) ? key : throw new ArgumentException("The blob key is not a safe relative path.", nameof(key));
}
