using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace DrillClient;

/// <summary>
/// Redis killed with kill -9 and started again while writers post messages and create sessions.
/// Every write that got a 2xx is recorded with the time its answer arrived; afterwards each one is
/// read back. While Redis is away every route must answer 503 problem details within a bound, /health
/// must say 503, and the app must take writes again once Redis is back, without a restart.
/// </summary>
static class RedisDrill
{
    sealed record Ack(string Kind, string Id, int Writer, string SessionId, string Text, double AckMs);

    /// <summary>The longest a request may take while Redis is away (the client's 3 s timeout, its backlog and the handler's own calls).</summary>
    const double FailureBoundMs = 10_000;

    public static async Task<int> Run(Options o)
    {
        var api = new Api(o.Url);
        var ctl = new Control(o.Ctl);
        Report.Line($"redis drill: {o.Writers} writers, kill -9 after {o.Before} s, Redis away {o.Down} s, then {o.After} s of writes");

        var writers = await Task.WhenAll(Enumerable.Range(0, o.Writers).Select(async i =>
        {
            var a = await api.Register($"writer{i}");
            return (Account: a, Session: await api.CreateSession(a, $"writer {i}"));
        }));
        var probe = await Probe.Prepare(api);

        var acks = new ConcurrentBag<Ack>();
        var outcomes = new ConcurrentBag<Outcome>();
        using var stop = new CancellationTokenSource();
        var running = writers.Select((w, i) => Task.Run(() => Write(api, i, w.Account, w.Session, o.PauseMs, acks, outcomes, stop.Token))).ToList();

        await Task.Delay(TimeSpan.FromSeconds(o.Before));
        var killAt = await ctl.Run("redis-kill");
        Report.Line($"Redis killed at {killAt / 1000:F2} s; {acks.Count} writes acknowledged so far");

        // While Redis is away: every route once (in parallel), the hub, and /health twice a second.
        await Task.Delay(500);
        var healthDown = new List<int>();
        var sweep = Probe.Sweep(api, probe);
        var downUntil = killAt + o.Down * 1000.0;
        while (Clock.Ms < downUntil - 500)
        {
            healthDown.Add((await api.Get("/health", null)).Status);
            await Task.Delay(500);
        }
        var swept = await sweep;
        while (Clock.Ms < downUntil) await Task.Delay(50);

        var startAt = Clock.Ms;
        await ctl.Run("redis-start");
        var healthyAt = await api.WaitHealthy(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(o.After));
        stop.Cancel();
        await Task.WhenAll(running);
        var endAt = Clock.Ms;

        // --- what the clients saw ---
        Report.Line("");
        Report.Line("While Redis was away:");
        foreach (var s in swept) Report.Line($"  {s}");
        Report.Check("every route answered 503 problem details (service_unavailable) while Redis was away",
            swept.All(s => s.Passed), $"{swept.Count(s => s.Passed)} of {swept.Count} routes");
        Report.Check("/health answered 503 while Redis was away", healthDown.Count > 0 && healthDown.All(s => s == 503),
            $"{healthDown.Count} polls: {string.Join(" ", healthDown.GroupBy(s => s).Select(g => $"{g.Count()}x{g.Key}"))}");

        var all = outcomes.ToList();
        var failed = all.Where(x => !x.Ok).ToList();
        var bad = failed.Where(x => !(x.Status == 503 && x.IsProblem && x.Code == "service_unavailable")).ToList();
        Report.Line($"writers: {all.Count} writes sent, {acks.Count} acknowledged (2xx), {failed.Count} refused");
        foreach (var g in failed.GroupBy(x => (x.Route, x.Status, x.Code)).OrderBy(g => g.Key.Route))
            Report.Line($"  {g.Key.Route} -> {(g.Key.Status == 0 ? "no answer" : g.Key.Status.ToString())} {g.Key.Code}: {g.Count()}x, " +
                        $"p50 {Stats.Percentile(g.Select(x => x.Ms).ToList(), 0.5):F0} ms, max {g.Max(x => x.Ms):F0} ms");
        Report.Check("every refused write was a 503 problem details answer", bad.Count == 0,
            bad.Count == 0 ? $"{failed.Count} refusals, all 503 service_unavailable" : string.Join("; ", bad.Take(5)));
        var slowest = failed.Count == 0 ? 0 : failed.Max(x => x.Ms);
        Report.Check($"no request hung (refusals within {FailureBoundMs / 1000:F0} s)", slowest <= FailureBoundMs, $"slowest refusal {slowest:F0} ms");

        var firstAckAfter = acks.Where(a => a.AckMs > startAt).Select(a => a.AckMs).DefaultIfEmpty(double.NaN).Min();
        Report.Check("the app recovered by itself once Redis was back (no restart)", healthyAt is not null && !double.IsNaN(firstAckAfter),
            $"/health 200 {(healthyAt is { } h ? Report.Ms(h - startAt) : "never")} after Redis started, first acknowledged write {Report.Ms(firstAckAfter - startAt)} after; " +
            $"{acks.Count(a => a.AckMs > startAt)} writes acknowledged after the restart");

        // --- what was kept ---
        Report.Line("");
        Report.Line($"Reading back {acks.Count} acknowledged writes...");
        var lost = new ConcurrentBag<Ack>();
        var unknown = new ConcurrentBag<string>();
        using (var gate = new SemaphoreSlim(16))
        {
            await Task.WhenAll(acks.Select(async ack =>
            {
                await gate.WaitAsync();
                try
                {
                    var token = writers[ack.Writer].Account.Token;
                    var r = ack.Kind == "message"
                        ? await api.Get($"/api/messages/{ack.Id}", token)
                        : await api.Get($"/api/sessions/{ack.Id}", token);
                    if (r.Status == 404) lost.Add(ack);
                    else if (r.Status != 200) unknown.Add(r.ToString());
                    else if (ack.Kind == "message" && r.Body!["messageData"]!["text"]!.GetValue<string>() != ack.Text) lost.Add(ack);
                }
                finally { gate.Release(); }
            }));
        }
        Report.Check("every acknowledged write could be read back", unknown.IsEmpty,
            unknown.IsEmpty ? "all answered" : $"{unknown.Count} reads failed: {string.Join("; ", unknown.Take(3))}");

        // The realtime log: every acknowledged write's event must be there too (devices catch up from it).
        var missingEvents = 0;
        var extra = 0;
        foreach (var (w, i) in writers.Select((w, i) => (w, i)))
        {
            var logged = await LoggedIds(api, w.Account);
            missingEvents += acks.Count(a => a.Writer == i && !lost.Contains(a) && !logged.Contains(a.Id));
            // Writes stored though refused (a timeout after Redis had applied them): counts above the acknowledged ones.
            var sessions = acks.Where(a => a.Writer == i && a.Kind == "session").Select(a => a.Id).Append(w.Session).ToList();
            foreach (var s in sessions)
            {
                var r = await api.Get($"/api/sessions/{s}", w.Account.Token);
                if (r.Status != 200) continue;
                var count = r.Body!["session"]!["messageCount"]!.GetValue<int>();
                extra += Math.Max(0, count - acks.Count(a => a.Kind == "message" && a.SessionId == s));
            }
        }
        Report.Check("every acknowledged write's realtime event is in the log (/api/sync)", missingEvents == 0,
            missingEvents == 0 ? "all there" : $"{missingEvents} acknowledged writes have no event: devices never hear of them");
        Report.Line($"writes stored although the client got no 2xx (ambiguous timeouts): {extra}");

        var lostList = lost.OrderBy(a => a.AckMs).ToList();
        var ackedBefore = acks.Count(a => a.AckMs <= killAt);
        var lastSecond = acks.Count(a => a.AckMs <= killAt && a.AckMs > killAt - 1000);
        Report.Line($"acknowledged before the kill: {ackedBefore} ({lastSecond} in its last second); after the restart: {acks.Count(a => a.AckMs > startAt)}");
        foreach (var a in lostList.Take(20))
            Report.Line($"  LOST {a.Kind} {a.Id} of writer {a.Writer}: acknowledged {a.AckMs - killAt:F0} ms relative to the kill");
        var withinBound = lostList.All(a => a.AckMs <= killAt && a.AckMs >= killAt - 1000 - 100);
        Report.Check("losses within the documented bound (AOF everysec: at most ~1 s of writes before the kill)", withinBound,
            lostList.Count == 0 ? "nothing lost" : $"{lostList.Count} lost, acknowledged {lostList.First().AckMs - killAt:F0}..{lostList.Last().AckMs - killAt:F0} ms relative to the kill");
        Report.Line($"drill took {(endAt) / 1000:F1} s; Redis away {Report.Ms(startAt - killAt)}");

        return Report.Verdict("redis", lostList.Count == 0
            ? $"nothing lost ({acks.Count} acknowledged writes, {ackedBefore} before the kill, all read back)"
            : $"lost {lostList.Count} of {acks.Count} acknowledged writes, acknowledged {lostList.First().AckMs - killAt:F0}..{lostList.Last().AckMs - killAt:F0} ms relative to the kill " +
              (withinBound ? "(within the documented ~1 s bound)" : "(OUTSIDE the documented ~1 s bound)"));
    }

    static async Task Write(Api api, int writer, Account account, string session, int pauseMs,
        ConcurrentBag<Ack> acks, ConcurrentBag<Outcome> outcomes, CancellationToken stop)
    {
        for (var n = 1; !stop.IsCancellationRequested; n++)
        {
            Outcome r;
            if (n % 10 == 0)
            {
                var title = $"writer {writer} session {n}";
                r = await api.Post("/api/sessions", account.Token, new { title }, "POST /api/sessions");
                if (r.Status == 201)
                {
                    var id = r.Body!["session"]!["id"]!.GetValue<string>();
                    acks.Add(new Ack("session", id, writer, id, title, r.EndedMs));
                    session = id;
                }
            }
            else
            {
                var text = $"writer {writer} message {n} {Guid.NewGuid():N}";
                r = await api.Post($"/api/sessions/{session}/messages", account.Token,
                    new { role = "user", text, imageIds = Array.Empty<string>() }, "POST /api/sessions/:id/messages");
                if (r.Status == 201) acks.Add(new Ack("message", r.Body!["messageData"]!["id"]!.GetValue<string>(), writer, session, text, r.EndedMs));
            }
            outcomes.Add(r);
            // A client backs off a little after a refusal.
            try { await Task.Delay(r.Ok ? pauseMs : 250, stop); } catch (OperationCanceledException) { }
        }
    }

    /// <summary>The ids of the messages and sessions whose created event is in the user's log.</summary>
    static async Task<HashSet<string>> LoggedIds(Api api, Account a)
    {
        var ids = new HashSet<string>();
        long since = 0;
        while (true)
        {
            var r = await api.Get($"/api/sync?since={since}&limit=1000", a.Token);
            if (r.Status != 200) throw new InvalidOperationException($"sync failed: {r}");
            foreach (var e in r.Body!["events"]!.AsArray())
            {
                var payload = e!["payload"]!;
                var id = e["type"]!.GetValue<string>() switch
                {
                    "message_created" => payload["messageData"]?["id"]?.GetValue<string>(),
                    "session_created" => payload["session"]?["id"]?.GetValue<string>(),
                    _ => null,
                };
                if (id is not null) ids.Add(id);
            }
            since = r.Body["lastSeq"]!.GetValue<long>();
            if (!r.Body["hasMore"]!.GetValue<bool>()) return ids;
        }
    }
}

/// <summary>Every route of the API called once while the data store is away.</summary>
static class Probe
{
    public sealed record Target(Account Account, string Session, string SpareSession, string Message, string SpareMessage, string Image, string SpareImage);

    public sealed record Result(string Route, string Saw, bool Passed)
    {
        public override string ToString() => $"{(Passed ? "ok  " : "FAIL")} {Route}: {Saw}";
    }

    public static async Task<Target> Prepare(Api api)
    {
        var a = await api.Register("prober");
        var session = await api.CreateSession(a, "probe");
        var spare = await api.CreateSession(a, "spare");
        var uploads = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var r = await api.Upload(a, session, Pictures.Small());
            if (r.Status != 201) throw new InvalidOperationException($"probe upload failed: {r}");
            uploads.Add(r.Body!["image"]!["id"]!.GetValue<string>());
        }
        var message = await api.PostMessage(a, session, "probe message", [uploads[0]]);
        var spareMessage = await api.PostMessage(a, session, "spare message");
        return new Target(a, session, spare, message, spareMessage, uploads[0], uploads[1]);
    }

    public static async Task<List<Result>> Sweep(Api api, Target t)
    {
        var tok = t.Account.Token;
        var calls = new List<Task<Outcome>>
        {
            api.Post("/api/auth/register", null, new { email = $"late.{Guid.NewGuid():N}@drill.example", username = $"late_{Guid.NewGuid():N}"[..20], password = Api.Password }),
            api.Post("/api/auth/login", null, new { email = t.Account.Email, password = Api.Password }),
            api.Post("/api/auth/refresh", null, new { refreshToken = t.Account.RefreshToken }),
            api.Send(HttpMethod.Post, "/api/auth/refresh", tok, route: "POST /api/auth/refresh (no body)"),
            api.Post("/api/auth/logout", tok, new { refreshToken = t.Account.RefreshToken }),
            api.Get("/api/auth/me", tok),
            api.Send(HttpMethod.Put, "/api/auth/me", tok, new { avatar = "https://example.com/a.png" }),
            api.Send(HttpMethod.Put, "/api/auth/password", tok, new { currentPassword = Api.Password, newPassword = "another password 1" }),
            api.Get("/api/sessions", tok),
            api.Post("/api/sessions", tok, new { title = "during the outage" }),
            api.Get($"/api/sessions/{t.Session}", tok),
            api.Send(HttpMethod.Put, $"/api/sessions/{t.Session}", tok, new { title = "renamed" }),
            api.Send(HttpMethod.Patch, $"/api/sessions/{t.Session}", tok, new { title = "renamed" }),
            api.Send(HttpMethod.Delete, $"/api/sessions/{t.SpareSession}", tok),
            api.Get($"/api/sessions/{t.Session}/stats", tok),
            api.Get($"/api/sessions/{t.Session}/messages", tok),
            api.Post($"/api/sessions/{t.Session}/messages", tok, new { role = "user", text = "during the outage", imageIds = Array.Empty<string>() }),
            api.Get($"/api/messages/{t.Message}", tok),
            api.Send(HttpMethod.Put, $"/api/messages/{t.Message}", tok, new { text = "edited" }),
            api.Send(HttpMethod.Delete, $"/api/messages/{t.SpareMessage}", tok),
            api.Get($"/api/messages/{t.Message}/revisions", tok),
            api.Get($"/api/messages/{t.Message}/images", tok),
            api.Post($"/api/messages/{t.Message}/images", tok, new { imageId = t.SpareImage }),
            api.Send(HttpMethod.Delete, $"/api/messages/{t.Message}/images/{t.Image}", tok),
            api.Get("/api/search?q=probe", tok),
            api.Upload(t.Account, t.Session, Pictures.Small()),
            api.UploadBatch(t.Account, t.Session, [Pictures.Small(), Pictures.Small()]),
            api.Get($"/api/images/{t.Image}", tok),
            api.Get($"/api/images/session/{t.Session}", tok),
            api.Get("/api/images/user/all", tok),
            api.Send(HttpMethod.Delete, $"/api/images/{t.SpareImage}", tok),
            api.Post("/api/images/cleanup", tok, null),
            api.Get("/api/sync?since=0", tok),
        };
        var socket = api.OpenSocket(t.Account, t.Session, TimeSpan.FromSeconds(15));
        var health = api.Get("/health", null);
        var results = (await Task.WhenAll(calls)).Select(r => new Result(r.Route,
            r.ToString()[(r.Route.Length + 2)..] + (r.IsProblem ? "" : " (not problem details)"),
            r.Status == 503 && r.IsProblem && r.Code == "service_unavailable" && r.Ms <= 10_000)).ToList();
        var h = await health;
        results.Add(new Result("GET /health", $"{h.Status} {h.Body?["redis"]?["status"]} in {h.Ms:F0} ms", h.Status == 503 && h.Body?["redis"]?["status"]?.GetValue<string>() == "down"));
        var (what, ms) = await socket;
        results.Add(new Result("WS /ws/:sessionId", $"{what} in {ms:F0} ms", what.StartsWith("closed 1011")));
        return results;
    }
}
