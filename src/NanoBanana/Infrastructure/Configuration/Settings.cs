using NanoBanana.Infrastructure.Generation;

namespace NanoBanana.Infrastructure.Configuration;

/// <summary>
/// Every setting of the service in one place. Each value is read from the seed's
/// environment variable first (PORT, REDIS_HOST, JWT_SECRET...), then from appsettings,
/// then falls back to the embedded default.
/// </summary>
public sealed class Settings
{
    public int Port { get; init; } = 3001;
    /// <summary>The address Kestrel listens on (with PORT): loopback unless told otherwise; containers set 0.0.0.0.</summary>
    public string ListenAddress { get; init; } = "127.0.0.1";
    public string ListenUrl => $"http://{(ListenAddress.Contains(':') && !ListenAddress.StartsWith('[') ? $"[{ListenAddress}]" : ListenAddress)}:{Port}";
    public RedisSettings Redis { get; init; } = new();
    public JwtSettings Jwt { get; init; } = new();
    public string[] CorsOrigins { get; init; } = ["http://localhost:5173"];
    public LimitSettings Limits { get; init; } = new();
    public string LogDirectory { get; init; } = "logs";
    /// <summary>Addresses or CIDR networks of the proxies whose X-Forwarded-For/-Proto are honoured; empty: none.</summary>
    public string[] KnownProxies { get; init; } = [];
    public bool ApiDocs { get; init; } = true;
    public StorageSettings Storage { get; init; } = new();
    public ImageSettings Images { get; init; } = new();
    public ReadCacheSettings ReadCache { get; init; } = new();
    public GenerationSettings Generation { get; init; } = new();
    /// <summary>Lease on a piece of background work: renewed while it runs; lapsed, any live instance takes the work over.</summary>
    public TimeSpan WorkLease { get; init; } = TimeSpan.FromSeconds(30);

    public static Settings From(IConfiguration c, IHostEnvironment env)
    {
        string? Get(string envName, string key) =>
            NonEmpty(c[envName]) ?? NonEmpty(c[key]);

        int Int(string envName, string key, int fallback) =>
            int.TryParse(Get(envName, key), out var v) ? v : fallback;

        bool Bool(string envName, string key, bool fallback) =>
            bool.TryParse(Get(envName, key), out var v) ? v : fallback;

        var secret = Get("JWT_SECRET", "Jwt:Secret");
        if (string.IsNullOrEmpty(secret) || secret.Length < JwtSettings.MinimumSecretLength)
        {
            if (!env.IsDevelopment())
                throw new InvalidOperationException(
                    $"JWT_SECRET is missing or shorter than {JwtSettings.MinimumSecretLength} characters. " +
                    "Set JWT_SECRET to a long random string (for example: openssl rand -base64 48) before starting the service.");
            secret = DevelopmentSecret.LoadOrCreate(Get("DEV_JWT_SECRET_FILE", "Jwt:DevelopmentSecretFile") ?? "data/dev-jwt-secret");
        }

        return new Settings
        {
            Port = Int("PORT", "Port", 3001),
            ListenAddress = Get("LISTEN_ADDRESS", "ListenAddress") ?? "127.0.0.1",
            Redis = new RedisSettings
            {
                Configuration = Get("REDIS_URL", "Redis:Configuration"),
                Host = Get("REDIS_HOST", "Redis:Host") ?? "127.0.0.1",
                Port = Int("REDIS_PORT", "Redis:Port", 6379),
                Password = Get("REDIS_PASSWORD", "Redis:Password"),
                Database = Int("REDIS_DB", "Redis:Database", 0),
            },
            Jwt = new JwtSettings
            {
                Secret = secret,
                Issuer = Get("JWT_ISSUER", "Jwt:Issuer") ?? "nanobanana",
                AccessTokenMinutes = Int("JWT_ACCESS_MINUTES", "Jwt:AccessTokenMinutes", 15),
                RefreshTokenDays = Int("JWT_REFRESH_DAYS", "Jwt:RefreshTokenDays", 30),
            },
            CorsOrigins = (Get("CORS_ORIGINS", "Cors:Origins") ?? "http://localhost:5173")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Limits = new LimitSettings
            {
                LoginFailuresPerAccount = Int("LOGIN_MAX_FAILURES", "Limits:LoginFailuresPerAccount", 5),
                LoginFailuresPerAddress = Int("LOGIN_MAX_FAILURES_PER_ADDRESS", "Limits:LoginFailuresPerAddress", 50),
                LoginWindowSeconds = Int("LOGIN_WINDOW_SECONDS", "Limits:LoginWindowSeconds", 900),
                RequestsPerMinutePerUser = Int("RATE_LIMIT_PER_USER", "Limits:RequestsPerMinutePerUser", 1200),
                RequestsPerMinutePerAddress = Int("RATE_LIMIT_PER_ADDRESS", "Limits:RequestsPerMinutePerAddress", 2400),
                JsonBodyBytes = Int("MAX_JSON_BODY_BYTES", "Limits:JsonBodyBytes", 256 * 1024),
                PasswordRoutesPerMinutePerAddress = Int("PASSWORD_RATE_PER_ADDRESS", "Limits:PasswordRoutesPerMinutePerAddress", 30),
                RefusalDelay = TimeSpan.FromMilliseconds(Math.Max(0, Int("RATE_LIMIT_REFUSAL_DELAY_MS", "Limits:RefusalDelayMs", 1000))),
                RefusalsHeld = Int("RATE_LIMIT_REFUSALS_HELD", "Limits:RefusalsHeld", 2000),
                PasswordHashConcurrency = Int("PASSWORD_HASH_CONCURRENCY", "Limits:PasswordHashConcurrency", 0),
                PasswordHashIterations = Math.Max(1000, Int("PASSWORD_HASH_ITERATIONS", "Limits:PasswordHashIterations", 600_000)),
            },
            LogDirectory = Get("LOG_DIR", "Logging:Directory") ?? "logs",
            KnownProxies = (Get("KNOWN_PROXIES", "KnownProxies") ?? "")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            ApiDocs = Bool("API_DOCS", "ApiDocs", true),
            Storage = StorageSettings.From(Get),
            Images = ImageSettings.From(Get),
            Generation = GenerationSettings.From(Get),
            WorkLease = TimeSpan.FromSeconds(double.TryParse(Get("WORK_LEASE_SECONDS", "Work:LeaseSeconds"),
                System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var lease) && lease > 0 ? lease : 30),
            ReadCache = new ReadCacheSettings
            {
                Megabytes = Math.Max(0, Int("READ_CACHE_MB", "ReadCache:Megabytes", 64)),
                Seconds = Math.Max(1, Int("READ_CACHE_SECONDS", "ReadCache:Seconds", 60)),
            },
        };
    }

    static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}

public sealed class RedisSettings
{
    /// <summary>A full StackExchange.Redis configuration string (several endpoints for a cluster); wins over Host/Port.</summary>
    public string? Configuration { get; init; }
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 6379;
    public string? Password { get; init; }
    public int Database { get; init; }
}

/// <summary>Answers of hot reads kept in memory per instance, each valid for one version of its user's data.</summary>
public sealed class ReadCacheSettings
{
    /// <summary>Memory for cached answers; 0 turns the cache off.</summary>
    public int Megabytes { get; init; } = 64;
    /// <summary>The longest an answer is kept, even when its user's data did not change.</summary>
    public int Seconds { get; init; } = 60;
}

public sealed class JwtSettings
{
    public const int MinimumSecretLength = 32;
    public string Secret { get; init; } = "";
    public string Issuer { get; init; } = "nanobanana";
    public int AccessTokenMinutes { get; init; } = 15;
    public int RefreshTokenDays { get; init; } = 30;
}

public sealed class LimitSettings
{
    public int LoginFailuresPerAccount { get; init; } = 5;
    public int LoginFailuresPerAddress { get; init; } = 50;
    public int LoginWindowSeconds { get; init; } = 900;
    public int RequestsPerMinutePerUser { get; init; } = 1200;
    public int RequestsPerMinutePerAddress { get; init; } = 2400;
    public int JsonBodyBytes { get; init; } = 256 * 1024;
    /// <summary>Requests per minute one address may make to the routes that hash a password (register, login, password change, account deletion).</summary>
    public int PasswordRoutesPerMinutePerAddress { get; init; } = 30;
    /// <summary>How long a rate-limited request waits for its 429 (0: at once), and how many such answers wait at once at most.</summary>
    public TimeSpan RefusalDelay { get; init; } = TimeSpan.FromSeconds(1);
    public int RefusalsHeld { get; init; } = 2000;
    /// <summary>Password hashes computed at once on one instance; 0: half the cores (at least one).</summary>
    public int PasswordHashConcurrency { get; init; }
    /// <summary>PBKDF2 iterations of a new hash (a stored hash keeps its own count); lowered only where many accounts are made at once (benchmarks).</summary>
    public int PasswordHashIterations { get; init; } = 600_000;
}

public sealed class StorageSettings
{
    public string Type { get; init; } = "local";
    public string LocalPath { get; init; } = "data/uploads";
    /// <summary>How long a signed or presigned blob URL stays valid.</summary>
    public int UrlExpirySeconds { get; init; } = 3600;
    /// <summary>Key for the local store's signed URLs; derived from the JWT secret when empty.</summary>
    public string? SigningSecret { get; init; }
    /// <summary>Absolute base of the local store's URLs (the address browsers reach this service at).</summary>
    public string? PublicBaseUrl { get; init; }
    /// <summary>How long one store call may take before it counts as failed (retries come on top).</summary>
    public int TimeoutSeconds { get; init; } = 10;
    public S3StoreSettings S3 { get; init; } = new();

    public static StorageSettings From(Func<string, string, string?> get)
    {
        var type = (get("STORAGE_TYPE", "Storage:Type") ?? "local").ToLowerInvariant();
        int Int(string envName, string key, int fallback) => int.TryParse(get(envName, key), out var v) ? v : fallback;
        return new()
        {
            Type = type,
            LocalPath = get("LOCAL_STORAGE_PATH", "Storage:LocalPath") ?? "data/uploads",
            UrlExpirySeconds = Int("STORAGE_URL_EXPIRY_SECONDS", "Storage:UrlExpirySeconds", 3600),
            SigningSecret = get("STORAGE_SIGNING_SECRET", "Storage:SigningSecret"),
            PublicBaseUrl = get("PUBLIC_BASE_URL", "Storage:PublicBaseUrl"),
            TimeoutSeconds = Int("STORAGE_TIMEOUT_SECONDS", "Storage:TimeoutSeconds", 10),
            S3 = type == "aliyun" ? S3StoreSettings.Aliyun(get) : S3StoreSettings.Aws(get),
        };
    }
}

/// <summary>An S3-compatible store: AWS S3, MinIO, R2, or Aliyun OSS through its S3-compatible endpoint.</summary>
public sealed class S3StoreSettings
{
    public string? AccessKeyId { get; init; }
    public string? SecretAccessKey { get; init; }
    public string Region { get; init; } = "us-east-1";
    public string? Bucket { get; init; }
    /// <summary>Service URL for a non-AWS store (MinIO, R2, OSS); null means AWS itself.</summary>
    public string? Endpoint { get; init; }
    /// <summary>
    /// The address browsers reach the store at, when it differs from <see cref="Endpoint"/> (compose's
    /// MinIO is http://minio:9000 inside, http://localhost:9000 outside): presigned URLs are signed for it.
    /// </summary>
    public string? PublicEndpoint { get; init; }
    public bool ForcePathStyle { get; init; }

    public static S3StoreSettings Aws(Func<string, string, string?> get) => new()
    {
        AccessKeyId = get("AWS_ACCESS_KEY_ID", "Storage:S3:AccessKeyId"),
        SecretAccessKey = get("AWS_SECRET_ACCESS_KEY", "Storage:S3:SecretAccessKey"),
        Region = get("AWS_REGION", "Storage:S3:Region") ?? "us-east-1",
        Bucket = get("AWS_S3_BUCKET", "Storage:S3:Bucket"),
        Endpoint = get("AWS_ENDPOINT", "Storage:S3:Endpoint"),
        PublicEndpoint = get("AWS_PUBLIC_ENDPOINT", "Storage:S3:PublicEndpoint"),
        ForcePathStyle = bool.TryParse(get("AWS_FORCE_PATH_STYLE", "Storage:S3:ForcePathStyle"), out var f) && f,
    };

    /// <summary>
    /// Aliyun OSS speaks the S3 protocol at https://oss-&lt;region&gt;.aliyuncs.com with virtual-hosted
    /// addressing (bucket in the host name); ALIYUN_OSS_REGION may be given as "cn-hangzhou" or "oss-cn-hangzhou".
    /// </summary>
    public static S3StoreSettings Aliyun(Func<string, string, string?> get)
    {
        var region = get("ALIYUN_OSS_REGION", "Storage:Aliyun:Region") ?? "cn-hangzhou";
        var bare = region.StartsWith("oss-", StringComparison.OrdinalIgnoreCase) ? region[4..] : region;
        var endpoint = get("ALIYUN_OSS_ENDPOINT", "Storage:Aliyun:Endpoint") ?? $"https://oss-{bare}.aliyuncs.com";
        if (!endpoint.Contains("://")) endpoint = "https://" + endpoint;
        return new()
        {
            AccessKeyId = get("ALIYUN_ACCESS_KEY_ID", "Storage:Aliyun:AccessKeyId"),
            SecretAccessKey = get("ALIYUN_ACCESS_KEY_SECRET", "Storage:Aliyun:AccessKeySecret"),
            Region = bare,
            Bucket = get("ALIYUN_OSS_BUCKET", "Storage:Aliyun:Bucket"),
            Endpoint = endpoint,
            PublicEndpoint = get("ALIYUN_OSS_PUBLIC_ENDPOINT", "Storage:Aliyun:PublicEndpoint"),
            ForcePathStyle = false,
        };
    }
}

/// <summary>Upload limits, thumbnail work and garbage collection of images.</summary>
public sealed class ImageSettings
{
    public long MaxFileBytes { get; init; } = 20 * 1024 * 1024;
    public int MaxBatchFiles { get; init; } = 10;
    public int MaxMegapixels { get; init; } = 50;
    /// <summary>
    /// Thumbnails libvips makes at once on one instance (<c>ImagingSlots</c>): one per core plus one, as a JPEG decodes on
    /// one thread whatever libvips is given and a job on its own left its core idle 7 % of the time (hand-offs between
    /// libvips' threads); the local queue runs twice as many jobs, whose I/O overlaps (docs/images.md).
    /// </summary>
    public int ThumbnailParallelism { get; init; } = Environment.ProcessorCount + 1;
    /// <summary>How long, from the upload, a thumbnail job keeps retrying while the store is unreachable before the image is marked failed.</summary>
    public int ThumbnailRetryHours { get; init; } = 24;
    /// <summary>Age an unreferenced image must reach before the garbage collector removes it.</summary>
    public int GcGraceSeconds { get; init; } = 24 * 3600;
    public int GcIntervalSeconds { get; init; } = 3600;
    /// <summary>libvips worker threads per image; 0: each thumbnail job takes the cores divided by the jobs running when it starts.</summary>
    public int VipsConcurrency { get; init; }
    /// <summary>An upload whose body sends nothing for this long is dropped (its connection aborted, its temp files deleted).</summary>
    public int UploadIdleSeconds { get; init; } = 30;
    /// <summary>Where uploads are spooled while they stream in (deleted when the request ends); made private (0700), see UploadSpool.</summary>
    public string UploadTempPath { get; init; } = Path.Combine(Path.GetTempPath(), $"nanobanana-uploads-{Environment.UserName}");

    public static ImageSettings From(Func<string, string, string?> get)
    {
        long Long(string envName, string key, long fallback) => long.TryParse(get(envName, key), out var v) ? v : fallback;
        int Int(string envName, string key, int fallback) => int.TryParse(get(envName, key), out var v) ? v : fallback;
        var defaults = new ImageSettings();
        return new()
        {
            MaxFileBytes = Long("IMAGE_MAX_FILE_BYTES", "Images:MaxFileBytes", defaults.MaxFileBytes),
            MaxBatchFiles = Int("IMAGE_MAX_BATCH_FILES", "Images:MaxBatchFiles", defaults.MaxBatchFiles),
            MaxMegapixels = Int("IMAGE_MAX_MEGAPIXELS", "Images:MaxMegapixels", defaults.MaxMegapixels),
            ThumbnailParallelism = Math.Max(1, Int("THUMBNAIL_PARALLELISM", "Images:ThumbnailParallelism", defaults.ThumbnailParallelism)),
            ThumbnailRetryHours = Math.Max(0, Int("THUMBNAIL_RETRY_HOURS", "Images:ThumbnailRetryHours", defaults.ThumbnailRetryHours)),
            GcGraceSeconds = Int("IMAGE_GC_GRACE_SECONDS", "Images:GcGraceSeconds", defaults.GcGraceSeconds),
            GcIntervalSeconds = Math.Max(1, Int("IMAGE_GC_INTERVAL_SECONDS", "Images:GcIntervalSeconds", defaults.GcIntervalSeconds)),
            VipsConcurrency = Int("VIPS_CONCURRENCY", "Images:VipsConcurrency", 0),
            UploadIdleSeconds = Math.Max(1, Int("UPLOAD_IDLE_TIMEOUT_SECONDS", "Images:UploadIdleSeconds", defaults.UploadIdleSeconds)),
            UploadTempPath = get("UPLOAD_TEMP_PATH", "Images:UploadTempPath") is { Length: > 0 } temp ? temp : defaults.UploadTempPath,
        };
    }
}
