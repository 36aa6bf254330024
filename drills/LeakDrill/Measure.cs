using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using StackExchange.Redis;

namespace LeakDrill;

/// <summary>One reading of everything a leak would grow, taken from outside the app.</summary>
public sealed record Sample(
    string Label,
    int WebSocketsActive,
    long ServerErrors,
    long RssKiB,
    long GcHeapBytes,
    long PoolBlocks,
    IReadOnlyDictionary<string, long> Objects,
    IReadOnlyDictionary<string, (long Bytes, long Count)> Heap,
    int FileDescriptors,
    int SocketDescriptors,
    int TempFiles,
    IReadOnlySet<string> RedisKeys,
    long RedisChannels,
    long RedisClients,
    int ErrorLogLines);

/// <summary>
/// Reads the app's state: /health (active sockets, 5xx count), /proc (RSS, descriptors), the upload
/// temp folder, Redis (keys, pub/sub channels, clients), the error log, and a gcdump (which forces a
/// full collection, so its heap size counts live objects only) with the instance counts of the types
/// a leaked socket or upload would keep alive.
/// </summary>
public sealed partial class Meter(HttpClient http, int pid, IConnectionMultiplexer redis, string tempFolder, string logDirectory, string gcdump)
{
    /// <summary>A folder to keep the gcdumps in (dotnet-gcdump report FILE), or null to delete them.</summary>
    public string? KeepDumpsIn { get; init; }
    int _dumps;

    /// <summary>Types whose live instances are counted: one per open socket or upload in flight.</summary>
    public static readonly string[] Watched =
    [
        "NanoBanana.Infrastructure.Realtime.Connection",
        "System.Net.WebSockets.ManagedWebSocket",
        "NanoBanana.Features.Images.MultipartUpload",
        "Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http.Http1Connection",
        "Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Infrastructure.KestrelConnection",
        "Microsoft.AspNetCore.Http.DefaultHttpContext",
        "System.Net.Sockets.Socket",
        "Microsoft.Win32.SafeHandles.SafeFileHandle",
        "StackExchange.Redis.ChannelMessageQueue",
        "System.Threading.CancellationTokenSource",
    ];

    public async Task<Sample> Take(string label)
    {
        var health = JsonNode.Parse(await http.GetStringAsync("/health"))!;
        var (heap, objects, types, pool) = await GcDump();
        var fds = Directory.GetFiles($"/proc/{pid}/fd");
        var sockets = fds.Count(f => { try { return new FileInfo(f).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true; } catch (IOException) { return false; } });
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var channels = (RedisResult[])(await server.ExecuteAsync("PUBSUB", "CHANNELS", "*"))!;
        var clients = (await server.InfoAsync("clients")).SelectMany(g => g).First(kv => kv.Key == "connected_clients").Value;
        return new Sample(
            label,
            health["websockets"]!["active"]!.GetValue<int>(),
            health["requests"]!["serverErrors"]!.GetValue<long>(),
            Rss(),
            heap,
            pool,
            objects,
            types,
            fds.Length,
            sockets,
            Directory.Exists(tempFolder) ? Directory.GetFiles(tempFolder).Length : 0,
            await StoredKeys(server),
            channels.Length,
            long.Parse(clients, CultureInfo.InvariantCulture),
            ErrorLines());
    }

    /// <summary>The cheap part of a reading, polled while waiting for the app to let go of dropped clients.</summary>
    public async Task<(int WebSockets, int Sockets, int TempFiles)> Quick()
    {
        var health = JsonNode.Parse(await http.GetStringAsync("/health"))!;
        var sockets = Directory.GetFiles($"/proc/{pid}/fd").Count(f =>
        {
            try { return new FileInfo(f).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true; }
            catch (IOException) { return false; }
        });
        return (health["websockets"]!["active"]!.GetValue<int>(), sockets,
            Directory.Exists(tempFolder) ? Directory.GetFiles(tempFolder).Length : 0);
    }

    /// <summary>Keys in Redis, without the abuse counters (rate-limit windows and sign-in failures come and go by themselves).</summary>
    static async Task<IReadOnlySet<string>> StoredKeys(IServer server)
    {
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var key in server.KeysAsync(pattern: "*", pageSize: 1000))
        {
            var k = key.ToString();
            // Rate-limit windows are "rl:fw:{nb:rl:...}" (the limiter library's prefix around ours).
            if (!k.Contains("nb:rl:", StringComparison.Ordinal) && !k.StartsWith("nb:loginfail:", StringComparison.Ordinal)) keys.Add(k);
        }
        return keys;
    }

    long Rss()
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return 0;
    }

    int ErrorLines()
    {
        var path = Path.Combine(logDirectory, "error.log");
        if (!File.Exists(path)) return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var text = new StreamReader(stream).ReadToEnd();
        return text.Split('\n').Count(l => l.Contains("[ERR]", StringComparison.Ordinal) || l.Contains("[FTL]", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^\s*([\d,]+)\s+([\d,]+)\s+(.+?)(?: \(Bytes > [^)]*\))?\s+\[")]
    private static partial Regex TypeLine();

    /// <summary>
    /// The size of one block of Kestrel's memory pool as the heap holds it: a <c>MemoryPoolBlock</c> (40 bytes)
    /// and the 4 KiB byte array it owns (4096 + 24 bytes).
    /// </summary>
    public const long PoolBlockBytes = 40 + 4120;

    async Task<(long Heap, Dictionary<string, long> Objects, Dictionary<string, (long Bytes, long Count)> Types, long PoolBlocks)> GcDump()
    {
        var file = Path.Combine(KeepDumpsIn ?? Path.GetTempPath(), $"leakdrill-{++_dumps}.gcdump");
        try
        {
            await Run(gcdump, $"collect -p {pid} -o {file}");
            var report = await Run(gcdump, $"report {file}");
            long heap = 0;
            var objects = Watched.ToDictionary(t => t, _ => 0L);
            var types = new Dictionary<string, (long Bytes, long Count)>();
            long pool = 0;
            foreach (var line in report.Split('\n'))
            {
                if (line.Contains("GC Heap bytes", StringComparison.Ordinal))
                    heap = long.Parse(line.Trim().Split(' ')[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                var m = TypeLine().Match(line);
                if (!m.Success) continue;
                var (type, bytes, count) = (m.Groups[3].Value,
                    long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture),
                    long.Parse(m.Groups[2].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture));
                var plain = type.Split('<')[0]; // Http1Connection<HostingApplication+Context> counts as Http1Connection
                if (objects.ContainsKey(plain)) objects[plain] += count;
                // Kestrel's pooled I/O blocks, counted by their block objects: the report groups byte arrays by size
                // bucket (all of 1 to 10 KB in one line), so the blocks' own arrays cannot be told from the others.
                if (plain == "Microsoft.AspNetCore.MemoryPoolBlock") pool += count;
                var was = types.GetValueOrDefault(type);
                // The first column is the size of one object of the group (the report groups by type and size).
                types[type] = (was.Bytes + bytes * count, was.Count + count);
            }
            return (heap, objects, types, pool);
        }
        finally
        {
            if (KeepDumpsIn is null) File.Delete(file);
        }
    }

    static async Task<string> Run(string program, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {arguments} failed: {await error}");
        return await output;
    }
}
