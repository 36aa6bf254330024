// Where an upload's CPU goes, step by step, one image at a time on one thread (libvips at 1 thread): the steps the upload
// and the thumbnail job run on the bytes, on the end-to-end photo set. Run: dotnet ThumbnailBench.dll --profile
using System.Diagnostics;
using System.Security.Cryptography;
using NanoBanana.Infrastructure.Imaging;

static class Profile
{
    public static void Run(string root)
    {
        Vips.EnsureInitialized(1);
        var files = Directory.GetFiles(Path.Combine(root, "bench", "results", "photos-e2e"), "*.jpg").Order().ToArray();
        var inspector = new ImageInspector(100_000_000);
        var temp = Path.Combine(Path.GetTempPath(), "nb-profile");
        Directory.CreateDirectory(temp);
        var steps = new (string Name, Action<string> Step)[]
        {
            ("read the file (page cache)", f => File.ReadAllBytes(f)),
            ("SHA-256 of the bytes", f => SHA256.HashData(File.ReadAllBytes(f))),
            ("copy to another file (local store put)", f => File.Copy(f, Path.Combine(temp, "copy"), overwrite: true)),
            ("inspect (sniff, find loader, header, truncation check)", f => inspector.Inspect(f)),
            ("  of which: decode at 1/2 scale (avg)", f => { using var i = NetVips.Image.NewFromBuffer(File.ReadAllBytes(f), access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 2 } }); i.Avg(); }),
            ("  of which: decode at 1/8 scale (avg)", f => { using var i = NetVips.Image.NewFromBuffer(File.ReadAllBytes(f), access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 8 } }); i.Avg(); }),
            ("  of which: WebP 1024x768 + 256x192 encode", f => { using var i = NetVips.Image.NewFromBuffer(File.ReadAllBytes(f), kwargs: new NetVips.VOption { { "shrink", 2 } }).ThumbnailImage(1024).CopyMemory(); i.WebpsaveBuffer(q: 80); i.ThumbnailImage(256).WebpsaveBuffer(q: 80); }),
            ("thumbnails 1024 + 256 from the bytes", f => Thumbnailer.Make(File.ReadAllBytes(f), [256, 1024])),
        };
        foreach (var f in files.Take(2)) foreach (var (_, step) in steps) step(f); // warm-up
        foreach (var (name, step) in steps)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            foreach (var f in files) step(f);
            Console.WriteLine($"{name}: {clock.Elapsed.TotalMilliseconds / files.Length:0.0} ms wall, " +
                $"{(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / files.Length:0.0} ms CPU per image");
        }
        Directory.Delete(temp, recursive: true);
    }
}
