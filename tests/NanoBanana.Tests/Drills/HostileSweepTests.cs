using Alba;
using HostileSweep;
using Microsoft.AspNetCore.TestHost;
using Wolverine.Tracking;
using Xunit.Abstractions;

namespace NanoBanana.Tests.Drills;

/// <summary>
/// The hostile input sweep of drills/hostile (issue 7), its representative subset against the in-process
/// host: every route of the OpenAPI document, the WebSocket hub and /blobs get malformed JSON, wrong types,
/// 10 MB strings, invalid UTF-8, traversal and injection strings in ids, forged and foreign tokens and
/// wrong content types. No 5xx, every error is problem details, hostile input that must be refused is,
/// nobody else's answer holds the victim's data, the victim's stored data (API view and Redis DUMP) is
/// unchanged, and the app logged no error. The whole catalogue, with byte-level HTTP on a real listener:
/// <c>bash drills/hostile/run.sh</c>.
/// </summary>
[Trait("Category", "Hostile")]
public sealed class HostileSweepTests(AppFixture app, ITestOutputHelper output) : IntegrationContext(app)
{
    [Fact]
    public async Task Hostile_input_on_every_route_breaks_no_rule_and_changes_no_stored_data()
    {
        var logs = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "logs");
        // A host of its own: the sweep sends ~1,500 requests, far past the general per-user rate limit,
        // which would answer most of them 429 before the routes themselves are reached.
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?>
        {
            ["LOG_DIR"] = logs,
            ["RATE_LIMIT_PER_USER"] = "1000000",
            ["RATE_LIMIT_PER_ADDRESS"] = "1000000",
        });
        var client = host.Server.CreateClient();

        var report = await new Sweep(new SweepOptions
        {
            Http = client,
            Redis = App.Admin.GetDatabase(),
            JwtSecret = AppFixture.JwtSecret,
            Full = false,
            ExactTargets = false,
            Log = output.WriteLine,
            // (The test server's WebSocket client needs a canonical URI; the drill sends the targets byte for byte.)
            OpenWebSocket = (target, ct) => host.Server.CreateWebSocketClient().ConnectAsync(
                new Uri(client.BaseAddress!.GetLeftPart(UriPartial.Authority) + target), ct),
            // Thumbnails of the uploads run on Wolverine's local queue: wait for them with its tracking.
            Settle = action => host.TrackActivity(TimeSpan.FromSeconds(60)).DoNotAssertOnExceptionsDetected()
                .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ => action())),
        }).Run();

        output.WriteLine(report.Summary());
        Assert.True(report.Violations.Count == 0, report.Summary());
        // Sanity: the sweep really ran (every category, and a good share refused).
        Assert.True(report.Sent > 1000, report.Summary());
        foreach (var category in new[] { "auth", "other-user", "path", "query", "body-broken", "body-types", "body-huge", "body-utf8", "content-type", "injection", "multipart", "blobs", "websocket" })
            Assert.True(report.ByCategory.GetValueOrDefault(category) > 0, $"category {category} sent nothing");
        var errorLog = Path.Combine(logs, "error.log");
        Assert.Equal("", File.Exists(errorLog) ? Read(errorLog) : "");
    }

    static string Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }
}
