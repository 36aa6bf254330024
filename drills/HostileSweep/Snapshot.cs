using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace HostileSweep;

/// <summary>
/// Everything stored for one user, as the user sees it through the API and as Redis holds it
/// (DUMP of every key with the user's hash tag, the user's uniqueness claims and its entries in the
/// global image indexes). Abuse counters (rate limits, sign-in failures) are left out on purpose.
/// </summary>
public sealed class Snapshot
{
    public SortedDictionary<string, string> Entries { get; } = new(StringComparer.Ordinal);

    public static async Task<Snapshot> Take(HttpClient http, IDatabase? redis, Person p)
    {
        var s = new Snapshot();
        async Task<JsonNode?> Get(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", p.Token);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var node = JsonNode.Parse(body);
            Strip(node);
            s.Entries[$"api GET {path}"] = $"{(int)response.StatusCode} {node?.ToJsonString()}";
            return node;
        }

        await Get("/api/auth/me");
        await Get("/api/sessions?limit=100");
        foreach (var session in p.Sessions)
        {
            await Get($"/api/sessions/{session}");
            await Get($"/api/sessions/{session}/stats");
            await Get($"/api/sessions/{session}/messages?limit=100");
            await Get($"/api/images/session/{session}?limit=1000");
        }
        foreach (var message in p.Messages)
        {
            await Get($"/api/messages/{message}");
            await Get($"/api/messages/{message}/revisions");
            await Get($"/api/messages/{message}/images");
        }
        await Get("/api/images/user/all?limit=1000");
        await Get("/api/search?q=" + Cast.Marker);
        await Get("/api/search?q=" + Uri.EscapeDataString("猫の"));
        await Get("/api/sync?since=0&limit=1000");
        foreach (var image in p.Images)
        {
            // The stored bytes, through a freshly signed URL (local store: served by the app).
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/images/{image}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", p.Token);
            using var response = await http.SendAsync(request);
            var url = JsonNode.Parse(await response.Content.ReadAsStringAsync())?["image"]?["url"]?.GetValue<string>();
            if (url is not null && url.Contains("/blobs/", StringComparison.Ordinal))
            {
                var bytes = await http.GetByteArrayAsync(url[url.IndexOf("/blobs/", StringComparison.Ordinal)..]);
                s.Entries[$"blob {image}"] = Convert.ToHexString(SHA256.HashData(bytes));
            }
        }

        if (redis is not null)
        {
            var tag = $"nb:{{u:{p.Id}}}:";
            foreach (var endpoint in redis.Multiplexer.GetEndPoints())
            {
                var server = redis.Multiplexer.GetServer(endpoint);
                if (server.IsReplica) continue;
                await foreach (var key in server.KeysAsync(redis.Database, tag + "*", pageSize: 500))
                {
                    var dump = await redis.KeyDumpAsync(key);
                    s.Entries[$"redis {key}"] = dump is null ? "(gone)" : Convert.ToBase64String(dump);
                }
            }
            foreach (var claim in new[] { $"nb:email:{p.Email.ToLowerInvariant()}", $"nb:username:{p.Username.ToLowerInvariant()}" })
                s.Entries[$"redis {claim}"] = (string?)await redis.StringGetAsync(claim) ?? "(none)";
            foreach (var index in new[] { "nb:images:blobs" })
            {
                var type = await redis.KeyTypeAsync(index);
                var members = type == RedisType.SortedSet
                    ? (await redis.SortedSetRangeByRankWithScoresAsync(index)).Select(e => $"{e.Element}={e.Score}")
                    : type == RedisType.Set ? (await redis.SetMembersAsync(index)).Select(m => m.ToString()) : [];
                s.Entries[$"redis {index} (victim's members)"] = string.Join(",", members.Where(m => m.StartsWith(p.Id, StringComparison.Ordinal)).Order());
            }
        }
        return s;
    }

    /// <summary>The differences from an earlier snapshot, one line each.</summary>
    public List<string> Diff(Snapshot before)
    {
        var lines = new List<string>();
        foreach (var (k, v) in before.Entries)
        {
            if (!Entries.TryGetValue(k, out var now)) lines.Add($"gone: {k}");
            else if (now != v) lines.Add($"changed: {k}: {Probe.Shorten(v, 200)} => {Probe.Shorten(now, 200)}");
        }
        foreach (var k in Entries.Keys.Where(k => !before.Entries.ContainsKey(k))) lines.Add($"new: {k}");
        return lines;
    }

    // Signed URLs are signed afresh on every read: not stored data.
    static void Strip(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var name in new[] { "url", "urlExpiresAt" }) o.Remove(name);
                foreach (var (_, child) in o.ToList()) Strip(child);
                break;
            case JsonArray a:
                foreach (var child in a) Strip(child);
                break;
        }
    }
}
