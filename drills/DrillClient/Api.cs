using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using NetVips;

namespace DrillClient;

/// <summary>One HTTP answer as the drill saw it: status 0 when no answer came (refused, reset, timed out).</summary>
sealed record Outcome(string Route, int Status, string? Code, bool IsProblem, double StartedMs, double EndedMs, JsonObject? Body, string? Error)
{
    public string? RetryAfter { get; init; }
    /// <summary>When the request started (wall clock), to set it beside the app's request log.</summary>
    public DateTimeOffset At { get; init; }
    /// <summary>The time spent opening a new connection for this request (a client that sends one request at a time), else null.</summary>
    public double? ConnectMs { get; init; }
    public double Ms => EndedMs - StartedMs;
    public bool Ok => Status is >= 200 and < 300;
    public override string ToString() =>
        Status == 0 ? $"{Route}: no answer ({Error}) after {Ms:F0} ms" : $"{Route}: {Status} {Code ?? ""} in {Ms:F0} ms";
}

sealed record Account(string Id, string Email, string Token, string RefreshToken);

/// <summary>
/// The API as a client uses it, every call timed and never throwing for an HTTP or network failure.
/// <paramref name="from"/>: the loopback source address its connections bind to (127.0.0.x), so the app
/// sees distinct client addresses.
/// </summary>
sealed class Api
{
    public string BaseUrl { get; }

    /// <summary>The connection handler (bound to <c>from</c>), shared with the sockets this client opens.</summary>
    public SocketsHttpHandler Handler { get; }

    readonly HttpClient _http;

    // Connections opened, and how long the last one took (TCP handshake), for a client that sends one request at a time.
    int _connects;
    double _lastConnectMs;

    public Api(string baseUrl, TimeSpan? timeout = null, string? from = null, TimeSpan? connectionLifetime = null)
    {
        BaseUrl = baseUrl.TrimEnd('/');
        Handler = Bound(from, connectionLifetime ?? TimeSpan.FromSeconds(30));
        _http = new HttpClient(Handler) { BaseAddress = new Uri(baseUrl), Timeout = timeout ?? TimeSpan.FromSeconds(30) };
    }

    SocketsHttpHandler Bound(string? from, TimeSpan lifetime)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = lifetime };
        if (from is null) return handler;
        var local = new System.Net.IPEndPoint(System.Net.IPAddress.Parse(from), 0);
        handler.ConnectCallback = async (context, ct) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(local);
                var started = Clock.Ms;
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                _lastConnectMs = Clock.Ms - started;
                Interlocked.Increment(ref _connects);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
        return handler;
    }

    public const string Password = "drill password 1234";

    public async Task<Outcome> Send(HttpMethod method, string path, string? token = null, object? json = null, HttpContent? content = null,
        string? route = null)
    {
        route ??= $"{method} {path}";
        var at = DateTimeOffset.UtcNow;
        var connects = Volatile.Read(ref _connects);
        var started = Clock.Ms;
        try
        {
            using var request = new HttpRequestMessage(method, path);
            if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (json is not null) request.Content = JsonContent.Create(json);
            else if (content is not null) request.Content = content;
            using var response = await _http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            JsonObject? body = null;
            try { body = JsonNode.Parse(text) as JsonObject; } catch (System.Text.Json.JsonException) { }
            var isProblem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
            return new Outcome(route, (int)response.StatusCode, body?["code"]?.GetValue<string>(), isProblem, started, Clock.Ms, body, null)
            {
                RetryAfter = response.Headers.RetryAfter?.ToString(), At = at,
                ConnectMs = Volatile.Read(ref _connects) != connects ? _lastConnectMs : null,
            };
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return new Outcome(route, 0, null, false, started, Clock.Ms, null, e is TaskCanceledException ? "timed out" : e.GetBaseException().Message);
        }
    }

    public Task<Outcome> Get(string path, string? token, string? route = null) => Send(HttpMethod.Get, path, token, route: route);
    public Task<Outcome> Post(string path, string? token, object? json, string? route = null) => Send(HttpMethod.Post, path, token, json ?? new { }, route: route);

    public async Task<Account> Register(string prefix)
    {
        var (email, username) = NewNames(prefix);
        var r = await Post("/api/auth/register", null, new { email, username, password = Password });
        if (r.Status != 201) throw new InvalidOperationException($"register failed: {r}");
        return new Account(r.Body!["user"]!["id"]!.GetValue<string>(), email, r.Body["token"]!.GetValue<string>(), r.Body["refreshToken"]!.GetValue<string>());
    }

    public static (string Email, string Username) NewNames(string prefix)
    {
        var tag = Guid.NewGuid().ToString("N")[..10];
        return ($"{prefix}.{tag}@drill.example", $"{prefix}_{tag}");
    }

    public async Task<string> CreateSession(Account a, string title = "Drill")
    {
        var r = await Post("/api/sessions", a.Token, new { title });
        if (r.Status != 201) throw new InvalidOperationException($"create session failed: {r}");
        return r.Body!["session"]!["id"]!.GetValue<string>();
    }

    public async Task<string> PostMessage(Account a, string sessionId, string text, IEnumerable<string>? imageIds = null)
    {
        var r = await Post($"/api/sessions/{sessionId}/messages", a.Token, new { role = "user", text, imageIds = imageIds?.ToArray() ?? [] });
        if (r.Status != 201) throw new InvalidOperationException($"post message failed: {r} {r.Body?["message"]}");
        return r.Body!["messageData"]!["id"]!.GetValue<string>();
    }

    public Task<Outcome> Upload(Account a, string sessionId, byte[] bytes, string name = "photo.jpg") =>
        Send(HttpMethod.Post, "/api/images/upload", a.Token, content: Form(sessionId, "image", [(name, bytes)]), route: "POST /api/images/upload");

    public Task<Outcome> UploadBatch(Account a, string sessionId, IReadOnlyList<byte[]> files) =>
        Send(HttpMethod.Post, "/api/images/upload/batch", a.Token,
            content: Form(sessionId, "images", files.Select((f, i) => ($"photo{i}.jpg", f)).ToList()), route: "POST /api/images/upload/batch");

    public static MultipartFormDataContent Form(string sessionId, string field, IReadOnlyList<(string Name, byte[] Bytes)> files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, bytes) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            form.Add(part, field, name);
        }
        form.Add(new StringContent(sessionId), "sessionId");
        form.Add(new StringContent("uploaded"), "type");
        return form;
    }

    /// <summary>Every image of the user (the user list, all pages): id to status.</summary>
    public async Task<Dictionary<string, JsonObject>> AllImages(Account a)
    {
        var all = new Dictionary<string, JsonObject>();
        for (var offset = 0; ; offset += 1000)
        {
            var r = await Get($"/api/images/user/all?limit=1000&offset={offset}", a.Token);
            if (r.Status != 200) throw new InvalidOperationException($"image list failed: {r}");
            var page = r.Body!["images"]!.AsArray();
            foreach (var image in page) all[image!["id"]!.GetValue<string>()] = image.AsObject();
            if (!r.Body["pagination"]!["hasMore"]!.GetValue<bool>()) return all;
        }
    }

    /// <summary>Waits until /health answers 200 (or the time runs out); returns when it did, or null.</summary>
    public async Task<double?> WaitHealthy(TimeSpan within)
    {
        var until = Clock.Ms + within.TotalMilliseconds;
        while (Clock.Ms < until)
        {
            var r = await Get("/health", null);
            if (r.Status == 200) return Clock.Ms;
            await Task.Delay(100);
        }
        return null;
    }

    /// <summary>Opens the hub and reports how the server closed it (or the first frame it sent).</summary>
    public async Task<(string What, double Ms)> OpenSocket(Account a, string sessionId, TimeSpan within)
    {
        var started = Clock.Ms;
        using var socket = new ClientWebSocket();
        using var cts = new CancellationTokenSource(within);
        try
        {
            var ws = new Uri(BaseUrl.Replace("http://", "ws://") + $"/ws/{sessionId}?token={Uri.EscapeDataString(a.Token)}");
            await socket.ConnectAsync(ws, cts.Token);
            var buffer = new byte[16384];
            var frame = await socket.ReceiveAsync(buffer, cts.Token);
            if (frame.MessageType == WebSocketMessageType.Close)
                return ($"closed {(int?)socket.CloseStatus} {socket.CloseStatusDescription}", Clock.Ms - started);
            var text = System.Text.Encoding.UTF8.GetString(buffer, 0, frame.Count);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            return ($"frame {JsonNode.Parse(text)?["type"]}", Clock.Ms - started);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            return ($"failed: {e.Message}", Clock.Ms - started);
        }
    }
}

/// <summary>Pictures made in code: noisy JPEGs, so the thumbnail work and the uploads take real time.</summary>
static class Pictures
{
    public static byte[] NoisyJpeg(int width, int height)
    {
        using var noise = Image.Gaussnoise(width, height, mean: 128, sigma: 50);
        using var rgb = noise.Bandjoin(noise, noise).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        return rgb.JpegsaveBuffer(q: 85);
    }

    public static byte[] Small() => NoisyJpeg(64, 48);
}
