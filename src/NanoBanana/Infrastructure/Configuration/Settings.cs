namespace NanoBanana.Infrastructure.Configuration;

/// <summary>
/// Every setting of the service in one place. Each value is read from the seed's
/// environment variable first (PORT, REDIS_HOST, JWT_SECRET...), then from appsettings,
/// then falls back to the embedded default.
/// </summary>
public sealed class Settings
{
    public int Port { get; init; } = 3001;
    public RedisSettings Redis { get; init; } = new();
    public JwtSettings Jwt { get; init; } = new();
    public string[] CorsOrigins { get; init; } = ["http://localhost:5173"];
    public LimitSettings Limits { get; init; } = new();
    public string LogDirectory { get; init; } = "logs";
    public bool TrustForwardedHeaders { get; init; }
    public bool ApiDocs { get; init; } = true;
    public StorageSettings Storage { get; init; } = new();

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
            secret = JwtSettings.DevelopmentSecret;
        }

        return new Settings
        {
            Port = Int("PORT", "Port", 3001),
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
            },
            LogDirectory = Get("LOG_DIR", "Logging:Directory") ?? "logs",
            TrustForwardedHeaders = Bool("TRUST_FORWARDED_HEADERS", "TrustForwardedHeaders", false),
            ApiDocs = Bool("API_DOCS", "ApiDocs", true),
            Storage = StorageSettings.From(Get),
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

public sealed class JwtSettings
{
    public const int MinimumSecretLength = 32;
    public const string DevelopmentSecret = "development-only-secret-never-use-in-production-0123456789";
    public string Secret { get; init; } = DevelopmentSecret;
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
}

public sealed class StorageSettings
{
    public string Type { get; init; } = "local";
    public string LocalPath { get; init; } = "data/uploads";

    public static StorageSettings From(Func<string, string, string?> get) => new()
    {
        Type = (get("STORAGE_TYPE", "Storage:Type") ?? "local").ToLowerInvariant(),
        LocalPath = get("LOCAL_STORAGE_PATH", "Storage:LocalPath") ?? "data/uploads",
    };
}
