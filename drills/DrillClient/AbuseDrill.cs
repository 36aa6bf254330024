using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DrillClient;

/// <summary>
/// <c>drills/run.sh abuse</c>: one address floods the password routes and opens sockets while another user
/// works and the owner of an account it attacks signs in, against an app with its production limits. Each
/// party's connections are bound to its own loopback source address (127.0.0.x, no proxy in between), so
/// the app tells them apart as it would real clients.
/// </summary>
static partial class AbuseDrill
{
    const string AttackerAddress = "127.0.0.66", WorkerAddress = AbuseWorker.WorkerAddress, OwnerAddress = "127.0.0.20";
    const int Flooders = 250, Sockets = 300;
    const double P99Budget = 50;

    public static async Task<int> Run(Options o)
    {
        var attacker = new Api(o.Url, TimeSpan.FromSeconds(30), AttackerAddress);
        var worker = new Api(o.Url, TimeSpan.FromSeconds(30), WorkerAddress);
        var owner = new Api(o.Url, TimeSpan.FromSeconds(30), OwnerAddress);

        var work = await worker.Register("worker");
        var workSession = await worker.CreateSession(work);
        var victim = await owner.Register("owner");
        var bad = await attacker.Register("attacker");
        var badSession = await attacker.CreateSession(bad);
        Report.Line($"worker {WorkerAddress}, account owner {OwnerAddress}, attacker {AttackerAddress}");

        // The worker's own socket: it must hear each of its posts and nothing of the attacker's.
        using var workerSocket = await Open(worker, work, workSession);
        var heard = new ConcurrentDictionary<string, int>();
        var workerReader = Read(workerSocket, type => heard.AddOrUpdate(type, 1, (_, n) => n + 1));

        // The worker runs in a process of its own: the attacker's loops in this one cannot starve its client.
        await using var workerProcess = WorkerProcess.Start(o, work, workSession);
        // The attacker's socket burst once while the worker warms up: a fresh process compiles the code of the
        // handshake, the refusal and the typing flood at first use (Tier-0 and Tier-1 JIT, about 1 s of CPU on its
        // own); the judged burst later measures what an attacker can do again and again to a running service.
        var coldSockets = SocketFlood(attacker, bad, badSession, 3);
        var warmUp = await workerProcess.Run("warm-up", 6);
        var (coldOpened, coldCloses, _, _) = await coldSockets;
        Report.Line($"warm-up (not judged), with the attacker's socket burst on the fresh process: {warmUp}; " +
                    $"{coldOpened} sockets in, {string.Join(", ", coldCloses.OrderBy(c => c.Key).Select(c => $"{c.Key}: {c.Value}"))}");
        Report.Line($"quiet: the worker alone for {o.Before:F0} s");
        var phases = new List<Phase> { await workerProcess.Run("quiet", o.Before) };

        // Wrong passwords for the owner's account from the attacker's address, then the flood.
        var wrong = new List<Outcome>();
        for (var i = 0; i < 10; i++)
            wrong.Add(await attacker.Post("/api/auth/login", null, new { email = victim.Email, password = "not the password 000" }));
        Report.Line("the attacker's 10 wrong passwords for the owner's account: " + Counts(wrong));

        Report.Line($"flood: {Flooders} concurrent login and register requests from {AttackerAddress}, half with a valid token, for {o.Down:F0} s");
        using var stopFlood = new CancellationTokenSource();
        var flood = Flood(attacker, bad, stopFlood.Token);
        var ownerSignIn = SignInMidway(owner, victim, o.Down);
        phases.Add(await workerProcess.Run("flood", o.Down));
        await stopFlood.CancelAsync();
        var flooded = await flood;
        var signedIn = await ownerSignIn;

        Report.Line($"sockets: {Sockets} sockets of the attacker's user, then a typing flood on those let in, for {o.After:F0} s");
        var sampler = new CpuSampler(o.AppPid, workerProcess.Pid, TimeSpan.FromMilliseconds(100));
        using var stopSampling = new CancellationTokenSource();
        var sampling = sampler.Run(stopSampling.Token);
        var sockets = SocketFlood(attacker, bad, badSession, o.After);
        phases.Add(await workerProcess.Run("sockets", o.After));
        var (opened, closes, typingHeard, typingFrom) = await sockets;
        await stopSampling.CancelAsync();
        await sampling;
        Report.Line(sampler.Table(phases[^1].From, typingFrom.AddSeconds(3)));

        // The worker's socket hears its own posts (each a message_created) and no typing of anyone's.
        var posts = warmUp.Posted + phases.Sum(p => p.Posted);
        var until = Clock.Ms + 5000;
        while (heard.GetValueOrDefault("message_created") < posts && Clock.Ms < until) await Task.Delay(50);
        await workerSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await workerReader;

        var appRequests = ServerTimes(o.AppLogDir, phases, workSession);
        foreach (var p in phases)
        {
            Report.Line(p.ToString());
            SlowRequests(p, appRequests, 5);
        }

        var errorLines = ErrorLines(o.AppLogDir);
        var all = flooded.Concat(wrong).Append(signedIn).Concat(phases.SelectMany(p => p.Outcomes)).ToList();
        Report.Check("nothing answered 5xx other than 503", !all.Any(r => r.Status is >= 500 and not 503),
            $"{all.Count} answers: {Counts(all)}");
        Report.Check("app error log empty", errorLines == 0, $"{errorLines} lines in error.log");
        Report.Check("every flood request answered", flooded.All(r => r.Status != 0), $"{flooded.Count(r => r.Status == 0)} without an answer");
        var refused = flooded.Where(r => r.Status is 429 or 503).ToList();
        Report.Check("the flood is refused with 429 or 503 and Retry-After",
            refused.Count > 0 && refused.All(r => !string.IsNullOrEmpty(r.RetryAfter))
            && flooded.All(r => r.Status is 200 or 201 or 429 or 503),
            $"{flooded.Count} flood requests: {Counts(flooded)}; {refused.Count(r => string.IsNullOrEmpty(r.RetryAfter))} refusals without Retry-After");
        var byToken = flooded.GroupBy(r => r.Route).Select(g => $"{g.Key}: {g.Count(r => r.Ok)} of {g.Count()} let through");
        Report.Line(string.Join("; ", byToken));
        Report.Check("the owner signs in while the attacker floods", signedIn.Status == 200, signedIn.ToString());
        foreach (var p in phases.Skip(1))
            Report.Check($"worker p99 < {P99Budget:F0} ms during the {p.Name} phase", p.P99 < P99Budget && p.Outcomes.All(r => r.Ok),
                $"p99 {Report.Ms(p.P99)} (quiet {Report.Ms(phases[0].P99)}), {p.Outcomes.Count(r => !r.Ok)} not 2xx");
        // The sockets phase in two parts: the 300 handshakes with their refusals a second later, then the typing flood.
        var sockets99 = phases[2];
        var burst = sockets99.Outcomes.Where(r => r.At < typingFrom).Select(r => r.Ms).ToList();
        var typing = sockets99.Outcomes.Where(r => r.At >= typingFrom).Select(r => r.Ms).ToList();
        Report.Line($"the sockets phase: during the handshakes and refusals {burst.Count} requests, max {Report.Ms(burst.DefaultIfEmpty().Max())}; " +
                    $"during the typing flood {typing.Count}, p99 {Report.Ms(Stats.Percentile(typing, 0.99))}");
        Report.Check($"{o.WsCap} sockets let in, the rest refused with 4429",
            opened == o.WsCap && closes.GetValueOrDefault("refused 4429") == Sockets - o.WsCap,
            $"{opened} opened; {string.Join(", ", closes.OrderBy(c => c.Key).Select(c => $"{c.Key}: {c.Value}"))}");
        Report.Check("every typing flooder closed with 4008", closes.GetValueOrDefault("closed 4008") == opened,
            $"{closes.GetValueOrDefault("closed 4008")} of {opened}; the attacker's own sockets heard {typingHeard} typing frames");
        Report.Check("the worker's socket heard its posts and no one else's typing",
            heard.GetValueOrDefault("message_created") == posts && heard.GetValueOrDefault("typing") == 0,
            $"{heard.GetValueOrDefault("message_created")} of {posts} message_created, {heard.GetValueOrDefault("typing")} typing");

        var flood99 = phases[1];
        return Report.Verdict("abuse",
            $"worker p99 {Report.Ms(phases[0].P99)} quiet, {Report.Ms(flood99.P99)} under the flood (server {Report.Ms(flood99.ServerP99)}), " +
            $"{Report.Ms(sockets99.P99)} under the sockets; flood {Counts(flooded)}; owner {signedIn.Status}; " +
            $"sockets {opened} in, {closes.GetValueOrDefault("refused 4429")} refused 4429");
    }

    /// <summary>Flooders each sending, back to back: sign-in to its own account or register, with or without its token.</summary>
    static async Task<List<Outcome>> Flood(Api api, Account a, CancellationToken stop)
    {
        var all = new ConcurrentBag<Outcome>();
        var flooders = Enumerable.Range(0, Flooders).Select(f => Task.Run(async () =>
        {
            for (var i = f; !stop.IsCancellationRequested; i++)
            {
                var token = i % 2 == 0 ? null : a.Token;
                var with = token is null ? "without a token" : "with a token";
                Outcome r;
                if (i % 4 < 2)
                    r = await api.Post("/api/auth/login", token, new { email = a.Email, password = Api.Password }, $"login {with}");
                else
                {
                    var (email, username) = Api.NewNames("flood");
                    r = await api.Post("/api/auth/register", token, new { email, username, password = Api.Password }, $"register {with}");
                }
                all.Add(r);
            }
        })).ToList();
        await Task.WhenAll(flooders);
        return all.ToList();
    }

    static async Task<Outcome> SignInMidway(Api api, Account a, double floodSeconds)
    {
        await Task.Delay(TimeSpan.FromSeconds(floodSeconds / 2));
        return await api.Post("/api/auth/login", null, new { email = a.Email, password = Api.Password }, "owner's sign-in");
    }

    /// <summary>
    /// Opens <see cref="Sockets"/> sockets at once; the ones let in then send typing frames back to back until
    /// the server closes them or the time is up. Returns how many were let in, how each ended, how many
    /// typing frames the attacker's sockets heard from each other, and when the typing began.
    /// </summary>
    static async Task<(int Opened, Dictionary<string, int> Closes, int TypingHeard, DateTimeOffset TypingFrom)> SocketFlood(Api api, Account a, string sessionId, double seconds)
    {
        var closes = new ConcurrentDictionary<string, int>();
        var opened = 0;
        var typingHeard = 0;
        var until = Clock.Ms + seconds * 1000;
        var typing = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["type"] = "typing", ["payload"] = new JsonObject { ["sessionId"] = sessionId, ["isTyping"] = true },
        }.ToJsonString());
        var letIn = new TaskCompletionSource();
        // When each step happened (wall clock), to set the worker's slow requests beside them.
        var timeline = new ConcurrentBag<(string Step, DateTimeOffset At)>();
        var sentCounts = new ConcurrentBag<int>();
        var startedAt = DateTimeOffset.UtcNow;
        var all = Enumerable.Range(0, Sockets).Select(_ => Task.Run(async () =>
        {
            string end;
            using var ws = new ClientWebSocket();
            try
            {
                await ws.ConnectAsync(SocketUri(api, a, sessionId), new HttpMessageInvoker(api.Handler, disposeHandler: false), CancellationToken.None);
                timeline.Add(("handshake", DateTimeOffset.UtcNow));
                var buffer = new byte[16384];
                var first = await ws.ReceiveAsync(buffer, CancellationToken.None);
                timeline.Add((first.MessageType == WebSocketMessageType.Close ? "refusal" : "connected", DateTimeOffset.UtcNow));
                if (first.MessageType == WebSocketMessageType.Close)
                    end = $"refused {(int?)ws.CloseStatus}";
                else
                {
                    Interlocked.Increment(ref opened);
                    // Every socket let in is open before the typing starts, so the refusals are counted against a full cap.
                    await letIn.Task;
                    var reading = Read(ws, type => { if (type == "typing") Interlocked.Increment(ref typingHeard); });
                    var sent = 0;
                    var sendFailed = false;
                    try
                    {
                        // On until the server closes it (a loaded machine may take past the phase), with a bound.
                        while (Clock.Ms < until + 15_000 && ws.State == WebSocketState.Open)
                        {
                            await ws.SendAsync(typing, WebSocketMessageType.Text, true, CancellationToken.None);
                            sent++;
                        }
                    }
                    // The server ended the connection while we sent: what it wrote before (its close frame) is still to be read.
                    catch (Exception e) when (e is WebSocketException or IOException) { sendFailed = true; }
                    timeline.Add(("sending stopped", DateTimeOffset.UtcNow));
                    sentCounts.Add(sent);
                    if (!sendFailed && ws.State == WebSocketState.Open) await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    await reading.WaitAsync(TimeSpan.FromSeconds(10));
                    timeline.Add(("ended", DateTimeOffset.UtcNow));
                    end = ws.CloseStatus is { } status ? $"closed {(int)status}" : $"ended {ws.State}";
                }
            }
            catch (Exception e) when (e is WebSocketException or IOException or TimeoutException)
            {
                end = $"failed {e.GetType().Name}";
            }
            closes.AddOrUpdate(end, 1, (_, n) => n + 1);
            return end;
        })).ToList();
        // The refusals come after the app's refusal delay; once each socket has its answer, the typing starts.
        var answered = 0;
        var refusalsDone = Task.Run(async () =>
        {
            while (Volatile.Read(ref answered) < Sockets && Clock.Ms < until)
            {
                answered = Volatile.Read(ref opened) + closes.Values.Sum();
                await Task.Delay(20);
            }
            letIn.TrySetResult();
        });
        await refusalsDone;
        var typingFrom = DateTimeOffset.UtcNow;
        timeline.Add(("typing", typingFrom));
        await Task.WhenAll(all);
        Report.Line($"sockets' timeline: opening from {startedAt:HH:mm:ss.fff}; " + string.Join("; ", timeline.GroupBy(t => t.Step).Select(g =>
        {
            var at = g.Select(t => t.At).Order().ToList();
            return $"{g.Key} ×{at.Count} {at[0]:HH:mm:ss.fff}, half by {at[(at.Count - 1) / 2]:HH:mm:ss.fff}, last {at[^1]:HH:mm:ss.fff}";
        })));
        if (!sentCounts.IsEmpty)
        {
            var n = sentCounts.Order().ToList();
            Report.Line($"typing frames each flooder sent before its socket closed: min {n[0]}, median {n[(n.Count - 1) / 2]}, max {n[^1]}, total {n.Sum()}");
        }
        return (opened, new Dictionary<string, int>(closes), typingHeard, typingFrom);
    }

    static Uri SocketUri(Api api, Account a, string sessionId) =>
        new(api.BaseUrl.Replace("http://", "ws://") + $"/ws/{sessionId}?token={Uri.EscapeDataString(a.Token)}");

    static async Task<ClientWebSocket> Open(Api api, Account a, string sessionId)
    {
        var ws = new ClientWebSocket();
        await ws.ConnectAsync(SocketUri(api, a, sessionId), new HttpMessageInvoker(api.Handler, disposeHandler: false), CancellationToken.None);
        return ws;
    }

    /// <summary>Reads frames until the socket closes, handing each frame's type to <paramref name="onFrame"/>.</summary>
    static async Task Read(ClientWebSocket ws, Action<string> onFrame)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult r;
                do
                {
                    r = await ws.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += r.Count;
                } while (!r.EndOfMessage && count < buffer.Length);
                if (r.MessageType == WebSocketMessageType.Close) return;
                var type = JsonNode.Parse(buffer.AsSpan(0, count))?["type"]?.GetValue<string>();
                if (type is not null) onFrame(type);
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or System.Text.Json.JsonException) { }
    }

    [GeneratedRegex("""^(?<at>\S+) \[\w+\] \S+: HTTP (?<method>[A-Z]+) (?<path>\S+) responded (?<status>\d+) in (?<ms>[\d.]+) ms""")]
    private static partial Regex RequestLine();

    /// <summary>One request of the worker's routes as the app's request log saw it: when it ended, and its time inside the app.</summary>
    sealed record AppRequest(DateTimeOffset At, string Method, string Path, double Ms);

    /// <summary>
    /// The worker's requests as the app timed them (the request log of combined.log): in the flood only the
    /// worker calls these routes, so the time they took inside the app sets apart the service and the machine.
    /// </summary>
    static List<AppRequest> ServerTimes(string logDir, List<Phase> phases, string workSession)
    {
        var all = new List<AppRequest>();
        var path = Path.Combine(logDir, "combined.log");
        if (!File.Exists(path)) return all;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            var m = RequestLine().Match(line);
            if (!m.Success) continue;
            var p = m.Groups["path"].Value;
            if (p != "/api/sessions" && p != "/api/auth/me" && !p.StartsWith($"/api/sessions/{workSession}/messages", StringComparison.Ordinal)) continue;
            var at = DateTimeOffset.Parse(m.Groups["at"].Value, CultureInfo.InvariantCulture);
            var ms = double.Parse(m.Groups["ms"].Value, CultureInfo.InvariantCulture);
            all.Add(new AppRequest(at, m.Groups["method"].Value, p, ms));
            phases.FirstOrDefault(ph => at >= ph.From && at <= ph.To)?.ServerMs.Add(ms);
        }
        return all;
    }

    /// <summary>
    /// The phase's slowest worker requests beside the app's line for each: the time before the app's middleware
    /// started (connect, kernel queues, the app's threads busy), inside it, and after it logged (the answer's way
    /// back and the worker's own scheduling).
    /// </summary>
    static void SlowRequests(Phase phase, List<AppRequest> app, int count)
    {
        foreach (var r in phase.Outcomes.OrderByDescending(r => r.Ms).Take(count).OrderBy(r => r.At))
        {
            var end = r.At.AddMilliseconds(r.Ms);
            var method = r.Route.Split(' ')[0];
            var line = app.Where(a => a.Method == method && a.At >= r.At && a.At <= end.AddMilliseconds(5)).MinBy(a => a.At);
            var inApp = line is null ? "no app line"
                : FormattableString.Invariant($"before the app {(line.At - r.At).TotalMilliseconds - line.Ms:F1} ms, in the app {line.Ms:F1} ms, after {(end - line.At).TotalMilliseconds:F1} ms");
            Report.Line(FormattableString.Invariant(
                $"  slow {phase.Name}: {r.At:HH:mm:ss.fff} {r.Route} {r.Ms:F1} ms{(r.ConnectMs is { } c ? $" (new connection, connect {c:F1} ms)" : "")}; {inApp}"));
        }
    }

    static int ErrorLines(string logDir)
    {
        var path = Path.Combine(logDir, "error.log");
        if (!File.Exists(path)) return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var n = 0;
        while (reader.ReadLine() is not null) n++;
        return n;
    }

    static string Counts(IEnumerable<Outcome> outcomes) =>
        string.Join(", ", outcomes.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} × {(g.Key == 0 ? "no answer" : g.Key.ToString(CultureInfo.InvariantCulture))}"));
}
