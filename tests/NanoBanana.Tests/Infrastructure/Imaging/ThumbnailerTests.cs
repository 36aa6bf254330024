using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Tests.Features.Images;
using NetVips;

namespace NanoBanana.Tests.Infrastructure.Imaging;

/// <summary>The thumbnail pipeline on its own, on pictures big enough for JPEG shrink-on-load.</summary>
public sealed class ThumbnailerTests
{
    [Fact]
    public void A_12_megapixel_jpeg_with_orientation_6_is_shrunk_on_load_and_comes_out_upright()
    {
        var original = TestImages.JpegWithOrientation6AndGps(4000, 3000);
        var thumbs = Thumbnailer.Make(original, [256, 1024]);

        Assert.Equal([(256, 192, 256), (1024, 768, 1024)], thumbs.Select(t => (t.Size, t.Width, t.Height)));
        foreach (var t in thumbs)
        {
            Assert.Equal((t.Width, t.Height), (TestImages.Describe(t.Webp).Width, TestImages.Describe(t.Webp).Height));
            Assert.True(TestImages.StripColour(t.Webp, top: true)[0] > 150, "red on top once rotated clockwise");
            Assert.True(TestImages.StripColour(t.Webp, top: false)[2] > 150, "blue at the bottom");
            Assert.DoesNotContain(TestImages.Fields(t.Webp), f => f.StartsWith("exif") || f.Contains("GPS"));
        }
    }

    [Theory]
    [InlineData(1, 2, null, 2)] // alone on two cores: both
    [InlineData(2, 2, null, 1)] // two jobs on two cores: one each
    [InlineData(3, 2, null, 1)]
    [InlineData(2, 8, null, 4)]
    [InlineData(1, 2, 3, 3)]    // VIPS_CONCURRENCY set: fixed
    public void A_job_takes_the_cores_shared_among_the_jobs_running(int running, int cores, int? fixedThreads, int threads) =>
        Assert.Equal(threads, Vips.ThreadsFor(running, cores, fixedThreads));

    [Fact]
    public void An_upright_big_jpeg_keeps_its_landscape_shape()
    {
        using var img = (Image.Black(3000, 2000, bands: 3) + new double[] { 10, 200, 10 }).Cast(Enums.BandFormat.Uchar)
            .Copy(interpretation: Enums.Interpretation.Srgb);
        var thumbs = Thumbnailer.Make(img.JpegsaveBuffer(), [256, 1024]);
        Assert.Equal([(256, 256, 171), (1024, 1024, 683)], thumbs.Select(t => (t.Size, t.Width, t.Height)));
    }

    [Fact]
    public void A_corrupt_jpeg_fails_with_a_vips_error()
    {
        var jpeg = TestImages.NoisyJpeg(2400, 1800);
        Assert.ThrowsAny<VipsException>(() => Thumbnailer.Make(jpeg[..(jpeg.Length / 2)], [256, 1024]));
    }

    [Fact]
    public void From_an_open_file_the_thumbnails_are_those_of_the_same_bytes_in_memory()
    {
        var original = TestImages.JpegWithOrientation6AndGps(4000, 3000);
        var path = Path.Combine(Path.GetTempPath(), $"nb-thumb-{Guid.NewGuid():N}.jpg");
        File.WriteAllBytes(path, original);
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
            var fromFile = Thumbnailer.Make(file, [256, 1024]);
            var fromBytes = Thumbnailer.Make(original, [256, 1024]);
            Assert.Equal(fromBytes.Select(t => (t.Size, t.Width, t.Height, Convert.ToHexString(t.Webp))),
                fromFile.Select(t => (t.Size, t.Width, t.Height, Convert.ToHexString(t.Webp))));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_truncated_jpeg_file_fails_with_a_vips_error()
    {
        var jpeg = TestImages.NoisyJpeg(2400, 1800);
        var path = Path.Combine(Path.GetTempPath(), $"nb-thumb-{Guid.NewGuid():N}.jpg");
        File.WriteAllBytes(path, jpeg[..(jpeg.Length / 2)]);
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read);
            Assert.ThrowsAny<VipsException>(() => Thumbnailer.Make(file, [256, 1024]));
        }
        finally { File.Delete(path); }
    }
}
