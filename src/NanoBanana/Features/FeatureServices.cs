using NanoBanana.Features.Auth;

namespace NanoBanana.Features;

/// <summary>The few services that features share inside the product (not adapters to the outside world).</summary>
public static class FeatureServices
{
    public static IServiceCollection AddFeatureServices(this IServiceCollection services)
    {
        services.AddSingleton<RefreshTokens>();
        services.AddSingleton<LoginAttempts>();
        services.AddSingleton<Generation.GenerationQuota>();
        return services;
    }
}
