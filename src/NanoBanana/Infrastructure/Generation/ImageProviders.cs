using NanoBanana.Infrastructure.Imaging;

namespace NanoBanana.Infrastructure.Generation;

/// <summary>
/// The providers by id, in the order clients list them, and the one way to call them: a mocked
/// provider (MOCK_*, or the caller's mock switch) answers from <see cref="LocalProvider"/>, and every
/// picture that comes back is judged by its bytes, as an upload is, before anyone uses it.
/// </summary>
public sealed class ImageProviders(IEnumerable<IImageProvider> providers, ImageInspector inspector)
{
    public IReadOnlyList<IImageProvider> All { get; } = [.. providers];

    public IImageProvider? Find(string id) => All.FirstOrDefault(p => p.Id == id);

    /// <summary>The first provider with settings; <c>local</c> when none has any.</summary>
    public IImageProvider Default =>
        All.FirstOrDefault(p => p.Id != LocalProvider.ProviderId && p.Configured) ?? Find(LocalProvider.ProviderId)!;

    /// <summary>Whether a call to the provider can be answered: it has settings, or it answers from local.</summary>
    public static bool Available(IImageProvider provider, bool mock) => provider.Configured || provider.Mock || mock;

    public async Task<ImageResult> Run(IImageProvider provider, ImageRequest request, bool mock, CancellationToken ct)
    {
        var answering = mock || provider.Mock ? Find(LocalProvider.ProviderId)! : provider;
        var answer = await answering.Run(request, ct);
        if (answer.Images.Count == 0)
            throw new GenerationFailedException(GenerationFailure.InvalidOutput, $"The {provider.Id} provider answered without a picture.");
        var judged = new List<ProducedImage>(answer.Images.Count);
        foreach (var bytes in answer.Images) judged.Add(await Judge(bytes, provider.Id, ct));
        return new ImageResult(provider.Id, answer.Model, judged, answer.Text);
    }

    async Task<ProducedImage> Judge(byte[] bytes, string provider, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), $"nanobanana-generated-{Guid.NewGuid():N}");
        try
        {
            await File.WriteAllBytesAsync(path, bytes, ct);
            var info = inspector.Inspect(path);
            return new ProducedImage(bytes, info.Mime, info.Extension, info.Width, info.Height);
        }
        catch (ImageRejectedException e)
        {
            throw new GenerationFailedException(GenerationFailure.InvalidOutput, $"The {provider} provider answered a picture that cannot be used: {e.Message}", e);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
