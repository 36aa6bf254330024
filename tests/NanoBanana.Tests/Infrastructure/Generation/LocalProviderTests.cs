using NanoBanana.Infrastructure.Generation;
using NetVips;

namespace NanoBanana.Tests.Infrastructure.Generation;

/// <summary>The built-in provider, judged by its pixels.</summary>
public sealed class LocalProviderTests : IAsyncLifetime
{
    readonly ProviderHarness _h = new(new Dictionary<string, string?>());
    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _h.DisposeAsync();

    Task<ImageResult> Run(ImageRequest r) => _h.Run("local", r);

    static Image Load(byte[] bytes) => Image.NewFromBuffer(bytes);

    /// <summary>Two halves: black on the left, white on the right.</summary>
    static byte[] HalfBlackHalfWhite(int width, int height)
    {
        using var black = Image.Black(width / 2, height, bands: 3);
        using var white = Image.Black(width - width / 2, height, bands: 3) + 255.0;
        using var joined = black.Join(white, Enums.Direction.Horizontal).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        return joined.PngsaveBuffer();
    }

    [Fact]
    public async Task A_generation_is_a_real_picture_of_the_asked_size_with_varied_pixels()
    {
        var result = await Run(new ImageRequest("a red fox in the snow", [], Size: "320x200", N: 2, Seed: 7));

        Assert.Equal(2, result.Images.Count);
        foreach (var image in result.Images)
        {
            Assert.Equal(("image/png", 320, 200), (image.Mime, image.Width, image.Height));
            using var pixels = Load(image.Bytes);
            Assert.Equal(3, pixels.Bands);
            Assert.True(pixels.Deviate() > 10, "the picture is not one flat colour");
        }
        Assert.NotEqual(result.Images[0].Bytes, result.Images[1].Bytes);
    }

    [Fact]
    public async Task The_same_prompt_inputs_and_seed_give_the_same_bytes_and_another_seed_or_prompt_another_picture()
    {
        var request = new ImageRequest("a lighthouse at dusk", [], Size: "128x96", Seed: 3);
        var first = (await Run(request)).Images[0].Bytes;
        var again = (await Run(request)).Images[0].Bytes;
        var otherSeed = (await Run(request with { Seed = 4 })).Images[0].Bytes;
        var otherPrompt = (await Run(request with { Prompt = "a lighthouse at dawn" })).Images[0].Bytes;

        Assert.Equal(first, again);
        Assert.NotEqual(first, otherSeed);
        Assert.NotEqual(first, otherPrompt);
    }

    [Fact]
    public async Task An_edit_keeps_the_inputs_size_differs_from_it_and_is_visibly_derived_from_it()
    {
        var input = HalfBlackHalfWhite(300, 180);

        var result = await Run(new ImageRequest("make it look like autumn", [new(input, "image/png")], Seed: 1));

        var image = Assert.Single(result.Images);
        Assert.Equal((300, 180), (image.Width, image.Height));
        using var output = Load(image.Bytes);
        using var original = Load(input);
        using var difference = (output.Cast(Enums.BandFormat.Int) - original.Cast(Enums.BandFormat.Int)).Abs();
        Assert.True(difference.Avg() > 20, "the edit changed the picture");
        // The input's structure shows through: the right half stays much brighter than the left.
        using var left = output.Crop(0, 0, 150, 180);
        using var right = output.Crop(150, 0, 150, 180);
        Assert.True(right.Avg() - left.Avg() > 80, $"left {left.Avg():0} right {right.Avg():0}");

        var again = await Run(new ImageRequest("make it look like autumn", [new(input, "image/png")], Seed: 1));
        Assert.Equal(image.Bytes, again.Images[0].Bytes);
    }

    [Fact]
    public async Task An_edit_with_a_mask_changes_only_where_the_mask_is_transparent()
    {
        var input = HalfBlackHalfWhite(200, 100);
        // Opaque on the left half (keep), transparent on the right half (change).
        using var opaque = Image.Black(100, 100, bands: 4) + new double[] { 0, 0, 0, 255 };
        using var clear = Image.Black(100, 100, bands: 4);
        using var maskImage = opaque.Join(clear, Enums.Direction.Horizontal).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        var mask = maskImage.PngsaveBuffer();

        var result = await Run(new ImageRequest("paint the sky", [new(input, "image/png")], new InputPicture(mask, "image/png"), Seed: 2));

        using var output = Load(result.Images[0].Bytes);
        using var original = Load(input);
        using var keptOut = output.Crop(0, 0, 100, 100);
        using var keptIn = original.Crop(0, 0, 100, 100);
        using var changedOut = output.Crop(100, 0, 100, 100);
        using var changedIn = original.Crop(100, 0, 100, 100);
        Assert.Equal(0, (keptOut.Cast(Enums.BandFormat.Int) - keptIn.Cast(Enums.BandFormat.Int)).Abs().Max());
        Assert.True((changedOut.Cast(Enums.BandFormat.Int) - changedIn.Cast(Enums.BandFormat.Int)).Abs().Avg() > 20);
    }

    [Fact]
    public async Task A_mocked_provider_answers_from_local_without_calling_its_api()
    {
        // MOCK_GEMINI with a key pointing nowhere: a call to the API would fail.
        await using var h = new ProviderHarness(new Dictionary<string, string?>
        {
            ["GEMINI_API_KEY"] = "unused", ["GEMINI_BASE_URL"] = "http://127.0.0.1:9/v1beta", ["MOCK_GEMINI"] = "1",
        });

        var result = await h.Run("gemini", new ImageRequest("a cat", [], Size: "64x64"));

        Assert.Equal("gemini", result.Provider);
        Assert.Equal("local-vips-1", result.Model);
        Assert.Equal((64, 64), (result.Images[0].Width, result.Images[0].Height));
    }

    [Fact]
    public async Task Local_is_the_default_provider_until_another_is_configured()
    {
        Assert.Equal("local", _h.Providers.Default.Id);
        await using var configured = new ProviderHarness(new Dictionary<string, string?> { ["SEEDREAM_API_KEY"] = "k" });
        Assert.Equal("seedream", configured.Providers.Default.Id);
    }
}
