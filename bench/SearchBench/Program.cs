using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using StackExchange.Redis;

// Sessions, messages and search as a user meets them: over HTTP against the running app (bench/run.sh starts it
// and its Redis). One user, a session of 10 messages and one of N, posted through the API with many in flight;
// then pages, searches and the deletion of the large session, each timed from the client. Writes
// "## Sessions, messages and search" into docs/BENCHMARKS.md.
// Usage: SearchBench --url http://127.0.0.1:3419 --redis 127.0.0.1:6419 --app-pid P --redis-pid P [--messages 100000]
//   [--in-flight 64] [--out docs/BENCHMARKS.md] [--command "bash bench/run.sh 100000"]

var o = Options.Parse(args);
var inv = CultureInfo.InvariantCulture;
string N(double v) => v.ToString("N0", inv);
string Ms(double v) => v.ToString(v < 10 ? "F2" : v < 100 ? "F1" : "F0", inv);
var started = DateTime.UtcNow;
var loadBefore = LoadAverage();

var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = o.InFlight })
    { BaseAddress = new Uri(o.Url), Timeout = TimeSpan.FromSeconds(60) };
var redis = await ConnectionMultiplexer.ConnectAsync(o.Redis + ",allowAdmin=true");
var server = redis.GetServers()[0];
var redisVersion = (await server.InfoAsync("server")).SelectMany(g => g).First(kv => kv.Key == "redis_version").Value;

const string Password = "search bench password 1";
var run = Guid.NewGuid().ToString("N")[..8];
var email = $"search.{run}@example.com";
var registered = await Send(HttpMethod.Post, "/api/auth/register", new { email, username = $"search_{run}", password = Password }, null);
var userId = registered["user"]!["id"]!.GetValue<string>();
var token = registered["token"]!.GetValue<string>();
// Access tokens live 15 minutes: a fresh one before each phase.
async Task SignIn() => token = (await Send(HttpMethod.Post, "/api/auth/login", new { email, password = Password }, null))["token"]!.GetValue<string>();

async Task<string> NewSession(string title) =>
    (await Send(HttpMethod.Post, "/api/sessions", new { title }, token))["session"]!["id"]!.GetValue<string>();
Task Post(string session, int i, string text) =>
    Send(HttpMethod.Post, $"/api/sessions/{session}/messages", new { role = i % 2 == 0 ? "user" : "assistant", text, imageIds = Array.Empty<string>() }, token);

var small = await NewSession("small");
var large = await NewSession("large");
var texts = new TextMaker(42);
for (var i = 0; i < 10; i++) await Post(small, i, texts.Next(i));
// Deleted first to warm the delete and purge paths (JIT): more than one purge batch.
var warmup = await NewSession("warm-up");
await Parallel.ForEachAsync(Enumerable.Range(0, 250), new ParallelOptions { MaxDegreeOfParallelism = 16 },
    async (i, _) => await Post(warmup, i, "warm-up message " + i.ToString(inv)));

// The large session: N - 1 messages with many in flight, then the last one alone, carrying a word no other
// message has: the purge goes in chat order, so that word leaves the index with the purge's last batch.
const string LastWord = "zzlastmessage";
var bodies = Enumerable.Range(0, o.Messages - 1).Select(texts.Next).ToArray();
var memoryBefore = await UsedMemory();
var (app0, redis0) = (CpuSeconds(o.AppPid), CpuSeconds(o.RedisPid));
Console.WriteLine($"posting {N(o.Messages)} messages into one session, {o.InFlight} in flight...");
var seeding = Stopwatch.StartNew();
var posted = 0;
await Parallel.ForEachAsync(Enumerable.Range(0, bodies.Length), new ParallelOptions { MaxDegreeOfParallelism = o.InFlight }, async (i, _) =>
{
    await Post(large, i, bodies[i]);
    if (Interlocked.Increment(ref posted) % 10_000 == 0) Console.WriteLine($"  {N(posted)} after {seeding.Elapsed.TotalSeconds:F0} s");
});
await Post(large, o.Messages - 1, texts.Next(o.Messages - 1) + " " + LastWord);
seeding.Stop();
var (app1, redis1) = (CpuSeconds(o.AppPid), CpuSeconds(o.RedisPid));
var memoryAfter = await UsedMemory();
var eventLog = (long)(await redis.GetDatabase().ExecuteAsync("MEMORY", "USAGE", $"nb:{{u:{userId}}}:ev:log", "SAMPLES", "0"));
var postsPerSecond = o.Messages / seeding.Elapsed.TotalSeconds;
Console.WriteLine($"  {N(postsPerSecond)} posts/s; Redis used_memory grew {(memoryAfter - memoryBefore) / 1048576.0:F1} MiB");

var rows = new List<string>();
void Report(string what, double[] ms)
{
    Array.Sort(ms);
    var row = $"| {what} | {Ms(ms[ms.Length / 2])} | {Ms(ms[(int)(ms.Length * 0.95)])} | {Ms(ms[^1])} |";
    rows.Add(row);
    Console.WriteLine(row);
}

// 20 warm-up calls, then the timed ones, one after the other; each call gets its own `n`, so the read cache
// (keyed by path and query) never answers it: every page is read from Redis.
var call = 0;
async Task<double[]> Time(int runs, string path)
{
    var separator = path.Contains('?') ? '&' : '?';
    for (var i = 0; i < 20; i++) await Get($"{path}{separator}n={++call}");
    var ms = new double[runs];
    for (var i = 0; i < runs; i++)
    {
        var url = $"{path}{separator}n={++call}";
        var sw = Stopwatch.StartNew();
        await Get(url);
        ms[i] = sw.Elapsed.TotalMilliseconds;
    }
    return ms;
}

await Settle();
await SignIn();
string Page(string session, int offset) => $"/api/sessions/{session}/messages?limit=10&offset={offset}";
Report("page of 10, session of 10 messages", await Time(500, Page(small, 0)));
Report($"page of 10, session of {N(o.Messages)}, first page", await Time(500, Page(large, 0)));
Report($"page of 10, session of {N(o.Messages)}, middle page", await Time(500, Page(large, o.Messages / 2)));
Report($"page of 10, session of {N(o.Messages)}, last page", await Time(500, Page(large, o.Messages - 10)));

var queries = new (string Label, string Q)[]
{
    ("rare word", "zebra"),
    ("common word", "sunset"),
    ("short prefix of several words", "bri"),
    ("accent-folded word", "cafe"),
    ("two words (intersection)", "sunset beach"),
    ("Chinese bigram", "背景"),
    ("Chinese 4 characters (bigrams + verification)", "换成海滩"),
    ("Japanese 3 characters", "夕焼け"),
    ("mixed Chinese + Latin", "背景 sunset"),
    ("one-letter prefix", "s"),
};
string Search(string q) => $"/api/search?q={Uri.EscapeDataString(q)}&limit=20";
foreach (var (label, q) in queries)
{
    await SignIn();
    var total = await SearchTotal(q);
    Report($"search {label}: `{q}` ({N(total)} hits)", await Time(200, Search(q)));
}

// Deleting the large session: the answer comes after the first batch; the rest is purged on a local queue.
// The purge is done when the last message's word has left the index (the search total the user sees).
await SignIn();
var warming = Stopwatch.StartNew();
await Send(HttpMethod.Delete, $"/api/sessions/{warmup}", null, token);
var warmupMs = warming.Elapsed.TotalMilliseconds;
await Settle();
var sunsetBefore = await SearchTotal("sunset");
var deleting = Stopwatch.StartNew();
await Send(HttpMethod.Delete, $"/api/sessions/{large}", null, token);
var answeredMs = deleting.Elapsed.TotalMilliseconds;
var polls = 0;
while (await SearchTotal(LastWord) > 0)
{
    if (deleting.Elapsed > TimeSpan.FromMinutes(15)) throw new TimeoutException("the purge did not finish within 15 minutes");
    polls++;
    await Task.Delay(20); // polling an observable condition: the API raises no event a client can wait on for a purge
}
var purgedSeconds = deleting.Elapsed.TotalSeconds;
var sunsetAfter = await SearchTotal("sunset");
var purgedField = (long)(await redis.GetDatabase().HashGetAsync($"nb:{{u:{userId}}}:session:{large}", "purged"));
if (purgedField != o.Messages) throw new InvalidOperationException($"the session's purge counter says {purgedField}, not {o.Messages}");
Console.WriteLine($"delete: warm-up (250 messages) answered after {Ms(warmupMs)} ms; answered after {Ms(answeredMs)} ms, purge done after {purgedSeconds:F1} s; 'sunset' hits {N(sunsetBefore)} -> {N(sunsetAfter)}");

var seedMinutes = seeding.Elapsed.TotalMinutes;
var section = new StringBuilder()
    .AppendLine("## Sessions, messages and search")
    .AppendLine()
    .AppendLine($"Measured {started:yyyy-MM-dd HH:mm} UTC by `{o.Command}` on {Machine()}, Redis {redisVersion} on loopback (AOF everysec, " +
        $"noeviction); load average {loadBefore} at the start, {LoadAverage()} at the end. The app is published (Release, linux-x64) and runs " +
        "in Production on its own port, with the rate limits lifted (`RATE_LIMIT_PER_USER` and `RATE_LIMIT_PER_ADDRESS` = 1,000,000,000) and " +
        "`PASSWORD_HASH_ITERATIONS=1000`; the bench, the app and Redis share the same cores. Everything goes through HTTP on loopback: " +
        $"one user, a session of 10 messages and one of {N(o.Messages)} (chat-like prompts: 85 % English with a long tail of rare words, " +
        $"10 % Chinese, 5 % Japanese), posted through the API, which took {seedMinutes:F1} minutes here" +
        (seedMinutes > 5 ? $" (a smaller N, say `bash bench/run.sh 20000`, gives the same table's shape in a fraction of the time)." : "."))
    .AppendLine()
    .AppendLine("| operation | median ms | p95 ms | max ms |")
    .AppendLine("| --- | --- | --- | --- |");
foreach (var row in rows) section.AppendLine(row);
section.AppendLine()
    .AppendLine("| other figure | value |")
    .AppendLine("| --- | --- |")
    .AppendLine($"| delete the session of {N(o.Messages)} messages | answered after {Ms(answeredMs)} ms (the answer includes the purge of the first 200 messages; " +
        $"the app's first delete, of a session of 250 just before, answered after {Ms(warmupMs)} ms); " +
        $"purge done (its last message gone from search) after {purgedSeconds:F1} s, in {N(Math.Ceiling(o.Messages / 200.0))} batches of 200; " +
        $"`sunset` hits {N(sunsetBefore)} before, {N(sunsetAfter)} after |")
    .AppendLine($"| posts by one user, {o.InFlight} in flight | {N(postsPerSecond)}/s ({N(o.Messages)} in {seeding.Elapsed.TotalSeconds:F0} s); " +
        $"per post {(app1 - app0) * 1000 / o.Messages:F2} ms of app CPU and {(redis1 - redis0) * 1000 / o.Messages:F2} ms of Redis CPU |")
    .AppendLine($"| Redis used_memory for the {N(o.Messages)} messages | {(memoryAfter - memoryBefore) / 1048576.0:F0} MiB ({(memoryAfter - memoryBefore) / 1024.0 / o.Messages:F1} KiB a message), " +
        $"of which {eventLog / 1048576.0:F0} MiB the user's event log (each post's message_created and session_updated, kept `REALTIME_RETENTION_HOURS`, 7 days); " +
        "the rest is the records, the page JSON and the search index |")
    .AppendLine()
    .AppendLine("How to read it:")
    .AppendLine("- Times are the client's: from sending the request to the last byte of the answer, on one kept-alive connection, through the whole " +
        "stack (auth, rate limiter, request log, Wolverine, validation). Each row: 20 warm-up calls, then 500 (pages) or 200 (searches) " +
        "sequential calls. Medians are the work; p95 and max also hold this shared machine's scheduling (see the load average).")
    .AppendLine("- No row is answered from the read cache (docs/decisions.md, \"Read cache\"): each page request carries a query parameter of its own, so " +
        "every page is read from Redis, as the first read after a change is (a repeated request is a cache hit; see \"Load\"). Search has no cache.")
    .AppendLine("- Posts: one user's changes are decided and committed one at a time per instance (docs/decisions.md, \"One change path\"), so this is " +
        "one user's write rate: the posts in flight overlap in HTTP and JSON, and take their turns for the basis read, decision and commit. " +
        "The CPU per post is what each post costs the app and Redis. Many users posting at once: \"Load\".");
Console.WriteLine();
Console.WriteLine(section);
if (o.Out is { } outPath) BenchShared.BenchmarksDoc.WriteSection(outPath, "## Sessions, messages and search", section.ToString());
return 0;

async Task<JsonObject> Send(HttpMethod method, string path, object? body, string? bearer)
{
    using var request = new HttpRequestMessage(method, path);
    if (body is not null) request.Content = JsonContent.Create(body);
    if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
    using var response = await http.SendAsync(request);
    var text = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {text}");
    return JsonNode.Parse(text)!.AsObject();
}

async Task<byte[]> Get(string path)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, path);
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    using var response = await http.SendAsync(request);
    var bytes = await response.Content.ReadAsByteArrayAsync();
    if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}");
    return bytes;
}

async Task<long> SearchTotal(string q) =>
    JsonNode.Parse(await Get(Search(q)))!["pagination"]!["total"]!.GetValue<long>();

async Task<long> UsedMemory() =>
    long.Parse((await server.InfoAsync("memory")).SelectMany(g => g).First(kv => kv.Key == "used_memory").Value, inv);

// Waits (at most 30 s) until the app is idle: what the posts left to do after their answers drains before the timings.
async Task Settle()
{
    var waiting = Stopwatch.StartNew();
    while (waiting.Elapsed < TimeSpan.FromSeconds(30))
    {
        var before = CpuSeconds(o.AppPid);
        await Task.Delay(500);
        if ((CpuSeconds(o.AppPid) - before) / 0.5 < 0.05) return;
    }
}

static double CpuSeconds(int pid)
{
    // utime + stime: fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 a second on Linux).
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

static string Machine()
{
    var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
    var memGiB = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1048576;
    return $"{Environment.ProcessorCount} vCPU {cpu}, {memGiB} GiB RAM, .NET {Environment.Version}";
}

sealed class Options
{
    public string Url = "http://127.0.0.1:3419";
    public string Redis = "127.0.0.1:6419";
    public int AppPid, RedisPid;
    public int Messages = 100_000, InFlight = 64;
    public string? Out;
    public string Command = "bash bench/run.sh";

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--url": o.Url = Next(); break;
                case "--redis": o.Redis = Next(); break;
                case "--app-pid": o.AppPid = Int(); break;
                case "--redis-pid": o.RedisPid = Int(); break;
                case "--messages": o.Messages = Math.Max(20, Int()); break;
                case "--in-flight": o.InFlight = Math.Max(1, Int()); break;
                case "--out": o.Out = Next(); break;
                case "--command": o.Command = Next(); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (o.AppPid <= 0 || o.RedisPid <= 0) throw new ArgumentException("--app-pid and --redis-pid are required");
        return o;
    }
}

/// <summary>Chat-like prompts: English from a Zipf-ish vocabulary with some accented words, and Chinese and Japanese sentences.</summary>
sealed class TextMaker(int seed)
{
    readonly Random _random = new(seed);
    static readonly string[] Common = ["make", "the", "background", "brighter", "sunset", "beach", "sky", "add", "remove", "person",
        "photo", "image", "color", "warmer", "cooler", "style", "like", "please", "more", "less", "light", "shadow", "contrast",
        "bright", "bring", "british", "brick", "bridge", "café", "naïve", "résumé", "portrait", "landscape", "mountain", "ocean"];
    static readonly string[] Chinese = ["请把背景换成海滩日落", "让天空更蓝一些", "给人物加上微笑", "把这张照片变成油画风格", "去掉背景里的路人"];
    static readonly string[] Japanese = ["背景を夕焼けの海に変えてください", "空をもっと青くして", "写真を水彩画風にしてください"];

    public string Next(int i)
    {
        var roll = _random.NextDouble();
        if (roll < 0.10) return Chinese[_random.Next(Chinese.Length)] + (_random.NextDouble() < 0.3 ? " sunset" : "");
        if (roll < 0.15) return Japanese[_random.Next(Japanese.Length)];
        var words = new List<string>();
        var n = 6 + _random.Next(14);
        for (int k = 0; k < n; k++)
        {
            // Mostly common words, sometimes a rarer made-up one (a long tail of 20,000 words).
            words.Add(_random.NextDouble() < 0.8
                ? Common[(int)Math.Floor(Math.Pow(_random.NextDouble(), 2) * Common.Length)]
                : "w" + _random.Next(20_000).ToString(CultureInfo.InvariantCulture));
        }
        if (i % 10_000 == 7) words.Add("zebra");
        return string.Join(' ', words);
    }
}
