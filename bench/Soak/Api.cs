using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Soak;

/// <summary>What one HTTP call answered: the status (0 when no answer came) and the JSON body.</summary>
sealed record Reply(int Status, JsonObject? Body)
{
    public bool Ok => Status is >= 200 and < 300;
    public JsonNode? this[string key] => Body?[key];
}

/// <summary>
/// The soak's HTTP client: every call is counted by route and status, with its latency, and the
/// minute of the run it fell in. A non-2xx answer or a call without an answer is kept for the report.
/// </summary>
sealed class Api(HttpClient http, Stopwatch clock)
{
    readonly ConcurrentDictionary<(string Route, int Status), long> _counts = new();
    readonly ConcurrentDictionary<string, ConcurrentBag<double>> _latencies = new();
    readonly ConcurrentDictionary<int, long> _perMinute = new();
    readonly ConcurrentQueue<string> _surprises = new();
    int _surpriseCount;

    /// <summary>True while the measured run is on; setup and drain calls are counted apart.</summary>
    public volatile bool Measuring;
    public HttpClient Http => http;

    public IReadOnlyDictionary<(string Route, int Status), long> Counts => _counts;
    public IReadOnlyDictionary<int, long> PerMinute => _perMinute;
    public IEnumerable<string> Surprises => _surprises;
    public int SurpriseCount => Volatile.Read(ref _surpriseCount);

    public IReadOnlyDictionary<string, double[]> Latencies =>
        _latencies.ToDictionary(kv => kv.Key, kv => kv.Value.Order().ToArray());

    public Task<Reply> Get(string route, string path, string? token) => Send(route, HttpMethod.Get, path, token, null);

    public Task<Reply> Post(string route, string path, string? token, object? body, string? idempotencyKey = null) =>
        Send(route, HttpMethod.Post, path, token, body is null ? null : JsonContent(body), idempotencyKey);

    public Task<Reply> Put(string route, string path, string? token, object body) => Send(route, HttpMethod.Put, path, token, JsonContent(body));
    public Task<Reply> Patch(string route, string path, string? token, object body) => Send(route, HttpMethod.Patch, path, token, JsonContent(body));
    public Task<Reply> Delete(string route, string path, string? token) => Send(route, HttpMethod.Delete, path, token, null);

    static HttpContent JsonContent(object body) => System.Net.Http.Json.JsonContent.Create(body);

    public async Task<Reply> Send(string route, HttpMethod method, string path, string? token, HttpContent? content,
        string? idempotencyKey = null, IEnumerable<int>? expected = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        var started = Stopwatch.GetTimestamp();
        var label = $"{method.Method} {route}";
        try
        {
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            Count(label, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            JsonObject? body = null;
            try { body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null; }
            catch (System.Text.Json.JsonException) { Surprise($"{label} -> {status}: a body that is not JSON: {Cut(text)}"); }
            if (!(status is >= 200 and < 300) && !(expected?.Contains(status) ?? false))
                Surprise($"{label} ({path.Split('?')[0]}) -> {status}: {Cut(text)}");
            return new Reply(status, body);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            Count(label, 0, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            Surprise($"{label} ({path.Split('?')[0]}) -> no answer: {e.GetType().Name}: {e.Message}");
            return new Reply(0, null);
        }
    }

    /// <summary>A fetch outside the app's API (a presigned blob URL): counted by status, the body only read.</summary>
    public async Task<int> Fetch(string route, string url)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.GetAsync(url);
            var bytes = await response.Content.ReadAsByteArrayAsync();
            var status = (int)response.StatusCode;
            Count(route, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (status != 200 || bytes.Length == 0) Surprise($"{route} -> {status}, {bytes.Length} bytes");
            return status;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            Count(route, 0, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            Surprise($"{route} -> no answer: {e.GetType().Name}: {e.Message}");
            return 0;
        }
    }

    void Count(string label, int status, double ms)
    {
        var key = Measuring ? label : $"(setup/drain) {label}";
        _counts.AddOrUpdate((key, status), 1, (_, n) => n + 1);
        if (!Measuring) return;
        _latencies.GetOrAdd(label, _ => []).Add(ms);
        _perMinute.AddOrUpdate((int)(clock.Elapsed.TotalSeconds / 60) + 1, 1, (_, n) => n + 1);
    }

    public void Surprise(string what)
    {
        Interlocked.Increment(ref _surpriseCount);
        if (_surprises.Count < 200) _surprises.Enqueue($"{clock.Elapsed:mm\\:ss} {what}");
    }

    static string Cut(string s) => s.Length <= 300 ? s : s[..300] + "...";
}
