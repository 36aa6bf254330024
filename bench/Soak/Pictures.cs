using NetVips;

namespace Soak;

/// <summary>A picture to upload: its bytes, a file name and the declared type.</summary>
sealed record Picture(byte[] Bytes, string FileName, string Mime);

/// <summary>
/// Small real photos-to-be made in code: JPEGs and PNGs of 320-1280 px with a colour gradient and
/// noise (so the thumbnailer decodes, resizes and encodes real content). Each upload gets a picture
/// of this set; the app stores every upload as its own image whatever its bytes.
/// </summary>
static class Pictures
{
    public static IReadOnlyList<Picture> Make(int count)
    {
        var random = new Random(7);
        var list = new List<Picture>();
        for (var i = 0; i < count; i++)
        {
            var width = random.Next(320, 1281);
            var height = random.Next(240, 961);
            var (r, g, b) = (random.Next(30, 220), random.Next(30, 220), random.Next(30, 220));
            using var x = Image.Xyz(width, height);
            using var gradient = (x[0] * (120.0 / width) + x[1] * (80.0 / height)).Cast(Enums.BandFormat.Uchar);
            using var noise = Image.Gaussnoise(width, height, mean: 0, sigma: 18);
            using var rgb = (gradient + noise).Bandjoin(gradient + g * 0.5, gradient * 0.5 + b) + new double[] { r * 0.5, 0, 0 };
            using var picture = rgb.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
            list.Add(i % 3 == 2
                ? new Picture(picture.PngsaveBuffer(compression: 6), $"screenshot-{i}.png", "image/png")
                : new Picture(picture.JpegsaveBuffer(q: 85), $"photo-{i}.jpg", "image/jpeg"));
        }
        return list;
    }
}
