using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace NanoBanana.Infrastructure.Realtime;

public static class RealtimeSetup
{
    /// <summary>The event log, the socket hub, its socket leases and the WebSocket protocol options (server pings, dead-peer timeout).</summary>
    public static IServiceCollection AddRealtime(this IServiceCollection services, IConfiguration configuration)
    {
        var settings = RealtimeSettings.From(configuration);
        services.AddSingleton(settings);
        services.TryAddSingleton<RealtimeStats>();
        services.AddSingleton<EventLog>();
        services.AddSingleton<SocketLeases>();
        services.AddSingleton<RealtimeHub>();
        services.TryAddSingleton<HandshakeGate>();
        services.AddHostedService<SocketLeaseRenewal>();
        services.AddWebSockets(o =>
        {
            o.KeepAliveInterval = settings.KeepAliveInterval;
            // A peer that does not answer a ping within this time is aborted and its resources freed.
            o.KeepAliveTimeout = settings.KeepAliveTimeout;
        });
        return services;
    }
}
