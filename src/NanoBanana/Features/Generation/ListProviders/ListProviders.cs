using Carter;
using NanoBanana.Infrastructure.Generation;
using NanoBanana.Infrastructure.OpenApi;
using Wolverine;

namespace NanoBanana.Features.Generation.ListProviders;

public sealed record ListGenerationProviders;

/// <summary><c>configured</c>: a call can be answered (settings present, or MOCK_* makes it answer from local).</summary>
public sealed record ProviderDto(string Id, string Name, bool Configured, bool Mock, string[] Operations, string DefaultModel);

public sealed record ProvidersResponse(IReadOnlyList<ProviderDto> Providers, string DefaultProvider);

public static class ListGenerationProvidersHandler
{
    public static ProvidersResponse Handle(ListGenerationProviders _, ImageProviders providers) =>
        new([.. providers.All.Select(p => new ProviderDto(p.Id, p.Name, ImageProviders.Available(p, mock: false), p.Mock,
            ["generate", "edit"], p.DefaultModel))], providers.Default.Id);
}

public sealed class ListProvidersEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.GenerationRoutes().MapGet("/providers", async (IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<ProvidersResponse>(new ListGenerationProviders(), ct)))
            .WithName("ListGenerationProviders")
            .Example(null, new ProvidersResponse([new ProviderDto("local", "Local (libvips)", true, false, ["generate", "edit"], "local")], "local"))
            .WithSummary("The image providers, whether each is configured, and the default one")
            .Produces<ProvidersResponse>()
            .ProducesProblem(401);
}
