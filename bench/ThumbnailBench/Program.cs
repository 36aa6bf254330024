// Thumbnail benchmark: our pipeline (NanoBanana.Infrastructure.Imaging.Thumbnailer, the code the
// thumbnail job runs) and sharp (bench/sharp/thumbnails.mjs) on the same generated photos, same
// sizes and format; then the server's peak memory for a 20 MiB upload and a 10-file batch.
// Writes the figures to docs/BENCHMARKS.md under "## Images". Run: bash bench/thumbnails.sh
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using NanoBanana.Infrastructure.Imaging;
using NetVips;

var root = FindRoot();
var photos = Path.Combine(root, "bench", "results", "photos");
var concurrency = int.Parse(Environment.GetEnvironmentVariable("BENCH_CONCURRENCY") ?? "2", CultureInfo.InvariantCulture);
var rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "3", CultureInfo.InvariantCulture);

// Same rule as the app: parallel jobs x libvips threads per job ~ cores.
Vips.EnsureInitialized(Math.Max(1, Environment.ProcessorCount / concurrency));
MakePhotos(photos);
var files = Directory.GetFiles(photos).Where(f => f.EndsWith(".jpg") || f.EndsWith(".png")).Order().ToArray();
var inputs = files.Select(File.ReadAllBytes).ToArray();
Console.WriteLine($"{inputs.Length} photos, {inputs.Sum(i => i.Length) / 1048576.0:0.0} MiB, concurrency {concurrency}, {rounds} rounds");

// ---- ours
Run(inputs.Take(2).ToArray()); // warm-up
var clock = Stopwatch.StartNew();
for (var r = 0; r < rounds; r++) Run(inputs);
var oursSeconds = clock.Elapsed.TotalSeconds;
var ours = inputs.Length * rounds / oursSeconds;
Console.WriteLine($"ours:  {ours:0.00} images/s");

// ---- sharp
var sharpJson = Exec("node", $"{Path.Combine(root, "bench", "sharp", "thumbnails.mjs")} {photos} {concurrency} {rounds}");
var sharpResult = JsonNode.Parse(sharpJson.Trim().Split('\n').Last())!;
var sharp = sharpResult["perSecond"]!.GetValue<double>();
Console.WriteLine($"sharp: {sharp:0.00} images/s (libvips {sharpResult["sharp"]?["vips"]})");

// ---- upload memory
var memory = await UploadMemory(root, photos);

WriteReport(root, inputs.Length, inputs.Sum(i => (long)i.Length), concurrency, rounds, ours, sharp,
    sharpResult["sharp"]?["vips"]?.ToString() ?? "?", sharpResult["sharp"]?["sharp"]?.ToString() ?? "?", memory);
return;

void Run(byte[][] list)
{
    Parallel.ForEach(list, new ParallelOptions { MaxDegreeOfParallelism = concurrency },
        input => Thumbnailer.Make(input, [256, 1024]));
}

static void MakePhotos(string dir)
{
    if (Directory.Exists(dir) && Directory.GetFiles(dir).Length >= 16) return;
    Directory.CreateDirectory(dir);
    for (var i = 0; i < 12; i++)
    {
        // 12 MP "photos": smooth gradients plus sensor-like noise, stored landscape with EXIF orientation 6 or 8.
        using var x = Image.Xyz(4000, 3000);
        using var gradient = (x[0] * (200.0 / 4000) + x[1] * (55.0 / 3000)).Cast(Enums.BandFormat.Uchar);
        using var noise = Image.Gaussnoise(4000, 3000, mean: 0, sigma: 12);
        using var r = gradient + noise;
        using var g = (gradient * 0.7 + i * 10) + noise;
        using var b = (255 - gradient) + noise;
        using var rgb = r.Bandjoin(g, b).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        using var tagged = rgb.Mutate(m => m.Set(GValue.GIntType, "orientation", i % 2 == 0 ? 6 : 8));
        tagged.Jpegsave(Path.Combine(dir, $"photo{i:00}.jpg"), q: 90);
    }
    for (var i = 0; i < 4; i++)
    {
        // PNGs with alpha: 2000x1500 RGBA, a soft mask over a noisy gradient.
        using var x = Image.Xyz(2000, 1500);
        using var gradient = (x[0] * (255.0 / 2000)).Cast(Enums.BandFormat.Uchar);
        using var noise = Image.Gaussnoise(2000, 1500, mean: 0, sigma: 6);
        using var alpha = (x[1] * (255.0 / 1500)).Cast(Enums.BandFormat.Uchar);
        using var rgba = (gradient + noise).Bandjoin(gradient * 0.5 + i * 30, 255 - gradient, alpha)
            .Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        rgba.Pngsave(Path.Combine(dir, $"alpha{i:00}.png"), compression: 6);
    }
}

static string Exec(string file, string args)
{
    var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
    using var p = Process.Start(psi)!;
    var output = p.StandardOutput.ReadToEnd();
    var error = p.StandardError.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed: {error}");
    return output;
}

// Starts the built app as its own process for each measurement, so its peak resident set (VmHWM) is that request's.
static async Task<List<(string What, long BaselineKb, long PeakKb, double Seconds)>> UploadMemory(string root, string photos)
{
    var results = new List<(string, long, long, double)>();
    var big = Path.Combine(photos, "..", "upload-20mib.png");
    if (!File.Exists(big))
    {
        // Incompressible RGB noise: 2500x2700x3 bytes ~ 19.3 MiB as PNG, just under the 20 MiB limit.
        using var noise = Image.Gaussnoise(2500, 2700, mean: 128, sigma: 80);
        using var rgb = noise.Bandjoin(Image.Gaussnoise(2500, 2700, mean: 128, sigma: 80), Image.Gaussnoise(2500, 2700, mean: 128, sigma: 80))
            .Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        rgb.Pngsave(big, compression: 1);
    }
    var batch = Directory.GetFiles(photos, "photo*.jpg").Order().Take(10).ToArray();
    var dll = Path.Combine(root, "bench", "results", "app", "NanoBanana.dll");
    foreach (var (what, files, route) in new[]
             {
                 ($"one {new FileInfo(big).Length / 1048576.0:0.0} MiB PNG upload", new[] { big }, "/api/images/upload"),
                 ($"10-file batch ({batch.Sum(f => new FileInfo(f).Length) / 1048576.0:0.0} MiB of 12 MP JPEGs)", batch, "/api/images/upload/batch"),
             })
    {
        var port = 3190;
        var redisPort = int.Parse(Environment.GetEnvironmentVariable("BENCH_REDIS_PORT") ?? "6395", CultureInfo.InvariantCulture);
        var psi = new ProcessStartInfo("dotnet", dll)
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
            Environment =
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Development", ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["REDIS_URL"] = $"127.0.0.1:{redisPort}", ["LOCAL_STORAGE_PATH"] = Path.Combine(root, "bench", "results", "uploads"),
                ["LOG_DIR"] = Path.Combine(root, "bench", "results", "logs"), ["THUMBNAIL_PARALLELISM"] = "1",
            },
        };
        using var app = Process.Start(psi)!;
        _ = app.StandardOutput.ReadToEndAsync();
        _ = app.StandardError.ReadToEndAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(2) };
        for (var i = 0; ; i++)
        {
            try { await http.GetAsync("/api/auth/me"); break; } // any answer (401) means it listens
            catch (HttpRequestException) when (i < 300) { }
            await Task.Delay(100);
        }
        var name = "bench" + Guid.NewGuid().ToString("N")[..8];
        var reg = await (await http.PostAsJsonAsync("/api/auth/register",
            new { email = $"{name}@example.com", username = name, password = "benchmark password" })).Content.ReadFromJsonAsync<JsonObject>();
        var userId = reg!["user"]!["id"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", reg["token"]!.GetValue<string>());
        var sessionId = Guid.NewGuid().ToString("N");
        var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redisPort}");
        await redis.GetDatabase().HashSetAsync(NanoBanana.Infrastructure.Redis.Keys.Session(userId, sessionId), "id", sessionId);
        await http.GetAsync("/api/images/user/all");
        var baseline = Kb(app.Id, "VmRSS");

        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(sessionId), "sessionId");
        form.Add(new StringContent("uploaded"), "type");
        foreach (var f in files)
            form.Add(new StreamContent(File.OpenRead(f)), files.Length == 1 ? "image" : "images", Path.GetFileName(f));
        var clock = Stopwatch.StartNew();
        var response = await http.PostAsync(route, form);
        var seconds = clock.Elapsed.TotalSeconds;
        if ((int)response.StatusCode != 201) throw new InvalidOperationException($"{route}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var peak = Kb(app.Id, "VmHWM");
        results.Add((what, baseline, peak, seconds));
        Console.WriteLine($"{what}: baseline {baseline / 1024} MiB, peak {peak / 1024} MiB, {seconds:0.00} s");
        app.Kill(entireProcessTree: true);
        await app.WaitForExitAsync();
        await redis.DisposeAsync();
    }
    return results;
}

static long Kb(int pid, string field) =>
    long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":"))
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

static void WriteReport(string root, int count, long bytes, int concurrency, int rounds, double ours, double sharp,
    string vips, string sharpVersion, List<(string What, long BaselineKb, long PeakKb, double Seconds)> memory)
{
    var docs = Path.Combine(root, "docs", "BENCHMARKS.md");
    var existing = File.Exists(docs) ? File.ReadAllText(docs) : "# Benchmarks\n";
    var start = existing.IndexOf("\n## Images", StringComparison.Ordinal);
    if (start >= 0)
    {
        var end = existing.IndexOf("\n## ", start + 5, StringComparison.Ordinal);
        existing = existing[..start] + (end >= 0 ? existing[end..] : "");
    }
    var inv = CultureInfo.InvariantCulture;
    var lines = new List<string>
    {
        "",
        "## Images",
        "",
        $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on this project's machine ({Environment.ProcessorCount} cores) by `bash bench/thumbnails.sh`",
        "(bench/ThumbnailBench + bench/sharp/thumbnails.mjs). Photo set, made by the benchmark: 12 JPEGs of 4000x3000 (12 MP,",
        $"EXIF orientation 6 or 8, quality 90) and 4 PNGs of 2000x1500 with alpha; {bytes / 1048576.0:0.0} MiB in all. Each image gives",
        "a 1024 px and a 256 px WebP (long side, never upscaled, EXIF orientation applied, metadata stripped, sRGB, quality 80).",
        $"{concurrency} images at a time, {rounds} rounds over the set after a warm-up.",
        "",
        "| pipeline | images/s |",
        "| --- | --- |",
        string.Format(inv, "| ours (NetVips {0}, `Thumbnailer.Make`) | {1:0.00} |", NetVips.NetVips.Version(0) + "." + NetVips.NetVips.Version(1) + "." + NetVips.NetVips.Version(2), ours),
        string.Format(inv, "| sharp {0} (libvips {1}) | {2:0.00} |", sharpVersion, vips, sharp),
        string.Format(inv, "| **ratio ours / sharp** | **{0:0.00}** |", ours / sharp),
        "",
        "Upload memory (the app started fresh for each, `THUMBNAIL_PARALLELISM=1`; resident set before the request and the",
        "process's peak resident set (VmHWM) after the 201, thumbnails included as they run during and right after the request):",
        "",
        "| upload | RSS before | peak RSS | time to 201 |",
        "| --- | --- | --- | --- |",
    };
    lines.AddRange(memory.Select(m => string.Format(inv, "| {0} | {1:0} MiB | {2:0} MiB | {3:0.00} s |", m.What, m.BaselineKb / 1024.0, m.PeakKb / 1024.0, m.Seconds)));
    File.WriteAllText(docs, existing.TrimEnd('\n') + "\n" + string.Join('\n', lines) + "\n");
    Console.WriteLine($"Wrote {docs}");
}

static string FindRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NanoBanana.sln"))) dir = dir.Parent;
    return dir?.FullName ?? throw new InvalidOperationException("Run from inside the repository.");
}
