using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace DrillClient;

/// <summary>
/// Two instances on one Redis and one store; 30 large pictures uploaded to instance 1, which is killed with kill -9
/// while it makes their thumbnails and never started again. Instance 2 must take the work over once its leases lapse:
/// every image ready within the lease plus the work, with exactly one image_ready each in the user's event log.
/// </summary>
static class OrphanDrill
{
    public static async Task<int> Run(Options o)
    {
        var one = new Api(o.Url, TimeSpan.FromSeconds(180));
        var two = new Api(o.Url2, TimeSpan.FromSeconds(60));
        var ctl = new Control(o.Ctl);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(o.Redis);
        var db = redis.GetDatabase();

        var a = await one.Register("orphan");
        var session = await one.CreateSession(a, "orphan drill");
        var pictures = Enumerable.Range(0, 10).Select(_ => Pictures.NoisyJpeg(2400, 1600)).ToList();
        Report.Line($"orphan drill: lease {o.LeaseSeconds} s; 3 batches of {pictures.Count} pictures of 2400x1600 " +
                    $"({3 * pictures.Sum(p => p.Length) / 1024 / 1024} MiB) to instance 1, instance 2 alongside");

        // Three batches, one after the other: thirty thumbnail jobs on instance 1, most of them still queued at the kill.
        var answers = new List<Outcome>();
        for (var i = 0; i < 3; i++)
        {
            var answer = await one.UploadBatch(a, session, pictures);
            if (answer.Status != 201) throw new InvalidOperationException($"batch upload failed: {answer}");
            answers.Add(answer);
        }
        var ids = answers.SelectMany(r => r.Body!["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())).ToList();
        await one.PostMessage(a, session, "orphan pictures", ids); // referenced: the collector keeps them

        await ctl.Run("app-kill");
        var killAt = Clock.Ms;
        var processing = 0;
        foreach (var id in ids)
            if (await db.HashGetAsync(Keys.Image(a.Id, id), "status") == "processing") processing++;
        Report.Line($"instance 1 killed with {processing} of {ids.Count} images processing; never started again");
        Report.Check("thumbnail work was under way when instance 1 was killed", processing > 0, $"{processing} processing");

        // Lease + work: the lapse (plus one sweep), then the left work on one instance's thumbnail queue, with room to spare.
        var within = TimeSpan.FromSeconds(o.LeaseSeconds * 1.1 + 5 + processing * 3);
        var (doneAt, statuses) = await ImageConsistency.WaitNotProcessing(two, a, ids, within);
        var notReady = statuses.Where(s => s.Value != "ready").ToList();
        Report.Check("instance 2 finished every image instance 1 left", doneAt is not null && notReady.Count == 0,
            doneAt is null ? $"{statuses.Count(s => s.Value == "processing")} still processing after {within.TotalSeconds:F0} s"
            : notReady.Count == 0 ? $"all {ids.Count} ready {Report.Ms(doneAt.Value - killAt)} after the kill (bound: lease + work, {within.TotalSeconds:F0} s)"
            : $"{notReady.Count} ended {string.Join(", ", notReady.Select(s => s.Value).Distinct())}");

        // The user's event log: one image_ready per image, no image_failed.
        var ready = new Dictionary<string, int>();
        var failed = 0;
        foreach (var entry in await db.StreamRangeAsync(Keys.EventLog(a.Id)))
        {
            var type = entry["t"].ToString();
            if (type == "image_failed") failed++;
            if (type != "image_ready") continue;
            var id = System.Text.Json.Nodes.JsonNode.Parse(entry["p"].ToString())!["image"]!["id"]!.GetValue<string>();
            ready[id] = ready.GetValueOrDefault(id) + 1;
        }
        var once = ids.Count(id => ready.GetValueOrDefault(id) == 1);
        Report.Check("every image has exactly one image_ready in the event log", once == ids.Count && failed == 0,
            $"{once} of {ids.Count} once; {ids.Count(id => ready.GetValueOrDefault(id) > 1)} more than once; {ids.Count(id => !ready.ContainsKey(id))} missing; {failed} image_failed");
        var left = await db.SortedSetLengthAsync(Keys.WorkLeases($"u:{a.Id}"));
        Report.Check("no background work left in the lease store", left == 0, $"{left} pieces of work");

        var lost = ids.Count - once;
        return Report.Verdict("orphan", lost == 0 && doneAt is not null && left == 0
            ? $"nothing lost ({ids.Count} images of the killed instance ready on the other {Report.Ms(doneAt.Value - killAt)} after the kill -9, " +
              $"{processing} of them processing at the kill, each with one image_ready; lease {o.LeaseSeconds} s)"
            : $"lost {lost} of {ids.Count} images (not ready, or not exactly one image_ready)");
    }
}
