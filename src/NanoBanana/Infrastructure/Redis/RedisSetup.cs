using NanoBanana.Infrastructure.Configuration;
using StackExchange.Redis;

namespace NanoBanana.Infrastructure.Redis;

public static class RedisSetup
{
    public static ConfigurationOptions Options(RedisSettings s)
    {
        var options = s.Configuration is { } conf
            ? ConfigurationOptions.Parse(conf)
            : new ConfigurationOptions { EndPoints = { { s.Host, s.Port } }, DefaultDatabase = s.Database };
        if (s.Password is { } pw && options.Password is null) options.Password = pw;
        // Start even when Redis is away: /health reports it and requests answer 503 until it is back.
        options.AbortOnConnectFail = false;
        options.ConnectRetry = 3;
        options.ConnectTimeout = 3000;
        options.SyncTimeout = 3000;
        options.AsyncTimeout = 3000;
        options.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
        // Commands issued while disconnected wait in the client's backlog and are retried once the
        // connection is back, within the timeout: the client's own retry for transient failures.
        options.BacklogPolicy = BacklogPolicy.Default;
        options.ClientName = "nanobanana";
        return options;
    }

    public static IServiceCollection AddRedis(this IServiceCollection services, RedisSettings settings)
    {
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(Options(settings)));
        services.AddSingleton<IDatabase>(sp => sp.GetRequiredService<IConnectionMultiplexer>().GetDatabase());
        return services;
    }
}
