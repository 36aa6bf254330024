namespace NanoBanana.Infrastructure.Generation;

/// <summary>A picture sent to a provider: its bytes and their format.</summary>
public sealed record InputPicture(byte[] Bytes, string Mime);

/// <summary>
/// What to make: no input pictures is a generation, one or more an edit (the first is the picture
/// to edit, the rest are references); the mask marks the region to change (transparent = change).
/// </summary>
public sealed record ImageRequest(string Prompt, IReadOnlyList<InputPicture> Images, InputPicture? Mask = null,
    string? Size = null, int N = 1, long? Seed = null, string? Quality = null, string? OutputFormat = null)
{
    public bool IsEdit => Images.Count > 0;
}

/// <summary>What a provider answered, before its pictures are judged: image bytes as sent and its words.</summary>
public sealed record ProviderAnswer(IReadOnlyList<byte[]> Images, string? Text, string Model);

/// <summary>A picture that came back and passed the same checks as an upload.</summary>
public sealed record ProducedImage(byte[] Bytes, string Mime, string Extension, int Width, int Height);

public sealed record ImageResult(string Provider, string Model, IReadOnlyList<ProducedImage> Images, string? Text);

public enum GenerationFailure { Refused, Unavailable, Timeout, InvalidOutput }

/// <summary>A provider call that did not produce pictures, typed by what the caller should tell the person.</summary>
public sealed class GenerationFailedException(GenerationFailure kind, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public GenerationFailure Kind { get; } = kind;

    /// <summary>The SPEC's error code of a failed generation.</summary>
    public string Code => Kind switch
    {
        GenerationFailure.Refused => "provider_refused",
        GenerationFailure.Timeout => "provider_timeout",
        GenerationFailure.InvalidOutput => "invalid_output",
        _ => "provider_unavailable",
    };
}

/// <summary>One image model behind its real API. Throws <see cref="GenerationFailedException"/> when it makes nothing.</summary>
public interface IImageProvider
{
    /// <summary>The id clients pick: <c>gpt-image-1</c>, <c>flux</c>, <c>seedream</c>, <c>gemini</c>, <c>local</c>.</summary>
    string Id { get; }
    string Name { get; }
    string DefaultModel { get; }
    /// <summary>Its key and endpoint are set.</summary>
    bool Configured { get; }
    /// <summary>MOCK_* is set: it answers from the local provider.</summary>
    bool Mock { get; }
    Task<ProviderAnswer> Run(ImageRequest request, CancellationToken ct);
}
