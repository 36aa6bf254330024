using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Tests.Features.Images;
using NetVips;

namespace NanoBanana.Tests.Infrastructure.Imaging;

/// <summary>The upload's truncation check of a JPEG: a walk of its markers to EOI (<see cref="JpegWalk"/>), no decode.</summary>
public sealed class JpegStructureTests
{
    static byte[] Progressive()
    {
        using var noise = Image.Gaussnoise(640, 480, mean: 128, sigma: 50);
        using var rgb = noise.Bandjoin(noise, noise).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        return rgb.JpegsaveBuffer(q: 90, interlace: true);
    }

    static byte[] WithRestartMarkers()
    {
        using var noise = Image.Gaussnoise(640, 480, mean: 128, sigma: 50);
        using var rgb = noise.Bandjoin(noise, noise).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        return rgb.JpegsaveBuffer(q: 90, restartInterval: 4);
    }

    [Fact]
    public void Whole_baseline_progressive_and_restart_jpegs_reach_their_end()
    {
        Assert.True(JpegWalk.ReachesEnd(TestImages.NoisyJpeg()));
        Assert.True(JpegWalk.ReachesEnd(TestImages.JpegWithOrientation6AndGps()));
        Assert.True(JpegWalk.ReachesEnd(Progressive()));
        Assert.True(JpegWalk.ReachesEnd(WithRestartMarkers()));
    }

    [Fact]
    public void Bytes_after_the_end_of_image_are_accepted()
    {
        Assert.True(JpegWalk.ReachesEnd([.. TestImages.NoisyJpeg(), .. "trailer written by a camera"u8]));
    }

    [Fact]
    public void A_jpeg_cut_anywhere_before_its_end_of_image_is_refused()
    {
        foreach (var jpeg in new[] { TestImages.NoisyJpeg(), Progressive(), WithRestartMarkers(), TestImages.JpegWithOrientation6AndGps() })
        {
            // Every cut: in the headers, in each scan, between progressive scans, and one byte short of EOI.
            for (var length = 0; length < jpeg.Length - 1; length += 1 + length / 64)
                Assert.False(JpegWalk.ReachesEnd(jpeg.AsSpan(0, length)), $"cut at {length} of {jpeg.Length}");
            Assert.False(JpegWalk.ReachesEnd(jpeg.AsSpan(0, jpeg.Length - 1)));
        }
    }

    [Fact]
    public void A_jpeg_whose_end_of_image_comes_before_any_scan_is_refused()
    {
        var jpeg = TestImages.NoisyJpeg();
        var sos = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xDA]);
        Assert.False(JpegWalk.ReachesEnd([.. jpeg.AsSpan(0, sos), 0xFF, 0xD9]));
    }

    [Fact]
    public void A_walk_fed_in_pieces_of_any_size_ends_as_the_walk_of_the_whole()
    {
        foreach (var jpeg in new[] { TestImages.NoisyJpeg(), Progressive(), WithRestartMarkers(), TestImages.JpegWithOrientation6AndGps() })
            foreach (var length in CutsAndWhole(jpeg.Length))
            {
                var whole = JpegWalk.ReachesEnd(jpeg.AsSpan(0, length));
                foreach (var piece in new[] { 1, 2, 3, 5, 4096 })
                {
                    var walk = new JpegWalk();
                    for (var at = 0; at < length; at += piece) walk.Append(jpeg.AsSpan(at, Math.Min(piece, length - at)));
                    Assert.True(whole == walk.ReachedEnd, $"{length} of {jpeg.Length} bytes in pieces of {piece}");
                }
            }
    }

    [Fact]
    public void A_jpeg_file_is_walked_in_pieces_to_its_end_and_a_cut_one_is_refused()
    {
        var jpeg = TestImages.NoisyJpeg();
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, jpeg);
            Assert.True(jpeg.Length > 64 * 1024 && JpegWalk.ReachesEnd(path, jpeg.Length));
            File.WriteAllBytes(path, jpeg[..^1]);
            Assert.False(JpegWalk.ReachesEnd(path, jpeg.Length - 1));
        }
        finally { File.Delete(path); }
    }

    static IEnumerable<int> CutsAndWhole(int length)
    {
        for (var cut = 0; cut < length; cut += 1 + cut / 16) yield return cut;
        yield return length;
    }
}
