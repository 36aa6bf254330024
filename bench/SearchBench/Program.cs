using System.Diagnostics;
using System.Globalization;
using NanoBanana.Features.Messages.ListMessages;
using NanoBanana.Features.Messages.PostMessage;
using NanoBanana.Features.Search;
using NanoBanana.Features.Sessions.CreateSession;
using StackExchange.Redis;
using SearchQuery = NanoBanana.Features.Search.Search;

// Measures, against a real Redis, the two costs issue 4 puts a number on:
//  1. reading a page of messages from a session of 10 vs 100,000 messages (O(log n + page));
//  2. searching 100,000 messages of one user.
// The data goes in through the same handlers and Lua scripts the API uses (no HTTP: the figures are
// the store's, not Kestrel's). Usage: dotnet run -c Release -- [redis endpoint] [messages]
// It writes under a fresh user id and never flushes: pointed at a shared Redis it only adds keys.

var endpoint = args.Length > 0 ? args[0] : "127.0.0.1:6419";
var total = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
var redis = await ConnectionMultiplexer.ConnectAsync($"{endpoint},allowAdmin=true");
var db = redis.GetDatabase();
var server = redis.GetServers().First();
var clock = TimeProvider.System;
var userId = Guid.CreateVersion7().ToString("N");

var small = (await CreateSessionHandler.Handle(new CreateSession("small") { UserId = userId }, db, clock)).Item1.Session.Id;
var large = (await CreateSessionHandler.Handle(new CreateSession("large") { UserId = userId }, db, clock)).Item1.Session.Id;
var memoryBefore = UsedMemory();

var texts = new TextMaker(42);
for (int i = 0; i < 10; i++)
    await PostMessageHandler.Handle(new PostMessage("user", texts.Next(i), null, null, null) { UserId = userId, SessionId = small }, db, clock);

Console.WriteLine($"Writing {total:N0} messages into one session...");
var load = Stopwatch.StartNew();
var inFlight = new List<Task>();
for (int i = 0; i < total; i++)
{
    var cmd = new PostMessage(i % 2 == 0 ? "user" : "assistant", texts.Next(i), null, null, null) { UserId = userId, SessionId = large };
    inFlight.Add(PostMessageHandler.Handle(cmd, db, clock));
    if (inFlight.Count == 256) { await Task.WhenAll(inFlight); inFlight.Clear(); }
}
await Task.WhenAll(inFlight);
load.Stop();
var memoryAfter = UsedMemory();
Console.WriteLine($"  {total / load.Elapsed.TotalSeconds:N0} posts/s; Redis used_memory grew {(memoryAfter - memoryBefore) / 1024.0 / 1024.0:N1} MiB");

var lines = new List<string>();
void Report(string what, double[] ms)
{
    Array.Sort(ms);
    var line = $"| {what} | {ms[ms.Length / 2]:N2} | {ms[(int)(ms.Length * 0.95)]:N2} | {ms[^1]:N2} |";
    lines.Add(line);
    Console.WriteLine(line);
}

async Task<double[]> Time(int runs, Func<Task> action)
{
    for (int i = 0; i < 20; i++) await action(); // warm-up (JIT, script cache)
    var ms = new double[runs];
    for (int i = 0; i < runs; i++)
    {
        var sw = Stopwatch.StartNew();
        await action();
        ms[i] = sw.Elapsed.TotalMilliseconds;
    }
    return ms;
}

Task Page(string session, int offset) => ListMessagesHandler.Handle(new ListMessages(session, 10, offset) { UserId = userId }, db);
Report("page of 10, session of 10 messages", await Time(500, () => Page(small, 0)));
Report($"page of 10, session of {total:N0}, first page", await Time(500, () => Page(large, 0)));
Report($"page of 10, session of {total:N0}, middle page", await Time(500, () => Page(large, total / 2)));
Report($"page of 10, session of {total:N0}, last page", await Time(500, () => Page(large, total - 10)));

var queries = new (string Label, string Q)[]
{
    ("rare word", "zebra"),
    ("common word (~1 in 5 messages)", "sunset"),
    ("prefix of several words", "bri"),
    ("accent-folded word", "cafe"),
    ("two words (intersection)", "sunset beach"),
    ("Chinese bigram", "背景"),
    ("Chinese 4 characters (bigrams + verification)", "换成海滩"),
    ("Japanese 3 characters", "夕焼け"),
    ("mixed Chinese + Latin", "背景 sunset"),
    ("one-letter prefix (widest expansion)", "s"),
};
var counts = new List<string>();
foreach (var (label, q) in queries)
{
    var answer = await SearchHandler.Handle(new SearchQuery(q, 20, 0) { UserId = userId }, db);
    counts.Add($"`{q}`: {answer.Pagination.Total:N0}");
    Report($"search {label}: `{q}` ({answer.Pagination.Total:N0} hits)",
        await Time(200, () => SearchHandler.Handle(new SearchQuery(q, 20, 0) { UserId = userId }, db)));
}

// Deleting the large session: one script releases every message's index entries and image references.
var delete = Stopwatch.StartNew();
var (_, purge) = await NanoBanana.Features.Sessions.DeleteSession.DeleteSessionHandler.Handle(
    new NanoBanana.Features.Sessions.DeleteSession.DeleteSession(large) { UserId = userId }, db,
    new NanoBanana.Infrastructure.Realtime.EventLog(db, new NanoBanana.Infrastructure.Realtime.RealtimeSettings()), clock);
var answered = delete.Elapsed.TotalMilliseconds;
// What the local queue does after the answer, timed here in line.
if (purge is not null) await purge.Finish(db);
delete.Stop();
var afterDelete = await SearchHandler.Handle(new SearchQuery("sunset", 20, 0) { UserId = userId }, db);
var deleteLine = $"Deleting the session of {total:N0} messages: answered after {answered:N1} ms, purged in {delete.Elapsed.TotalMilliseconds:N0} ms ({total / PurgeBatch():N0} scripts); 'sunset' hits afterwards: {afterDelete.Pagination.Total}";
static int PurgeBatch() => NanoBanana.Features.Sessions.DeleteSession.DeleteSessionHandler.PurgeBatch;
Console.WriteLine(deleteLine);

Console.WriteLine();
Console.WriteLine("| operation | median ms | p95 ms | max ms |");
Console.WriteLine("| --- | --- | --- | --- |");
foreach (var l in lines) Console.WriteLine(l);
Console.WriteLine($"Redis memory for {total:N0} messages with their index: {(memoryAfter - memoryBefore) / 1024.0 / 1024.0:N1} MiB");
Console.WriteLine(deleteLine);

long UsedMemory()
{
    var info = server.Info("memory").SelectMany(g => g).First(kv => kv.Key == "used_memory").Value;
    return long.Parse(info, CultureInfo.InvariantCulture);
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
