using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using NanoBanana.Infrastructure.Configuration;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace NanoBanana.Infrastructure.Storage;

/// <summary>
/// An S3-compatible bucket (AWS S3, MinIO, R2, Aliyun OSS's S3 endpoint). Transient failures are
/// retried with exponential backoff; a store that keeps failing opens a circuit so callers learn
/// at once (503) instead of each waiting through its own retries.
/// </summary>
public sealed class S3Storage : IObjectStorage, IDisposable
{
    readonly AmazonS3Client _client;
    // Presigning is local computation; a URL for browsers is signed for the host they reach.
    readonly AmazonS3Client _signer;
    readonly string _bucket;
    readonly TimeSpan _lifetime;
    readonly Protocol _protocol;
    readonly TimeProvider _clock;
    readonly ResiliencePipeline _pipeline;

    public S3Storage(StorageSettings settings, TimeProvider clock)
    {
        var s3 = settings.S3;
        _bucket = s3.Bucket ?? throw new InvalidOperationException(
            "The S3 store needs a bucket: set AWS_S3_BUCKET (STORAGE_TYPE=aws) or ALIYUN_OSS_BUCKET (STORAGE_TYPE=aliyun).");
        var browserEndpoint = s3.PublicEndpoint ?? s3.Endpoint;
        _protocol = browserEndpoint?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true ? Protocol.HTTP : Protocol.HTTPS;
        _client = Client(s3, Config(s3, s3.Endpoint, settings.TimeoutSeconds));
        _signer = s3.PublicEndpoint is { } publicEndpoint ? Client(s3, Config(s3, publicEndpoint, settings.TimeoutSeconds)) : _client;
        _lifetime = TimeSpan.FromSeconds(settings.UrlExpirySeconds);
        _clock = clock;
        _pipeline = Resilience(settings.TimeoutSeconds);
    }

    static AmazonS3Config Config(S3StoreSettings s3, string? endpoint, int timeoutSeconds)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = s3.ForcePathStyle,
            AuthenticationRegion = s3.Region,
            Timeout = TimeSpan.FromSeconds(timeoutSeconds),
            MaxErrorRetry = 0, // the pipeline below retries, with backoff and a circuit
            // S3-compatible stores (s3rver, OSS, older MinIO) do not speak the SDK's default trailing checksums.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (endpoint is not null) config.ServiceURL = endpoint;
        else config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(s3.Region);
        return config;
    }

    static AmazonS3Client Client(S3StoreSettings s3, AmazonS3Config config) =>
        s3.AccessKeyId is { } id && s3.SecretAccessKey is { } secret
            ? new AmazonS3Client(new BasicAWSCredentials(id, secret), config)
            : new AmazonS3Client(config); // the SDK's default chain: instance roles, profiles

    static ResiliencePipeline Resilience(int timeoutSeconds)
    {
        var transient = new PredicateBuilder()
            .Handle<AmazonServiceException>(e => e.StatusCode is >= HttpStatusCode.InternalServerError or HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout
                                                 || e.InnerException is HttpRequestException or IOException or SocketException)
            .Handle<AmazonClientException>()
            .Handle<HttpRequestException>()
            .Handle<IOException>()
            .Handle<SocketException>()
            .Handle<TimeoutRejectedException>()
            .Handle<TaskCanceledException>();
        return new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient, FailureRatio = 0.8, MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = TimeSpan.FromSeconds(15),
            })
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient, MaxRetryAttempts = 3, BackoffType = DelayBackoffType.Exponential,
                UseJitter = true, Delay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(2),
            })
            .AddTimeout(TimeSpan.FromSeconds(timeoutSeconds))
            .Build();
    }

    async Task<T> Run<T>(Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await _pipeline.ExecuteAsync(async token => await call(token), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        catch (BrokenCircuitException e) { throw new StorageUnavailableException("The object store is failing; calls are paused for a moment.", e); }
        catch (Exception e) when (e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException
                                      or SocketException or TimeoutRejectedException or OperationCanceledException)
        {
            throw new StorageUnavailableException("The object store did not answer.", e);
        }
    }

    public async Task PutAsync(string key, Stream content, string contentType, CancellationToken ct = default)
    {
        BlobKeys.EnsureSafe(key);
        var start = content.CanSeek ? content.Position : -1;
        // Was any attempt made? Its outcome is then unknown, whatever the error says: the HTTP client
        // itself resends a request whose pooled connection died, so a "connection refused" can hide an
        // earlier send the store received in full (drills/run.sh s3 saw exactly that).
        var attempted = false;
        try
        {
            await Run(async token =>
            {
                attempted = true;
                if (start >= 0) content.Position = start; // a retry sends the same bytes again
                await _client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = _bucket, Key = key, InputStream = content, ContentType = contentType,
                    AutoCloseStream = false,
                    // aws-chunked bodies come back corrupted from S3-compatible stores that do not decode them.
                    UseChunkEncoding = false,
                }, token);
                return true;
            }, ct);
        }
        catch (StorageUnavailableException e) when (!attempted)
        {
            throw new StorageUnavailableException(e.Message, e.InnerException) { NothingSent = true };
        }
    }

    public async Task<Stream?> GetAsync(string key, CancellationToken ct = default)
    {
        BlobKeys.EnsureSafe(key);
        return await Run<Stream?>(async token =>
        {
            try
            {
                using var response = await _client.GetObjectAsync(_bucket, key, token);
                // Copy out so a retry-safe, seekable stream is handed back and the connection is freed.
                var copy = new MemoryStream(response.ContentLength > 0 ? (int)Math.Min(response.ContentLength, int.MaxValue) : 0);
                await response.ResponseStream.CopyToAsync(copy, token);
                copy.Position = 0;
                return copy;
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
        }, ct);
    }

    public Task<bool> ExistsAsync(string key, CancellationToken ct = default)
    {
        BlobKeys.EnsureSafe(key);
        return Run(async token =>
        {
            try
            {
                await _client.GetObjectMetadataAsync(_bucket, key, token);
                return true;
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
        }, ct);
    }

    public Task DeleteAsync(string key, CancellationToken ct = default)
    {
        BlobKeys.EnsureSafe(key);
        return Run(async token =>
        {
            await _client.DeleteObjectAsync(_bucket, key, token);
            return true;
        }, ct);
    }

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default)
    {
        BlobKeys.EnsureSafe(prefix.TrimEnd('/'));
        return Run<IReadOnlyList<string>>(async token =>
        {
            var keys = new List<string>();
            var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix };
            while (true)
            {
                var page = await _client.ListObjectsV2Async(request, token);
                keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
                if (page.IsTruncated != true) return keys;
                request.ContinuationToken = page.NextContinuationToken;
            }
        }, ct);
    }

    public SignedUrl GetUrl(string key, TimeSpan? lifetime = null)
    {
        BlobKeys.EnsureSafe(key);
        var expires = _clock.GetUtcNow() + (lifetime ?? _lifetime);
        var url = _signer.GetPreSignedURL(new GetPreSignedUrlRequest
        {
            BucketName = _bucket, Key = key, Verb = HttpVerb.GET, Expires = expires.UtcDateTime, Protocol = _protocol,
        });
        return new SignedUrl(url, expires);
    }

    public void Dispose()
    {
        if (!ReferenceEquals(_signer, _client)) _signer.Dispose();
        _client.Dispose();
    }
}
