using System.Text.Json.Serialization;
using NanoBanana.Infrastructure.Generation;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Features.Generation.Compatibility;

/// <summary>One synchronous provider call for the seed client's routes; nothing is stored.</summary>
public sealed record GenerateCompat(string UserId, string Provider, ImageRequest Request, bool Mock);

/// <summary>The original server's answer: the pictures as base64 (byte arrays serialize as base64) and the provider's words.</summary>
public sealed record CompatImages(IReadOnlyList<byte[]> Images,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text = null); // absent when the provider said nothing

public static class GenerateCompatHandler
{
    public static async Task<CompatImages> Handle(GenerateCompat cmd, ImageProviders providers, GenerationQuota quota, CancellationToken ct)
    {
        var provider = providers.Find(cmd.Provider) ?? throw ApiProblem.NotFound("provider");
        if (!ImageProviders.Available(provider, cmd.Mock))
            throw new ApiProblem(400, "provider_not_configured",
                $"The {provider.Id} provider is not configured on this server. Ask its operator to set its key, or add ?mock=1 for a local picture.");

        await using var claim = await quota.Acquire(cmd.UserId);
        try
        {
            var result = await providers.Run(provider, cmd.Request, cmd.Mock, ct);
            return new CompatImages([.. result.Images.Select(i => i.Bytes)], result.Text);
        }
        catch (GenerationFailedException e)
        {
            throw ProblemFor(e);
        }
    }

    /// <summary>The SPEC's statuses for a failed call; the title (the seed client's <c>error</c>) says what happened in a sentence.</summary>
    public static ApiProblem ProblemFor(GenerationFailedException e) => e.Kind switch
    {
        GenerationFailure.Refused => new ApiProblem(422, e.Code, e.Message) { Title = "The image provider refused this request." },
        GenerationFailure.Timeout => new ApiProblem(504, e.Code, e.Message) { Title = "The image provider did not answer in time." },
        GenerationFailure.InvalidOutput => new ApiProblem(502, e.Code, e.Message) { Title = "The image provider answered no usable picture." },
        _ => new ApiProblem(502, e.Code, e.Message) { Title = "The image provider is unavailable." },
    };
}
