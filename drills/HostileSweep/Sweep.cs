using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace HostileSweep;

public sealed class SweepOptions
{
    /// <summary>A client of the app (BaseAddress set). The sweep sends absolute URIs built from its base.</summary>
    public required HttpClient Http { get; init; }
    /// <summary>The app's Redis, for byte-level snapshots of the victim's keys (optional: the API view is always compared).</summary>
    public IDatabase? Redis { get; init; }
    /// <summary>The app's JWT secret, to forge expired / wrong-audience tokens and signed blob URLs (an insider's view).</summary>
    public string? JwtSecret { get; init; }
    /// <summary>Opens a WebSocket to a path and query of the app; null skips the hub part.</summary>
    public Func<string, CancellationToken, Task<WebSocket>>? OpenWebSocket { get; init; }
    /// <summary>A raw TCP client of the app's listener; null skips byte-level requests (the in-memory test server has no socket).</summary>
    public RawHttp? Raw { get; init; }
    /// <summary>The whole catalogue; false runs a representative subset (the test suite's run).</summary>
    public bool Full { get; init; } = true;
    public int HugeBytes { get; init; } = 10 * 1024 * 1024;
    /// <summary>Runs an action and returns once the background work it started (thumbnails) is done.</summary>
    public Func<Func<Task>, Task> Settle { get; init; } = a => a();
    public Action<string> Log { get; init; } = _ => { };
    public int Parallelism { get; init; } = 4;
    /// <summary>Send every target byte for byte (no URI canonicalisation). The in-memory test server cannot take such URIs.</summary>
    public bool ExactTargets { get; init; } = true;
}

/// <summary>
/// The hostile input sweep: every route of the OpenAPI document (plus the WebSocket hub and /blobs)
/// gets malformed JSON, wrong types, huge strings, invalid UTF-8, traversal and injection strings in
/// ids, forged and foreign tokens, wrong content types and oversized headers. Rules: no 5xx; every
/// non-2xx answer is problem details with the SPEC's members; hostile input that must be refused is
/// refused; no answer to anybody else holds the victim's data; the victim's stored data (API view and
/// Redis DUMP) is the same after every category.
/// </summary>
public sealed class Sweep(SweepOptions o)
{
    readonly SweepReport _report = new();
    readonly Uri _base = new(o.Http.BaseAddress!.GetLeftPart(UriPartial.Authority));
    Cast _cast = null!;
    List<Operation> _ops = [];
    Snapshot _baseline = null!;
    int _unique;

    static readonly HashSet<string> Anonymous = new(StringComparer.Ordinal) { "Register", "Login", "Health" };

    Person V => _cast.Victim;
    Person A => _cast.Attacker;

    public async Task<SweepReport> Run()
    {
        var clock = Stopwatch.StartNew();
        _ops = OpenApi.Read(await o.Http.GetStringAsync("/openapi/v1.json"))
            .Where(op => op.Template != "/ws/{sessionId}") // the hub is swept over WebSockets below
            // With the owner's own password it does what it says and ends the cast member; DeleteAccountTests cover it.
            .Where(op => op.Id != "DeleteAccount")
            .ToList();
        o.Log($"{_ops.Count} operations in /openapi/v1.json");
        _cast = new Cast(o.Http, o.Settle);
        await _cast.Create();
        _baseline = await Snapshot.Take(o.Http, o.Redis, V);
        o.Log($"victim {V.Id}: {_baseline.Entries.Count} snapshot entries; attacker {A.Id}");

        var categories = new (string Name, Func<IEnumerable<Probe>> Probes)[]
        {
            ("methods", MethodProbes),
            ("auth", AuthProbes),
            ("other-user", OtherUserProbes),
            ("path", PathProbes),
            ("query", QueryProbes),
            ("body-broken", BrokenBodyProbes),
            ("body-types", WrongTypeProbes),
            ("body-huge", HugeBodyProbes),
            ("body-utf8", Utf8Probes),
            ("content-type", ContentTypeProbes),
            ("unknown-fields", UnknownFieldProbes),
            ("injection", InjectionProbes),
            ("headers", HeaderProbes),
            ("multipart", MultipartProbes),
            ("blobs", BlobProbes),
        };
        o.Log($"setup (people, their data, first snapshot) in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var (name, probes) in categories)
        {
            var started = Stopwatch.StartNew();
            await _cast.RefreshAttacker();
            var list = probes().ToList();
            var prepared = started.Elapsed;
            await o.Settle(() => RunAll(list));
            var sent = started.Elapsed;
            await CheckVictim(name);
            o.Log($"{name}: {list.Count} requests in {(sent - prepared).TotalSeconds:F1} s (+{prepared.TotalSeconds:F1} s preparing, {(started.Elapsed - sent).TotalSeconds:F1} s checking the victim)");
        }
        if (o.OpenWebSocket is not null)
        {
            await HubSweep();
            await CheckVictim("websocket");
        }
        if (o.Raw is not null)
        {
            await RawSweep();
            await CheckVictim("raw-http");
        }
        var redisKeys = _baseline.Entries.Keys.Count(k => k.StartsWith("redis nb:{u:", StringComparison.Ordinal));
        _report.DataChecks.Add($"the victim's data ({_baseline.Entries.Count} entries: {_baseline.Entries.Keys.Count(k => k.StartsWith("api ", StringComparison.Ordinal))} API reads, " +
                               $"DUMP of {redisKeys} Redis keys, claims, index members, blob SHA-256) compared after each of {_checks} categories: " +
                               $"{_report.Violations.Count(v => v.Rule == "victim data changed")} differences");
        _report.Elapsed = clock.Elapsed;
        return _report;
    }

    int _checks;

    async Task CheckVictim(string category)
    {
        _checks++;
        var now = await Snapshot.Take(o.Http, o.Redis, V);
        var diff = now.Diff(_baseline);
        if (diff.Count == 0) return;
        foreach (var line in diff)
            _report.Add(new Violation("victim data changed", $"after category {category}", 0, line));
        _baseline = now; // report each change once, under the category that made it
    }

    // ---------------------------------------------------------------- running

    async Task RunAll(IReadOnlyList<Probe> probes)
    {
        // Probes that read back what they wrote run one at a time: two writes to one record would race.
        foreach (var p in probes.Where(p => p.After is not null)) await Fire(p);
        using var gate = new SemaphoreSlim(o.Parallelism);
        await Task.WhenAll(probes.Where(p => p.After is null).Select(async p =>
        {
            await gate.WaitAsync();
            try { await Fire(p); }
            finally { gate.Release(); }
        }));
    }

    Uri UriOf(string target) => o.ExactTargets
        ? new(_base.ToString().TrimEnd('/') + target, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true })
        : new(_base.ToString().TrimEnd('/') + target);

    async Task Fire(Probe p)
    {
        HttpResponseMessage? response = null;
        byte[] body;
        try
        {
            using var request = new HttpRequestMessage(p.Method, UriOf(p.Target)) { Content = p.Content?.Invoke() };
            if (p.Token is { } t)
            {
                if (t.StartsWith('!')) request.Headers.TryAddWithoutValidation("Authorization", t[1..]);
                else request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", t);
            }
            foreach (var (name, value) in p.Headers)
            {
                if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
                {
                    request.Content ??= new ByteArrayContent([]);
                    request.Content.Headers.Remove(name);
                    request.Content.Headers.TryAddWithoutValidation(name, value);
                }
                else request.Headers.TryAddWithoutValidation(name, value);
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            response = await o.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            body = await ReadCapped(response.Content, 2 * 1024 * 1024, cts.Token);
        }
        catch (FormatException e)
        {
            // (UriFormatException is a FormatException too.)
            _report.Note($"{p}: could not be built by HttpClient ({e.Message})");
            return;
        }
        catch (InvalidOperationException e) when (!o.ExactTargets && response is null)
        {
            // The in-memory test server refuses some targets itself (a NUL in the path), as Kestrel would.
            _report.Count(p.Category, "refused by the test server", p.ToString());
            _report.Note($"{p}: refused by the test server ({e.Message})");
            return;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or InvalidOperationException)
        {
            response?.Dispose();
            _report.Count(p.Category, "no answer", p.ToString());
            if (!p.AllowNoAnswer) _report.Add(new Violation("no answer", p.ToString(), 0, e.GetBaseException().Message));
            return;
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            // The app's outermost middleware puts X-Frame-Options on every answer: without it, Kestrel
            // refused the request itself (malformed HTTP) before any app code ran.
            if (status is >= 400 and < 500 && body.Length == 0 && !response.Headers.Contains("X-Frame-Options"))
            {
                _report.Count(p.Category, $"{status} (server)", p.ToString());
                _report.Note($"{p}: {status} from the HTTP server itself (empty body, before the app)");
                return;
            }
            Judge(p, status, response.Content.Headers.ContentType?.MediaType, body);
            if (status is >= 200 and < 300 && p.After is { } after && await after(body) is { } defect)
                _report.Add(new Violation("stored value differs from the acknowledged one", p.ToString(), status, defect));
        }
    }

    static async Task<byte[]> ReadCapped(HttpContent content, int max, CancellationToken ct)
    {
        await using var stream = await content.ReadAsStreamAsync(ct);
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await stream.ReadAsync(chunk, ct)) > 0 && buffer.Length < max) buffer.Write(chunk, 0, n);
        return buffer.ToArray();
    }

    void Judge(Probe p, int status, string? mediaType, byte[] body)
    {
        var name = p.ToString();
        _report.Count(p.Category, status.ToString(), name);
        // A load shed (503 busy: too many password checks at once, a busy machine) is an answer the SPEC allows, not a fault.
        if (status >= 500 && !(status == 503 && System.Text.Encoding.UTF8.GetString(body).Contains("\"code\":\"busy\"", StringComparison.Ordinal)))
            _report.Add(new Violation("5xx", name, status, Checks.Preview(body)));
        if (status is >= 200 and < 300)
        {
            if (p.Expect == Expect.Reject)
                _report.Add(new Violation("hostile input accepted", name, status, Checks.Preview(body)));
            else if (p.Target.StartsWith("/api", StringComparison.Ordinal) && p.Method != HttpMethod.Head && status != 204 && !Checks.IsJson(body))
                _report.Add(new Violation("2xx without a JSON body", name, status, Checks.Preview(body)));
        }
        else if (status != 101)
        {
            var defect = p.Method == HttpMethod.Head
                ? (string.Equals(mediaType, "application/problem+json", StringComparison.OrdinalIgnoreCase) ? null : $"content type {mediaType ?? "(none)"}")
                : Checks.ProblemDefect(status, mediaType, body);
            if (defect is not null) _report.Add(new Violation("not problem details", name, status, defect));
        }
        if (body.Length > 0 && Encoding.UTF8.GetString(body).Contains(Cast.Marker, StringComparison.Ordinal))
            _report.Add(new Violation("victim data in someone else's answer", name, status, Checks.Preview(body)));
    }

    // ---------------------------------------------------------------- building requests

    /// <summary>The operation's path with its ids taken from <paramref name="owner"/>'s resources, one of them optionally replaced.</summary>
    string PathFor(Operation op, Person owner, string? param = null, string? value = null) =>
        op.Template
            .Replace("{sessionId}", param == "sessionId" ? value : owner.Sessions[0])
            .Replace("{messageId}", param == "messageId" ? value : owner == V ? V.Messages[1] : owner.Messages[0])
            .Replace("{imageId}", param == "imageId" ? value : owner.Images[0]);

    string Unique() => $"{Interlocked.Increment(ref _unique)}{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>A body the route would accept from <paramref name="owner"/> (ids of the owner's resources).</summary>
    JsonObject ValidBody(Operation op, Person owner)
    {
        var body = new JsonObject();
        foreach (var f in op.Fields)
            body[f.Name] = ValidValue(op, f, owner);
        return body;
    }

    JsonNode? ValidValue(Operation op, Field f, Person owner) => f.Name switch
    {
        "title" => "sweep title",
        "text" => "sweep text",
        "role" => "user",
        "imageIds" => new JsonArray(),
        "params" => new JsonObject { ["model"] = "sweep" },
        "editedOf" => null,
        "email" => op.Id == "Register" ? $"sweep{Unique()}@example.com" : owner.Email,
        "username" => $"sweep_{Unique()}",
        "password" => op.Id == "Register" ? Cast.Password : owner.Password,
        "currentPassword" => owner.Password,
        "newPassword" => owner.Password,
        "refreshToken" => null,
        "avatar" => null,
        "imageId" => owner.Images[0],
        "sessionId" => owner.Sessions[0],
        _ when f.Allows("string") => "x",
        _ when f.Allows("array") => new JsonArray(),
        _ when f.Allows("boolean") => false,
        _ when f.Allows("number") => 1,
        _ => new JsonObject(),
    };

    static Func<HttpContent?> JsonBody(string json, string mediaType = "application/json") => () =>
    {
        var c = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        c.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return c;
    };

    static Func<HttpContent?> RawBody(byte[] bytes, string? mediaType = "application/json") => () =>
    {
        var c = new ByteArrayContent(bytes);
        if (mediaType is not null) c.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return c;
    };

    Probe ForOp(string category, string name, Operation op, Person owner, Func<HttpContent?>? content = null) =>
        new(category, $"{op.Id}: {name}", op.HttpMethod, PathFor(op, owner))
        {
            Token = owner.Token,
            Content = content ?? (op.Body == BodyKind.Json ? JsonBody(ValidBody(op, owner).ToJsonString()) : null),
        };

    IEnumerable<T> Pick<T>(IEnumerable<T> all, IEnumerable<T> subset) => o.Full ? all : subset;

    IEnumerable<Operation> JsonOps => _ops.Where(op => op.Body == BodyKind.Json);

    // ---------------------------------------------------------------- categories

    IEnumerable<Probe> MethodProbes()
    {
        var methods = new[] { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE" };
        foreach (var group in _ops.GroupBy(op => op.Template))
        {
            var defined = group.Select(op => op.Method.ToUpperInvariant()).ToHashSet();
            var path = PathFor(group.First(), A);
            foreach (var m in methods.Where(m => !defined.Contains(m)))
                yield return new Probe("methods", $"{m} on {group.Key}", new HttpMethod(m), path) { Token = A.Token };
        }
        foreach (var path in new[] { "/api/nothing", "/api/sessions/a/b/c/d", "/", "/api", "/index.html", "/.env", "/api/auth",
                     "/%00", "/api/sessions%2f", "/api/sessions/", "/ws", "/ws/", "/blobs", "/blobs/", "/health/..%2fapi%2fauth%2fme",
                     "/api/../api/auth/me", "/API/SESSIONS", "/api/sessions;jsessionid=1", "/api/sessions?limit=1#frag" })
            yield return new Probe("methods", $"unknown path {path}", HttpMethod.Get, path) { Token = A.Token };
    }

    IEnumerable<Probe> AuthProbes()
    {
        var forged = Tokens.Forged(V.Id, V.Device, V.Token, o.JwtSecret).ToList();
        var tokens = o.Full ? forged : forged.Where(f => f.Name is "alg none" or "edited payload" or "expired" or "garbage" or "basic auth").ToList();
        // Register, login and health take no token: a forged one means nothing to them.
        foreach (var op in _ops.Where(op => !Anonymous.Contains(op.Id)))
        foreach (var (name, header) in tokens)
            yield return ForOp("auth", $"forged token ({name}) on the victim's data", op, V) with
            {
                Token = "!" + header,
                Expect = Expect.Reject,
                Content = op.Body switch
                {
                    BodyKind.Json => JsonBody(ValidBody(op, V).ToJsonString()),
                    BodyKind.Multipart => () => Upload(V.Sessions[0], Png.Make(8, 8), "forged.png"),
                    _ => null,
                },
            };
        foreach (var op in _ops.Where(op => !Anonymous.Contains(op.Id)))
            yield return ForOp("auth", "no token", op, V) with { Token = null, Expect = Expect.Reject };
        if (o.JwtSecret is null) yield break;
        // Correctly signed tokens with a hostile subject: the app must not treat sub as a well-formed id it can trust blindly.
        var safeOps = _ops.Where(op => op.Id is "GetMe" or "ListSessions" or "CreateSession" or "SyncEvents" or "Search" or "ListUserImages" or "Refresh" or "CleanupImages" or "Logout");
        foreach (var op in safeOps)
        foreach (var (name, header) in Pick(Tokens.HostileSubjects(o.JwtSecret), Tokens.HostileSubjects(o.JwtSecret).Take(3)))
            yield return ForOp("auth", name, op, A) with { Token = "!" + header };
    }

    IEnumerable<Probe> OtherUserProbes()
    {
        // The attacker's own valid token on every route that takes the victim's ids.
        foreach (var op in _ops.Where(op => op.PathParams.Any()))
            yield return ForOp("other-user", "attacker's token on the victim's ids", op, V) with
            {
                Token = A.Token,
                Expect = Expect.Reject,
                Content = op.Body == BodyKind.Json ? JsonBody(ValidBody(op, A).ToJsonString()) : null,
            };
        // Ids of the victim's resources inside the attacker's own requests.
        var post = _ops.Single(op => op.Id == "PostMessage");
        yield return ForOp("other-user", "post with the victim's image", post, A) with
        {
            Expect = Expect.Reject,
            Content = JsonBody(new JsonObject { ["role"] = "user", ["text"] = "x", ["imageIds"] = new JsonArray(V.Images[0]) }.ToJsonString()),
        };
        yield return ForOp("other-user", "branch from the victim's message", post, A) with
        {
            Expect = Expect.Reject,
            Content = JsonBody(new JsonObject { ["role"] = "user", ["text"] = "x", ["imageIds"] = new JsonArray(), ["editedOf"] = V.Messages[0] }.ToJsonString()),
        };
        yield return ForOp("other-user", "edit own message to hold the victim's image", _ops.Single(op => op.Id == "EditMessage"), A) with
        {
            Expect = Expect.Reject,
            Content = JsonBody(new JsonObject { ["imageIds"] = new JsonArray(V.Images[0]) }.ToJsonString()),
        };
        yield return ForOp("other-user", "attach the victim's image to own message", _ops.Single(op => op.Id == "AttachMessageImage"), A) with
        {
            Expect = Expect.Reject,
            Content = JsonBody(new JsonObject { ["imageId"] = V.Images[0] }.ToJsonString()),
        };
        yield return new Probe("other-user", "detach the victim's image from own message", HttpMethod.Delete,
            $"/api/messages/{A.Messages[0]}/images/{V.Images[0]}") { Token = A.Token, Expect = Expect.Reject };
        yield return new Probe("other-user", "upload into the victim's session", HttpMethod.Post, "/api/images/upload")
            { Token = A.Token, Expect = Expect.Reject, Content = () => Upload(V.Sessions[0], Png.Make(8, 8), "x.png") };
        yield return new Probe("other-user", "batch upload into the victim's session", HttpMethod.Post, "/api/images/upload/batch")
            { Token = A.Token, Expect = Expect.Reject, Content = () => Upload(V.Sessions[0], Png.Make(8, 8), "x.png", field: "images") };
        // The victim's Idempotency-Key, reused by the attacker: its own new session, never the victim's.
        yield return new Probe("other-user", "victim's Idempotency-Key reused", HttpMethod.Post, "/api/sessions")
        {
            Token = A.Token, Content = JsonBody("{\"title\":\"attacker title\"}"),
            Headers = [("Idempotency-Key", _cast.VictimIdempotencyKey)],
            After = body => Task.FromResult(JsonNode.Parse(body)?["session"]?["id"]?.GetValue<string>() is { } id && V.Sessions.Contains(id)
                ? "the attacker got the victim's session back" : null),
        };
        // Refresh tokens in the victim's name: refused, and the victim's device is not signed out by them.
        var parts = V.RefreshToken.Split('.');
        var refreshes = new (string Name, string Token)[]
        {
            ("forged secret for the victim's device", $"{parts[0]}.{parts[1]}.{Tokens.B64(Guid.NewGuid().ToByteArray())}{Tokens.B64(Guid.NewGuid().ToByteArray())}"),
            ("victim's token with one character changed", V.RefreshToken[..^1] + (V.RefreshToken[^1] == 'A' ? 'B' : 'A')),
            ("victim's access token as refresh token", V.Token),
            ("two parts", $"{parts[0]}.{parts[1]}"),
            ("injection in the family", $"{parts[0]}.*.{parts[2]}"),
            ("hash tag in the user", $"x}}:{{u:{parts[0]}.{parts[1]}.{parts[2]}"),
        };
        foreach (var (name, token) in refreshes)
        {
            yield return new Probe("other-user", $"refresh with {name}", HttpMethod.Post, "/api/auth/refresh")
                { Content = JsonBody(new JsonObject { ["refreshToken"] = token }.ToJsonString()), Expect = Expect.Reject };
            yield return new Probe("other-user", $"attacker logs out with {name}", HttpMethod.Post, "/api/auth/logout")
                { Token = A.Token, Content = JsonBody(new JsonObject { ["refreshToken"] = token }.ToJsonString()) };
        }
        // Sign-in as the victim with wrong passwords: refused (and at most counted; the counters are not data).
        foreach (var password in Pick(new[] { "' OR '1'='1' --", "*", "{\"$ne\":null}", Cast.Password.ToUpperInvariant(), Cast.Password + " " }, ["' OR '1'='1' --", "*"]))
            yield return new Probe("other-user", $"login as the victim with password {password}", HttpMethod.Post, "/api/auth/login")
                { Content = JsonBody(new JsonObject { ["email"] = V.Email, ["password"] = password }.ToJsonString()), Expect = Expect.Reject };
        foreach (var email in new[] { V.Email.ToUpperInvariant(), " " + V.Email, V.Email + "\u0000", V.Email.Replace("@", "@@") })
            yield return new Probe("other-user", "register the victim's email again", HttpMethod.Post, "/api/auth/register")
            {
                Content = JsonBody(new JsonObject { ["email"] = email, ["username"] = $"sweep_{Unique()}", ["password"] = Cast.Password }.ToJsonString()),
                Expect = Expect.Reject,
            };
        yield return new Probe("other-user", "take the victim's username", HttpMethod.Put, "/api/auth/me")
            { Token = A.Token, Content = JsonBody(new JsonObject { ["username"] = V.Username.ToUpperInvariant() }.ToJsonString()), Expect = Expect.Reject };
        yield return new Probe("other-user", "sync another user's events", HttpMethod.Get, $"/api/sync?since=0&userId={V.Id}") { Token = A.Token };
        yield return new Probe("other-user", "search for the victim's words", HttpMethod.Get, $"/api/search?q={Cast.Marker}") { Token = A.Token };
    }

    IEnumerable<Probe> PathProbes()
    {
        var victimKey = $"nb:{{u:{V.Id}}}:session:{V.Sessions[0]}";
        foreach (var op in _ops.Where(op => op.PathParams.Any()))
        foreach (var param in op.PathParams)
        {
            var valid = param switch { "sessionId" => A.Sessions[0], "messageId" => A.Messages[0], _ => A.Images[0] };
            foreach (var id in Pick(Catalogue.PathIds(valid, victimKey), Catalogue.PathIdsSubset))
                yield return ForOp("path", $"{param}={Probe.Shorten(id, 40)}", op, A) with
                {
                    Target = PathFor(op, A, param, id),
                    // A whole segment ".." (also as %2e%2e) is a dot segment: the server resolves it before
                    // routing (RFC 3986 5.2.4), so the request reaches another of the attacker's own routes.
                    Expect = id is ".." or "%2e%2e" ? Expect.Any : Expect.Reject,
                };
        }
    }

    IEnumerable<Probe> QueryProbes()
    {
        foreach (var op in _ops.Where(op => op.QueryParams.Any()))
        {
            var path = PathFor(op, A);
            foreach (var param in op.QueryParams)
            {
                var values = param switch
                {
                    "limit" or "offset" or "since" => Pick(Catalogue.Numbers, Catalogue.NumbersSubset),
                    _ => Pick(Catalogue.Injections.Select(Uri.EscapeDataString)
                            .Concat(["%ff%fe", "%ed%a0%80", new string('a', 7000), "uploaded,generated", "UPLOADED", "(a|aa)*$", "%E7%8C%AB", "a%00b"]),
                        Catalogue.InjectionsSubset.Select(Uri.EscapeDataString).Concat(["%ff%fe", new string('a', 7000)])),
                };
                foreach (var v in values)
                    yield return new Probe("query", $"{op.Id}: {param}={Probe.Shorten(v, 40)}", op.HttpMethod, $"{path}?{param}={v}") { Token = A.Token };
                yield return new Probe("query", $"{op.Id}: {param} twice", op.HttpMethod, $"{path}?{param}=1&{param}=2") { Token = A.Token };
            }
            yield return new Probe("query", $"{op.Id}: unknown parameters", op.HttpMethod, $"{path}?__proto__[x]=1&%24where=1&userId={V.Id}") { Token = A.Token };
        }
    }

    IEnumerable<Probe> BrokenBodyProbes()
    {
        foreach (var op in JsonOps)
        {
            foreach (var (name, body) in Pick(Catalogue.BrokenJson(), Catalogue.BrokenJson().Where(b => b.Name is "open brace" or "trailing garbage" or "deep nesting")))
                yield return ForOp("body-broken", name, op, A, JsonBody(body)) with { Expect = Expect.Reject };
            foreach (var (name, body, mayPass) in Pick(Catalogue.WrongShapes(), Catalogue.WrongShapes().Where(b => b.Name is "array" or "null")))
                yield return ForOp("body-broken", name, op, A, JsonBody(body)) with { Expect = mayPass ? Expect.Any : Expect.Reject };
        }
    }

    IEnumerable<Probe> WrongTypeProbes()
    {
        foreach (var op in JsonOps)
        foreach (var f in Pick(op.Fields, op.Fields.Take(2)))
        foreach (var (type, json) in Pick(Catalogue.TypedValues, Catalogue.TypedValues.Where(t => t.Json is "123" or "[]" or "{}")))
        {
            if (f.Allows(type) || (type == "string" && f.Allows("string"))) continue;
            var body = ValidBody(op, A);
            body[f.Name] = JsonNode.Parse(json);
            // A free JSON field (params) takes any JSON value at the schema level; the SPEC wants an object.
            yield return ForOp("body-types", $"{f.Name}={json}", op, A, JsonBody(body.ToJsonString())) with { Expect = Expect.Reject };
        }
    }

    IEnumerable<Probe> HugeBodyProbes()
    {
        // The JSON is made with a placeholder, then the big value spliced in as bytes (no 10 MB escaping pass per probe).
        const string Slot = "@@HUGE@@";
        var hugeBytes = Encoding.ASCII.GetBytes(new string('A', o.HugeBytes));
        var nearBytes = Encoding.ASCII.GetBytes(new string('B', 250 * 1024));
        byte[] Splice(Operation op, Field f, byte[] value)
        {
            var body = ValidBody(op, A);
            body[f.Name] = f.Allows("string") ? Slot : f.Allows("array") ? new JsonArray(Slot) : new JsonObject { ["x"] = Slot };
            var json = Encoding.UTF8.GetBytes(body.ToJsonString());
            var at = json.AsSpan().IndexOf(Encoding.ASCII.GetBytes(Slot));
            return [.. json[..at], .. value, .. json[(at + Slot.Length)..]];
        }
        foreach (var op in JsonOps)
        {
            var stringFields = op.Fields.Where(f => f.Allows("string") || f.Allows("array") || f.Name == "params").ToList();
            foreach (var f in Pick(stringFields, stringFields.Take(1)))
            {
                yield return ForOp("body-huge", $"{f.Name} of {o.HugeBytes / 1024 / 1024.0:0.#} MiB", op, A, RawBody(Splice(op, f, hugeBytes)))
                    with { Expect = Expect.Reject, AllowNoAnswer = true };
                if (o.Full) yield return ForOp("body-huge", $"{f.Name} of 250 KiB", op, A, RawBody(Splice(op, f, nearBytes)));
            }
            // The same huge body without a Content-Length (chunked): the limit must hold while reading.
            if (stringFields.FirstOrDefault() is { } first)
            {
                var bytes = Splice(op, first, hugeBytes);
                yield return ForOp("body-huge", "chunked huge body", op, A, () =>
                {
                    var c = new StreamContent(new NoLengthStream(bytes));
                    c.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    return c;
                }) with { Expect = Expect.Reject, AllowNoAnswer = true };
            }
            if (o.Full && op.Fields.Any(f => f.Name == "imageIds"))
            {
                var many = ValidBody(op, A);
                many["imageIds"] = new JsonArray(Enumerable.Range(0, 20_000).Select(i => (JsonNode)$"{i:x32}").ToArray());
                yield return ForOp("body-huge", "20,000 image ids", op, A, JsonBody(many.ToJsonString())) with { Expect = Expect.Reject, AllowNoAnswer = true };
            }
        }
    }

    IEnumerable<Probe> Utf8Probes()
    {
        foreach (var op in JsonOps)
        {
            var f = op.Fields.FirstOrDefault(f => f.Allows("string"));
            if (f is null) continue;
            foreach (var (name, bad) in Pick(Catalogue.InvalidUtf8, Catalogue.InvalidUtf8.Take(2)))
            {
                var body = ValidBody(op, A);
                body[f.Name] = "@@BAD@@";
                var json = Encoding.UTF8.GetBytes(body.ToJsonString());
                var marker = Encoding.UTF8.GetBytes("@@BAD@@");
                var at = json.AsSpan().IndexOf(marker);
                var bytes = json[..at].Concat(bad).Concat(json[(at + marker.Length)..]).ToArray();
                yield return ForOp("body-utf8", $"{f.Name} with {name}", op, A, RawBody(bytes)) with { Expect = Expect.Reject };
            }
            var surrogate = ValidBody(op, A).ToJsonString().Replace($"\"{f.Name}\":\"", $"\"{f.Name}\":\"\\ud800x\\udfff", StringComparison.Ordinal);
            yield return ForOp("body-utf8", $"{f.Name} with lone surrogate escapes", op, A, JsonBody(surrogate));
            var bom = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(ValidBody(op, A).ToJsonString())).ToArray();
            yield return ForOp("body-utf8", "UTF-8 byte order mark", op, A, RawBody(bom));
        }
    }

    IEnumerable<Probe> ContentTypeProbes()
    {
        foreach (var op in JsonOps)
        {
            var json = ValidBody(op, A).ToJsonString();
            var reject = new[]
            {
                "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                "application/jsonx", "application/octet-stream", "image/png", "text/html; charset=utf-8",
            };
            foreach (var type in Pick(reject, ["text/plain", "application/x-www-form-urlencoded"]))
                yield return ForOp("content-type", type, op, A, JsonBody(json, type)) with { Expect = Expect.Reject };
            yield return ForOp("content-type", "no content type", op, A, RawBody(Encoding.UTF8.GetBytes(json), null)) with { Expect = Expect.Reject };
            yield return ForOp("content-type", "unknown charset", op, A, RawBody(Encoding.UTF8.GetBytes(json), "application/json; charset=x-klingon")) with { Expect = Expect.Reject };
            if (!o.Full) continue;
            yield return ForOp("content-type", "invalid content type", op, A, RawBody(Encoding.UTF8.GetBytes(json), null)) with
                { Headers = [("Content-Type", "application/json, text/plain;;;=")], Expect = Expect.Reject };
            yield return ForOp("content-type", "utf-16 body", op, A, RawBody(Encoding.Unicode.GetBytes(json), "application/json; charset=utf-16"));
            yield return ForOp("content-type", "+json type", op, A, JsonBody(json, "application/vnd.api+json"));
            yield return ForOp("content-type", "gzip claimed, plain sent", op, A, JsonBody(json)) with { Headers = [("Content-Encoding", "gzip")] };
        }
    }

    IEnumerable<Probe> UnknownFieldProbes()
    {
        foreach (var op in JsonOps)
        {
            var extras = new (string Name, JsonNode? Value)[]
            {
                ("isAdmin", true), ("userId", V.Id), ("id", V.Sessions[0]), ("__proto__", new JsonObject { ["isAdmin"] = true }),
                ("deletedAt", null), ("messageCount", 1000),
            };
            foreach (var (name, value) in Pick(extras, extras.Take(2)))
            {
                var body = ValidBody(op, A);
                if (body.ContainsKey(name)) continue;
                body[name] = value?.DeepClone();
                // Unknown members are ignored (SPEC section 1: the seed client sends extra ones), and so is "userId",
                // the commands' own server-set member. Allowed, as long as none makes the request act on the victim's data.
                yield return ForOp("unknown-fields", $"extra member {name}", op, A, JsonBody(body.ToJsonString())) with
                {
                    Expect = Expect.Any,
                    After = b => Task.FromResult(Encoding.UTF8.GetString(b) is var answer
                        && (answer.Contains(V.Id, StringComparison.Ordinal) || answer.Contains(V.Sessions[0], StringComparison.Ordinal))
                        ? "the answer names the victim or the victim's session" : null),
                };
            }
        }
    }

    IEnumerable<Probe> InjectionProbes()
    {
        // Hashing routes (register, login, password) cost ~0.2 s of CPU per attempt: a smaller set there.
        var costly = new HashSet<string> { "Register", "Login", "ChangePassword" };
        foreach (var op in JsonOps)
        foreach (var f in op.Fields.Where(f => f.Allows("string") || f.Allows("array")))
        foreach (var s in costly.Contains(op.Id) ? Catalogue.InjectionsSubset.Take(o.Full ? 8 : 2) : o.Full ? Catalogue.Injections : Catalogue.InjectionsSubset)
        {
            var body = ValidBody(op, A);
            body[f.Name] = f.Allows("string") ? s : new JsonArray(s);
            var probe = ForOp("injection", $"{f.Name}={Probe.Shorten(Escape(s), 30)}", op, A, JsonBody(body.ToJsonString()));
            yield return probe with { After = StoredAsAcknowledged(op, f.Name) };
        }
        // (Header values outside ASCII cannot be sent by HttpClient: the raw part sends them.)
        foreach (var s in Pick(Catalogue.Injections, Catalogue.InjectionsSubset).Where(s => s.All(char.IsAscii)))
            yield return new Probe("injection", $"Idempotency-Key {Probe.Shorten(Escape(s), 30)}", HttpMethod.Post, "/api/sessions")
            {
                Token = A.Token, Content = JsonBody("{\"title\":\"idem\"}"),
                Headers = [("Idempotency-Key", s.Replace("\r", "").Replace("\n", "").Replace("\0", ""))],
            };
        yield return new Probe("injection", "Idempotency-Key of 10 KB", HttpMethod.Post, "/api/sessions")
            { Token = A.Token, Content = JsonBody("{\"title\":\"idem\"}"), Headers = [("Idempotency-Key", new string('k', 10_000))] };
    }

    static string Escape(string s) => s.Replace("\r", "\\r").Replace("\n", "\\n").Replace("\0", "\\0");

    /// <summary>After an accepted write of a free-text field: the stored value (read back) is the one the answer acknowledged.</summary>
    Func<byte[], Task<string?>>? StoredAsAcknowledged(Operation op, string field)
    {
        (string Wrapper, Func<string, string> Path)? read = (op.Id, field) switch
        {
            ("CreateSession" or "RenameSession", "title") => ("session", id => $"/api/sessions/{id}"),
            ("PostMessage" or "EditMessage", "text") => ("messageData", id => $"/api/messages/{id}"),
            _ => null,
        };
        if (read is not { } r) return null;
        return async body =>
        {
            var acknowledged = JsonNode.Parse(body)?[r.Wrapper];
            if (acknowledged?["id"]?.GetValue<string>() is not { } id) return "no id in the answer";
            using var request = new HttpRequestMessage(HttpMethod.Get, r.Path(id));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", A.Token);
            using var response = await o.Http.SendAsync(request);
            var stored = JsonNode.Parse(await response.Content.ReadAsStringAsync())?[r.Wrapper]?[field]?.ToJsonString();
            var sent = acknowledged[field]?.ToJsonString();
            return stored == sent ? null : $"answered {Probe.Shorten(sent ?? "null", 60)}, stored {Probe.Shorten(stored ?? "null", 60)}";
        };
    }

    IEnumerable<Probe> HeaderProbes()
    {
        var targets = new (HttpMethod Method, string Path, string? Body)[]
        {
            (HttpMethod.Get, "/api/auth/me", null),
            (HttpMethod.Get, "/api/sessions", null),
            (HttpMethod.Post, "/api/sessions", "{\"title\":\"headers\"}"),
            (HttpMethod.Get, "/health", null),
        };
        var headerSets = new (string Name, (string, string)[] Headers)[]
        {
            ("16 KB header", [("X-Junk", new string('j', 16_000))]),
            ("90 headers", Enumerable.Range(0, 90).Select(i => ($"X-H{i}", new string('h', 100))).ToArray()),
            ("Accept xml", [("Accept", "application/xml")]),
            ("Accept garbage", [("Accept", "*/*;q=abc, ;;;")]),
            ("X-Forwarded-For garbage", [("X-Forwarded-For", "999.999.1.1, <script>, ::::::")]),
            ("X-Forwarded-For 5 KB", [("X-Forwarded-For", string.Join(", ", Enumerable.Repeat("10.0.0.1", 500)))]),
            ("X-Forwarded-Host evil", [("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "gopher")]),
            ("foreign Origin", [("Origin", "http://evil.example")]),
            ("Origin null", [("Origin", "null")]),
            ("Host header override", [("X-HTTP-Method-Override", "DELETE"), ("X-Original-URL", "/api/sessions")]),
            ("Range header", [("Range", "bytes=0-1")]),
            ("Expect 100-continue", [("Expect", "100-continue")]),
            ("Cookie junk", [("Cookie", "a=" + new string('c', 4000))]),
        };
        foreach (var (method, path, body) in targets)
        foreach (var (name, headers) in Pick(headerSets, headerSets.Take(4)))
            yield return new Probe("headers", $"{name} on {method} {path}", method, path)
                { Token = A.Token, Headers = headers, Content = body is null ? null : JsonBody(body) };
        foreach (var (name, header) in Pick(new[] { ("lowercase scheme", "bearer " + A.Token), ("two tokens", $"Bearer {A.Token}, Bearer {V.Token[..20]}"), ("token twice", $"Bearer {A.Token} {A.Token}"), ("tab separator", "Bearer\t" + A.Token) }, [("two tokens", $"Bearer {A.Token}, Bearer x")]))
            yield return new Probe("headers", $"Authorization {name}", HttpMethod.Get, "/api/auth/me") { Token = "!" + header };
        // A CORS preflight from an allowed and from a foreign origin.
        foreach (var origin in new[] { "http://localhost:5173", "http://evil.example" })
            yield return new Probe("headers", $"preflight from {origin}", HttpMethod.Options, "/api/sessions")
                { Headers = [("Origin", origin), ("Access-Control-Request-Method", "DELETE"), ("Access-Control-Request-Headers", "authorization, x-evil")] };
    }

    // ---------------------------------------------------------------- multipart

    /// <summary>A multipart upload written byte by byte, so that any file name (control characters, invalid names) goes on the wire as given.</summary>
    static HttpContent Upload(string sessionId, byte[] file, string fileName, string type = "uploaded", string field = "image",
        string fileContentType = "image/png", int extraFiles = 0)
    {
        const string b = "----sweep-upload-boundary";
        var body = new MemoryStream();
        void Text(string t) => body.Write(Encoding.UTF8.GetBytes(t));
        for (var i = 0; i <= extraFiles; i++)
        {
            Text($"--{b}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{(i == 0 ? fileName.Replace("\"", "%22") : $"{i}.png")}\"\r\nContent-Type: {fileContentType}\r\n\r\n");
            body.Write(file);
            Text("\r\n");
        }
        Text($"--{b}\r\nContent-Disposition: form-data; name=\"sessionId\"\r\n\r\n{sessionId}\r\n");
        Text($"--{b}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{type}\r\n--{b}--\r\n");
        var content = new ByteArrayContent(body.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", $"multipart/form-data; boundary={b}");
        return content;
    }

    static Func<HttpContent?> Multipart(string boundary, string body, string? contentType = null) =>
        RawBody(Encoding.UTF8.GetBytes(body.Replace("\n", "\r\n")), contentType ?? $"multipart/form-data; boundary={boundary}");

    IEnumerable<Probe> MultipartProbes()
    {
        var png = Png.Make(24, 24);
        var session = A.Sessions[0];
        foreach (var route in new[] { "/api/images/upload", "/api/images/upload/batch" })
        {
            var field = route.EndsWith("batch", StringComparison.Ordinal) ? "images" : "image";
            Probe P(string name, Func<HttpContent?> content, Expect expect = Expect.Reject, bool allowNoAnswer = false) =>
                new("multipart", $"{route}: {name}", HttpMethod.Post, route) { Token = A.Token, Content = content, Expect = expect, AllowNoAnswer = allowNoAnswer };

            foreach (var s in Pick(Catalogue.Injections, Catalogue.InjectionsSubset))
            {
                yield return P($"sessionId={Probe.Shorten(Escape(s), 30)}", () => Upload(s, png, "a.png", field: field));
                yield return P($"type={Probe.Shorten(Escape(s), 30)}", () => Upload(session, png, "a.png", s, field));
            }
            foreach (var name in Pick(new[] { "../../../../etc/passwd", "..\\..\\x.png", "a\u0000.png", new string('n', 300) + ".png", "con.png", "\u202Egnp.exe", "", ".", "/", "%2e%2e%2fx.png", "{u:x}.png", "*.png" }, ["../../../../etc/passwd", "a\u0000.png"]))
                yield return P($"file name {Probe.Shorten(Escape(name), 30)}", () => Upload(session, png, name, field: field), Expect.Any);
            var files = new (string Name, byte[] Bytes, string Type)[]
            {
                ("empty file", [], "image/png"),
                ("text file named png", "hello, not an image"u8.ToArray(), "image/png"),
                ("svg with script", "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"u8.ToArray(), "image/svg+xml"),
                ("html", "<html><script>alert(1)</script></html>"u8.ToArray(), "text/html"),
                ("png header only", png[..33], "image/png"),
                ("png header then garbage", png[..33].Concat(Enumerable.Repeat((byte)0x42, 4000)).ToArray(), "image/png"),
                ("gif claiming 65535x65535", "GIF89a"u8.ToArray().Concat(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0 }).Concat(new byte[64]).ToArray(), "image/gif"),
                ("zip", [0x50, 0x4B, 0x03, 0x04, .. new byte[200]], "application/zip"),
                ("pdf", "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"u8.ToArray(), "application/pdf"),
                ($"{o.HugeBytes / 1024 / 1024} MiB of random bytes", RandomBytes(o.HugeBytes), "image/jpeg"),
            };
            foreach (var (name, bytes, type) in Pick(files, files.Where(f => f.Name is "empty file" or "svg with script" or "png header then garbage")))
                yield return P(name, () => Upload(session, bytes, "f.png", field: field, fileContentType: type));
            if (o.Full)
                yield return P("21 MiB file (over the 20 MiB limit)", () => Upload(session, RandomBytes(21 * 1024 * 1024), "big.jpg", field: field), allowNoAnswer: true);

            const string b = "sweepboundary";
            yield return P("JSON instead of multipart", JsonBody($"{{\"sessionId\":\"{session}\",\"type\":\"uploaded\"}}"));
            yield return P("multipart without boundary", Multipart(b, $"--{b}\n\n--{b}--\n", "multipart/form-data"));
            yield return P("boundary of 300 characters", Multipart(new string('b', 300), $"--{new string('b', 300)}--\n", $"multipart/form-data; boundary={new string('b', 300)}"));
            yield return P("no closing boundary", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"sessionId\"\n\n{session}\n--{b}\nContent-Disposition: form-data; name=\"{field}\"; filename=\"a.png\"\nContent-Type: image/png\n\nPNGDATA"));
            yield return P("boundary never appears", Multipart(b, "just some bytes\n"));
            yield return P("part headers of 20 KB", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"sessionId\"\nX-Junk: {new string('x', 20_000)}\n\n{session}\n--{b}--\n"));
            yield return P("field of 2 MB", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"sessionId\"\n\n{new string('s', 2_000_000)}\n--{b}--\n"));
            yield return P("part without a name", Multipart(b, $"--{b}\nContent-Disposition: form-data\n\nx\n--{b}--\n"));
            yield return P("not form-data disposition", Multipart(b, $"--{b}\nContent-Disposition: attachment; filename=\"a.png\"\n\nx\n--{b}--\n"));
            yield return P("only fields, no file", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"sessionId\"\n\n{session}\n--{b}\nContent-Disposition: form-data; name=\"type\"\n\nuploaded\n--{b}--\n"));
            yield return P("sessionId twice (own, then victim's)", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"sessionId\"\n\n{session}\n--{b}\nContent-Disposition: form-data; name=\"sessionId\"\n\n{V.Sessions[0]}\n--{b}\nContent-Disposition: form-data; name=\"type\"\n\nuploaded\n--{b}--\n"), Expect.Any);
            yield return P("sessionId twice (victim's, then own)", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"sessionId\"\n\n{V.Sessions[0]}\n--{b}\nContent-Disposition: form-data; name=\"sessionId\"\n\n{session}\n--{b}--\n"));
            yield return P("invalid UTF-8 in a field", RawBody(Encoding.UTF8.GetBytes($"--{b}\r\nContent-Disposition: form-data; name=\"sessionId\"\r\n\r\n").Concat(new byte[] { 0xFF, 0xFE, 0xC0, 0xAF }).Concat(Encoding.UTF8.GetBytes($"\r\n--{b}--\r\n")).ToArray(), $"multipart/form-data; boundary={b}"));
            yield return P("filename* with bad encoding", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"{field}\"; filename*=UTF-8''%ff%fe%2e%2e%2f\nContent-Type: image/png\n\nxx\n--{b}--\n"));
            yield return P("nested multipart/mixed", Multipart(b, $"--{b}\nContent-Disposition: form-data; name=\"{field}\"\nContent-Type: multipart/mixed; boundary=inner\n\n--inner\nContent-Disposition: file; filename=\"a.png\"\n\nxx\n--inner--\n--{b}--\n"));
            if (field == "images")
                yield return P("11 files", () => Upload(session, png, "0.png", field: field, extraFiles: 10));
            else
                yield return P("two files in a single upload", () => Upload(session, png, "0.png", field: field, extraFiles: 1));
        }
    }

    static byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        new Random(n).NextBytes(bytes);
        return bytes;
    }

    // ---------------------------------------------------------------- blobs

    IEnumerable<Probe> BlobProbes()
    {
        Probe P(string name, string target, params (string, string)[] headers) =>
            new("blobs", name, HttpMethod.Get, target) { Headers = headers };
        if (_cast.VictimBlobPath is { } path)
        {
            var q = path.IndexOf('?');
            var (key, query) = (path[..q], path[(q + 1)..]);
            var exp = query.Split('&').First(x => x.StartsWith("exp=", StringComparison.Ordinal))[4..];
            var sig = query.Split('&').First(x => x.StartsWith("sig=", StringComparison.Ordinal))[4..];
            yield return P("signature changed", $"{key}?exp={exp}&sig={sig[..^2]}AA") with { Expect = Expect.Reject };
            yield return P("expiry moved", $"{key}?exp={long.Parse(exp) + 3600}&sig={sig}") with { Expect = Expect.Reject };
            yield return P("no signature", $"{key}?exp={exp}") with { Expect = Expect.Reject };
            yield return P("expiry not a number", $"{key}?exp=abc&sig={sig}") with { Expect = Expect.Reject };
            yield return P("expiry overflows", $"{key}?exp=99999999999999999999&sig={sig}") with { Expect = Expect.Reject };
            yield return P("expiry twice", $"{key}?exp={exp}&exp=1&sig={sig}") with { Expect = Expect.Reject };
            yield return P("other image's key, victim's signature", $"/blobs/users/{A.Id}/sessions/{A.Sessions[0]}/{A.Images[0]}/original.png?exp={exp}&sig={sig}") with { Expect = Expect.Reject };
            yield return P("traversal after a signed key", $"{key}/../../../../../etc/passwd?exp={exp}&sig={sig}") with { Expect = Expect.Reject };
            yield return P("encoded traversal after a signed key", $"{key}%2f..%2f..%2f..%2fetc%2fpasswd?exp={exp}&sig={sig}") with { Expect = Expect.Reject };
            foreach (var range in Pick(new[] { "bytes=999999999-", "bytes=abc", "bytes=5-1", "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10", "bytes=-0", "items=0-1" }, ["bytes=999999999-", "bytes=-0"]))
                yield return P($"valid URL with Range {range}", path, ("Range", range));
            yield return P("valid URL with If-None-Match *", path, ("If-None-Match", "*"));
            yield return P("valid URL with If-Modified-Since in the future", path, ("If-Modified-Since", DateTime.UtcNow.AddYears(1).ToString("R")));
        }
        foreach (var target in new[]
                 {
                     "/blobs/..%2f..%2f..%2fetc%2fpasswd?exp=9999999999&sig=x", "/blobs/%2e%2e/%2e%2e/etc/passwd?exp=9999999999&sig=x",
                     "/blobs/users/x/../../../etc/passwd", "/blobs/%00", "/blobs/" + new string('a', 6000), "/blobs/users?exp=-1&sig=",
                     "/blobs/C:%5cwindows%5cwin.ini?exp=1&sig=x", "/blobs/%ff%fe?exp=1&sig=x",
                 })
            yield return P($"unsigned {Probe.Shorten(target, 40)}", target) with { Expect = Expect.Reject };
        if (o.JwtSecret is null) yield break;
        // Correctly signed (the store's key derives from the JWT secret) but hostile keys: the store's own key check must hold.
        var signingKey = System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(o.JwtSecret), "nanobanana/blob-urls/v1"u8);
        foreach (var key in new[] { "../../../../../../etc/passwd", "users/../../appsettings.json", "/etc/passwd", "users/x/..\\..\\..\\x", "users/%2e%2e/x", "." })
        {
            var expiry = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
            var signature = Tokens.B64(System.Security.Cryptography.HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes($"{key}\n{expiry}")));
            var encoded = string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
            yield return P($"signed hostile key {key}", $"/blobs/{encoded}?exp={expiry}&sig={signature}") with { Expect = Expect.Reject };
        }
    }

    // ---------------------------------------------------------------- WebSocket hub

    async Task HubSweep()
    {
        var open = o.OpenWebSocket!;
        var started = Stopwatch.StartNew();
        var upgrades = new List<(string Name, string Target, bool MustRefuse)>
        {
            ("victim's session, attacker's token", $"/ws/{V.Sessions[0]}?token={A.Token}", true),
            ("attacker's session claiming the victim's userId", $"/ws/{A.Sessions[0]}?token={A.Token}&userId={V.Id}", true),
            ("no token", $"/ws/{V.Sessions[0]}", true),
        };
        foreach (var (name, header) in Pick(Tokens.Forged(V.Id, V.Device, V.Token, o.JwtSecret), Tokens.Forged(V.Id, V.Device, V.Token, o.JwtSecret).Take(3)))
            if (header.StartsWith("Bearer ", StringComparison.Ordinal) && header.Length > 7)
                upgrades.Add(($"forged token ({name})", $"/ws/{V.Sessions[0]}?token={Uri.EscapeDataString(header[7..])}", true));
        foreach (var id in Pick(Catalogue.PathIds(A.Sessions[0], "x"), Catalogue.PathIdsSubset))
            upgrades.Add(($"session id {Probe.Shorten(id, 30)}", $"/ws/{id}?token={A.Token}", true));
        foreach (var since in Pick(Catalogue.Numbers, Catalogue.NumbersSubset))
            upgrades.Add(($"since={since}", $"/ws/{A.Sessions[0]}?token={A.Token}&since={since}", false));

        foreach (var (name, target, mustRefuse) in upgrades)
        {
            var outcome = await Upgrade(open, target);
            var probe = $"[websocket] upgrade {name}";
            _report.Count("websocket", outcome, probe);
            if (outcome == "closed 1011") _report.Add(new Violation("websocket internal error", probe, 0, outcome));
            if (mustRefuse && outcome.StartsWith("open", StringComparison.Ordinal))
                _report.Add(new Violation("hostile input accepted", probe, 0, outcome));
        }

        // Hostile frames on the attacker's own socket: each is answered (an error frame) and the socket stays usable.
        var frames = new List<(string Name, byte[] Bytes, WebSocketMessageType Type)>();
        void Text(string name, string json) => frames.Add((name, Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text));
        Text("join the victim's session", $"{{\"type\":\"join_session\",\"payload\":{{\"sessionId\":\"{V.Sessions[0]}\"}}}}");
        Text("typing into the victim's session", $"{{\"type\":\"typing\",\"payload\":{{\"sessionId\":\"{V.Sessions[0]}\",\"isTyping\":true}}}}");
        Text("leave the victim's session", $"{{\"type\":\"leave_session\",\"payload\":{{\"sessionId\":\"{V.Sessions[0]}\"}}}}");
        foreach (var s in Pick(Catalogue.Injections, Catalogue.InjectionsSubset))
        {
            var quoted = JsonValue.Create(s)!.ToJsonString();
            Text($"join {Probe.Shorten(Escape(s), 20)}", $"{{\"type\":\"join_session\",\"payload\":{{\"sessionId\":{quoted}}}}}");
            Text($"type {Probe.Shorten(Escape(s), 20)}", $"{{\"type\":{quoted},\"payload\":{{}}}}");
        }
        foreach (var since in new[] { "9223372036854775807", "-1", "\"1\"", "1.5", "{}", "1e400", "null" })
            Text($"resume since {since}", $"{{\"type\":\"resume\",\"payload\":{{\"since\":{since}}}}}");
        Text("deep nesting", $"{{\"type\":\"ping\",\"payload\":{new string('[', 5000)}{new string(']', 5000)}}}");
        Text("not JSON", "{\"type\":");
        Text("JSON array", "[\"ping\"]");
        frames.Add(("1 MB frame", Encoding.UTF8.GetBytes($"{{\"type\":\"ping\",\"payload\":\"{new string('x', 1_000_000)}\"}}"), WebSocketMessageType.Text));
        frames.Add(("binary frame", [0, 1, 2, 0xFF], WebSocketMessageType.Binary));
        await FrameSweep(open, frames);
        // Last: a text frame that is not UTF-8 (the server may close the socket for it; 1007 is the right close).
        await FrameSweep(open, [("invalid UTF-8 text frame", [0x7B, 0xFF, 0xFE, 0x7D], WebSocketMessageType.Text)], expectAnswer: false);
        o.Log($"websocket: {upgrades.Count} upgrades, {frames.Count + 1} frames in {started.Elapsed.TotalSeconds:F1} s");
    }

    async Task<string> Upgrade(Func<string, CancellationToken, Task<WebSocket>> open, string target)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        WebSocket socket;
        try
        {
            socket = await open(target, cts.Token);
        }
        catch (Exception e) when (e is WebSocketException or InvalidOperationException or HttpRequestException or UriFormatException)
        {
            return "refused";
        }
        using (socket)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveAsync(buffer, cts.Token);
                    if (result.MessageType == WebSocketMessageType.Close) return $"closed {(int?)socket.CloseStatus}";
                    var text = Encoding.UTF8.GetString(buffer, 0, result.Count);
                    if (text.Contains(Cast.Marker, StringComparison.Ordinal))
                        _report.Add(new Violation("victim data in someone else's answer", $"[websocket] {target}", 0, text));
                    if (text.Contains("\"connected\"", StringComparison.Ordinal))
                    {
                        await Close(socket);
                        return "open";
                    }
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                return "dropped";
            }
        }
    }

    async Task FrameSweep(Func<string, CancellationToken, Task<WebSocket>> open, IReadOnlyList<(string Name, byte[] Bytes, WebSocketMessageType Type)> frames, bool expectAnswer = true)
    {
        WebSocket? socket = null;
        var buffer = new byte[64 * 1024];
        try
        {
            var sent = 0;
            foreach (var (name, bytes, type) in frames)
            {
                var probe = $"[websocket] frame: {name}";
                // A fresh socket every 15 frames keeps us inside the per-socket frame budget (20/s, burst 40).
                if (socket is null || socket.State != WebSocketState.Open || sent++ % 15 == 0)
                {
                    if (socket is not null) await Close(socket);
                    socket?.Dispose();
                    socket = await OpenOwn(open, buffer);
                }
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await socket.SendAsync(bytes, type, true, cts.Token);
                string outcome;
                try
                {
                    var result = await socket.ReceiveAsync(buffer, cts.Token);
                    var text = Encoding.UTF8.GetString(buffer, 0, result.Count);
                    outcome = result.MessageType == WebSocketMessageType.Close ? $"closed {(int?)socket.CloseStatus}" : FrameType(text);
                    if (text.Contains(Cast.Marker, StringComparison.Ordinal))
                        _report.Add(new Violation("victim data in someone else's answer", probe, 0, text));
                }
                catch (OperationCanceledException)
                {
                    outcome = "no answer";
                }
                catch (WebSocketException)
                {
                    outcome = "dropped";
                }
                _report.Count("websocket", outcome, probe);
                if (outcome == "closed 1011") _report.Add(new Violation("websocket internal error", probe, 0, outcome));
                if (expectAnswer && (outcome is "no answer" or "dropped" || outcome.StartsWith("closed", StringComparison.Ordinal)))
                    _report.Add(new Violation("websocket frame not answered", probe, 0, outcome));
                if (outcome is "session_joined" && name.Contains("victim", StringComparison.Ordinal))
                    _report.Add(new Violation("hostile input accepted", probe, 0, outcome));
            }
        }
        finally
        {
            if (socket is not null) { await Close(socket); socket.Dispose(); }
        }
    }

    async Task<WebSocket> OpenOwn(Func<string, CancellationToken, Task<WebSocket>> open, byte[] buffer)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var socket = await open($"/ws/{A.Sessions[0]}?token={A.Token}", cts.Token);
        var first = await socket.ReceiveAsync(buffer, cts.Token);
        if (!Encoding.UTF8.GetString(buffer, 0, first.Count).Contains("\"connected\"", StringComparison.Ordinal))
            throw new InvalidOperationException("the attacker's own socket did not open");
        return socket;
    }

    static string FrameType(string text)
    {
        try
        {
            var frame = JsonNode.Parse(text);
            var type = frame?["type"]?.GetValue<string>();
            return type == "error" ? $"error {frame?["payload"]?["code"]?.GetValue<string>()}" : type ?? "?";
        }
        catch (System.Text.Json.JsonException)
        {
            return "not JSON";
        }
    }

    static async Task Close(WebSocket socket)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            if (socket.State == WebSocketState.Open) await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { socket.Abort(); }
    }

    // ---------------------------------------------------------------- raw HTTP (real listener only)

    async Task RawSweep()
    {
        var raw = o.Raw!;
        var host = $"{_base.Host}:{_base.Port}";
        var auth = $"Authorization: Bearer {A.Token}\r\n";
        var cases = new List<(string Name, byte[] Request, bool ProtocolLevel)>();
        void Add(string name, string text, bool protocolLevel = false) => cases.Add((name, Encoding.Latin1.GetBytes(text), protocolLevel));
        void AddBytes(string name, byte[] bytes, bool protocolLevel = false) => cases.Add((name, bytes, protocolLevel));

        AddBytes("raw 0xFF bytes in the path", [.. Encoding.ASCII.GetBytes("GET /api/sessions/"), 0xFF, 0xFE, .. Encoding.ASCII.GetBytes($" HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n")], protocolLevel: true);
        AddBytes("overlong UTF-8 in the path", [.. Encoding.ASCII.GetBytes("GET /api/sessions/"), 0xC0, 0xAE, 0xC0, 0xAE, .. Encoding.ASCII.GetBytes($" HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n")], protocolLevel: true);
        Add("raw dot segments to the victim's session", $"GET /api/sessions/{A.Sessions[0]}/../{V.Sessions[0]} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
        Add("raw dot segments out of /blobs", $"GET /blobs/../../../../etc/passwd HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        Add("backslash traversal", $"GET /blobs/..\\..\\..\\etc\\passwd HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", protocolLevel: true);
        Add("absolute-form target to another host", $"GET http://evil.example/api/auth/me HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
        Add("request line of 10 KB", $"GET /api/sessions?q={new string('q', 10_000)} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n", protocolLevel: true);
        Add("one header of 40 KB", $"GET /api/auth/me HTTP/1.1\r\nHost: {host}\r\n{auth}X-Junk: {new string('j', 40_000)}\r\nConnection: close\r\n\r\n", protocolLevel: true);
        Add("150 headers", $"GET /api/auth/me HTTP/1.1\r\nHost: {host}\r\n{auth}{string.Concat(Enumerable.Range(0, 150).Select(i => $"X-H{i}: v\r\n"))}Connection: close\r\n\r\n", protocolLevel: true);
        Add("Content-Length and Transfer-Encoding together", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n", protocolLevel: true);
        Add("negative Content-Length", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{{}}", protocolLevel: true);
        Add("two different Content-Lengths", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{{}}", protocolLevel: true);
        Add("smuggled second request after the body", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}DELETE /api/sessions/{V.Sessions[0]} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {A.Token}\r\nConnection: close\r\n\r\n");
        Add("bad chunk size", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n", protocolLevel: true);
        Add("chunk size overflow", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n{{}}\r\n0\r\n\r\n", protocolLevel: true);
        Add("NUL in a header value", $"GET /api/auth/me HTTP/1.1\r\nHost: {host}\r\n{auth}X-A: a\0b\r\nConnection: close\r\n\r\n", protocolLevel: true);
        Add("bare LF line ends", $"GET /api/auth/me HTTP/1.1\nHost: {host}\n{auth.Replace("\r\n", "\n")}Connection: close\n\n", protocolLevel: true);
        Add("header folding", $"GET /api/auth/me HTTP/1.1\r\nHost: {host}\r\n{auth}X-A: a\r\n  folded\r\nConnection: close\r\n\r\n", protocolLevel: true);
        Add("no Host header", $"GET /api/auth/me HTTP/1.1\r\n{auth}Connection: close\r\n\r\n", protocolLevel: true);
        Add("HTTP/1.0 without Host", $"GET /health HTTP/1.0\r\n\r\n");
        Add("unknown HTTP version", $"GET /health HTTP/9.9\r\nHost: {host}\r\nConnection: close\r\n\r\n", protocolLevel: true);
        Add("invalid method token", $"G@T /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", protocolLevel: true);
        Add("HTTP/2 preface on HTTP/1.1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", protocolLevel: true);
        AddBytes("UTF-8 bytes in a header value", [.. Encoding.ASCII.GetBytes($"GET /api/auth/me HTTP/1.1\r\nHost: {host}\r\n{auth}X-Name: "), .. Encoding.UTF8.GetBytes("çé✓"), .. Encoding.ASCII.GetBytes("\r\nConnection: close\r\n\r\n")], protocolLevel: true);
        AddBytes("UTF-8 Idempotency-Key", [.. Encoding.ASCII.GetBytes($"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nIdempotency-Key: "), .. Encoding.UTF8.GetBytes("\u202Eevil Ａｄｍｉｎ 🎉"), .. Encoding.ASCII.GetBytes("\r\nConnection: close\r\n\r\n{}")], protocolLevel: true);
        AddBytes("Latin-1 byte in a header value", [.. Encoding.ASCII.GetBytes($"GET /api/auth/me HTTP/1.1\r\nHost: {host}\r\n{auth}X-Name: caf"), 0xE9, .. Encoding.ASCII.GetBytes("\r\nConnection: close\r\n\r\n")], protocolLevel: true);
        // HttpClient stops at a broken pipe when the server answers before the body is sent; a raw client
        // sends what it can, then reads: the server must have answered these with problem details.
        var chunk = new string('A', 64 * 1024);
        Add("chunked JSON body of 1 MiB (over the limit)", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
            "E\r\n{\"title\":\"AAAA\r\n" + string.Concat(Enumerable.Repeat($"{chunk.Length:X}\r\n{chunk}\r\n", 16)) + "2\r\n\"}\r\n0\r\n\r\n");
        var bigFile = new string('J', 21 * 1024 * 1024);
        var multipart = $"--b\r\nContent-Disposition: form-data; name=\"sessionId\"\r\n\r\n{A.Sessions[0]}\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n{bigFile}\r\n--b--\r\n";
        Add("upload of a 21 MiB file (over the 20 MiB limit)", $"POST /api/images/upload HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {multipart.Length}\r\nConnection: close\r\n\r\n{multipart}");
        Add("CRLF injection in the path", $"GET /api/sessions/%0d%0aSet-Cookie:%20x=y HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
        Add("JSON body declared longer than sent", $"POST /api/sessions HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\":\"x\"}}", protocolLevel: true);

        foreach (var (name, request, protocolLevel) in cases)
        {
            var probe = $"[raw-http] {name}";
            var answer = await raw.Send(request, TimeSpan.FromSeconds(protocolLevel ? 15 : 20));
            if (answer is null)
            {
                _report.Count("raw-http", "no answer", probe);
                if (!protocolLevel) _report.Add(new Violation("no answer", probe, 0, "the server closed the connection without answering"));
                else _report.Note($"{probe}: connection closed without an answer");
                continue;
            }
            _report.Count("raw-http", answer.Status.ToString(), probe);
            if (answer.Status >= 500 && !(protocolLevel && answer.Status == 505))
                _report.Add(new Violation("5xx", probe, answer.Status, Checks.Preview(answer.Body)));
            if (answer.Status is >= 200 and < 300 && name.Contains("victim", StringComparison.Ordinal))
                _report.Add(new Violation("hostile input accepted", probe, answer.Status, Checks.Preview(answer.Body)));
            if (answer.Status is < 200 or >= 300 && Checks.ProblemDefect(answer.Status, answer.MediaType, answer.Body) is { } defect)
            {
                // Kestrel refuses malformed HTTP itself, before any app code runs, with an empty body: noted, not the app's answer.
                if (!answer.FromApp && (answer.Status < 500 || answer.Status == 505) && answer.Body.Length == 0)
                    _report.Note($"{probe}: {answer.Status} from the HTTP server itself (empty body, before the app)");
                else
                    _report.Add(new Violation("not problem details", probe, answer.Status, defect));
            }
            if (Encoding.UTF8.GetString(answer.Body).Contains(Cast.Marker, StringComparison.Ordinal))
                _report.Add(new Violation("victim data in someone else's answer", probe, answer.Status, Checks.Preview(answer.Body)));
        }
    }
}

/// <summary>A stream without a known length, so HttpClient sends it chunked.</summary>
sealed class NoLengthStream(byte[] data) : Stream
{
    readonly MemoryStream _inner = new(data);
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => _inner.ReadAsync(buffer, ct);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _inner.Position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
