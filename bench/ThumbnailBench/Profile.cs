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
            ("copy to another file by File.Copy (the local store put)", f => File.Copy(f, Path.Combine(temp, "copy"), overwrite: true)),
            ("inspect (sniff, find loader, header, truncation check)", f => inspector.Inspect(f)),
            ("  of which: decode at 1/2 scale (avg)", f => { using var i = NetVips.Image.NewFromBuffer(File.ReadAllBytes(f), access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 2 } }); i.Avg(); }),
            ("  of which: decode at 1/8 scale (avg)", f => { using var i = NetVips.Image.NewFromBuffer(File.ReadAllBytes(f), access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 8 } }); i.Avg(); }),
            ("  of which: WebP 1024x768 + 256x192 encode", f => { using var i = NetVips.Image.NewFromBuffer(File.ReadAllBytes(f), kwargs: new NetVips.VOption { { "shrink", 2 } }).ThumbnailImage(1024).CopyMemory(); i.WebpsaveBuffer(q: 80); i.ThumbnailImage(256).WebpsaveBuffer(q: 80); }),
            ("  of which: decode 1/2 + resize to 1024 (avg)", f => { using var i = NetVips.Image.NewFromFile(f, access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 2 } }); using var t = i.ThumbnailImage(1024, noRotate: true); t.Avg(); }),
            ("  of which: decode 1/2 + resize to 1024 + copy_memory", f => { using var i = NetVips.Image.NewFromFile(f, access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 2 } }); using var t = i.ThumbnailImage(1024, noRotate: true); using var m = t.CopyMemory(); }),
            ("  of which: the above + WebP 1024", f => { using var i = NetVips.Image.NewFromFile(f, access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 2 } }); using var t = i.ThumbnailImage(1024, noRotate: true); using var m = t.CopyMemory(); m.WebpsaveBuffer(q: 80, keep: NetVips.Enums.ForeignKeep.None); }),
            ("  of which: the above + 256 + WebP 256", f => { using var i = NetVips.Image.NewFromFile(f, access: NetVips.Enums.Access.Sequential, kwargs: new NetVips.VOption { { "shrink", 2 } }); using var t = i.ThumbnailImage(1024, noRotate: true); using var m = t.CopyMemory(); m.WebpsaveBuffer(q: 80, keep: NetVips.Enums.ForeignKeep.None); using var s = m.ThumbnailImage(256, noRotate: true); s.WebpsaveBuffer(q: 80, keep: NetVips.Enums.ForeignKeep.None); }),
            ("thumbnails 1024 + 256 from the bytes read into a new array", f => Thumbnailer.Make(File.ReadAllBytes(f), [256, 1024])),
            ("thumbnails 1024 + 256 from the open file (the local store)", f => { using var file = File.OpenRead(f); Thumbnailer.Make(file, [256, 1024]); }),
            ("copy to another file through an 80 KiB buffer, synchronous", f => { using (var from = File.OpenRead(f)) using (var to = File.Create(Path.Combine(temp, "copy"))) from.CopyTo(to, 81920); }),
            ("copy to another file as the local store did (async streams, 80 KiB)", f => CopyAsync(f, Path.Combine(temp, "copy")).GetAwaiter().GetResult()),
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

    static async Task CopyAsync(string from, string to)
    {
        await using var source = File.OpenRead(from);
        await using var target = new FileStream(to, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true);
        await source.CopyToAsync(target);
    }
}
