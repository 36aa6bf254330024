using StackExchange.Redis;

namespace DrillClient;

/// <summary>
/// The S3 store (s3rver) killed while thumbnails are being made, kept away, then started again.
/// While it is away uploads must answer 503 <c>storage_unavailable</c> and leave nothing half-stored;
/// once it is back the thumbnails that were pending must complete.
/// </summary>
static class StoreDrill
{
    const int PictureCount = 12;
    const double FailureBoundMs = 15_000;

    public static async Task<int> Run(Options o)
    {
        var api = new Api(o.Url, TimeSpan.FromSeconds(60));
        var ctl = new Control(o.Ctl);
        var bucket = new Bucket(o.S3, o.Bucket);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(o.Redis);
        Report.Line($"s3 drill: {PictureCount} uploads, the store killed while their thumbnails are made and a batch is being stored, away {o.Down} s");

        var a = await api.Register("store");
        var session = await api.CreateSession(a, "store drill");
        var pictures = Enumerable.Range(0, PictureCount).Select(_ => Pictures.NoisyJpeg(3000, 2000)).ToList();
        Report.Line($"made {pictures.Count} pictures of 3000x2000, {pictures.Sum(p => p.Length) / 1024 / 1024} MiB in all");

        // In batches: their thumbnail jobs are queued at once, so some still wait when the store dies
        // (single uploads let each picture's thumbnails finish before the next upload arrived).
        var ids = new List<string>();
        foreach (var batch in pictures.Chunk(10))
        {
            var r = await api.UploadBatch(a, session, batch);
            if (r.Status != 201) throw new InvalidOperationException($"upload before the outage failed: {r}");
            ids.AddRange(r.Body!["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
        }
        // Referenced, as a client does: the collector keeps referenced images whatever their age.
        await api.PostMessage(a, session, "the drill's pictures", ids);

        // A batch on its way into the store when it dies: some originals stored, the rest refused.
        var before = (await bucket.Keys($"users/{a.Id}/")).Count(k => k.EndsWith("/original.jpg"));
        var inFlight = api.UploadBatch(a, session, pictures.Take(10).ToList());
        int stored;
        var waitedFrom = Clock.Ms;
        do
        {
            await Task.Delay(10);
            stored = (await bucket.Keys($"users/{a.Id}/")).Count(k => k.EndsWith("/original.jpg")) - before;
        } while (stored < 3 && !inFlight.IsCompleted && Clock.Ms - waitedFrom < 60_000);

        var stopAt = Clock.Ms;
        await ctl.Run("s3-kill");
        var batchAtKill = await inFlight;
        Report.Line($"store killed with {stored} originals of a 10-picture batch stored; the batch got {batchAtKill}");
        if (batchAtKill.Status == 201)
        {
            // Finished before the kill after all: kept like the others.
            var batchIds = batchAtKill.Body!["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
            ids.AddRange(batchIds);
            await api.PostMessage(a, session, "the batch", batchIds);
        }
        var atStop = await api.AllImages(a);
        var pending = ids.Where(id => atStop[id]["status"]!.GetValue<string>() == "processing").ToList();
        Report.Line($"store killed at {stopAt / 1000:F2} s with {pending.Count} of {ids.Count} images still processing");
        Report.Check("thumbnails were pending when the store went down", pending.Count > 0, $"{pending.Count} pending");

        // While the store is away: uploads, single and batch, again and again; reads of existing images; /health.
        var outage = new List<Outcome>();
        var reads = new List<Outcome>();
        var health = new List<int>();
        var small = Pictures.NoisyJpeg(1200, 800);
        while (Clock.Ms < stopAt + o.Down * 1000 - FailureBoundMs / 2)
        {
            outage.Add(await api.Upload(a, session, small));
            outage.Add(await api.UploadBatch(a, session, [small, small, small]));
            reads.Add(await api.Get($"/api/images/{ids[0]}", a.Token, "GET /api/images/:id"));
            health.Add((await api.Get("/health", null)).Status);
            await Task.Delay(1000);
        }
        var duringOutage = await api.AllImages(a);
        while (Clock.Ms < stopAt + o.Down * 1000) await Task.Delay(100);

        var startAt = Clock.Ms;
        await ctl.Run("s3-start");
        Report.Line($"store started again at {startAt / 1000:F2} s");
        // Before the collector's grace period has passed: what the cut batch left in the store.
        var (early, unlisted) = await ImageConsistency.OrphansNow(redis.GetDatabase(), a, bucket);
        var (doneAt, statuses) = await ImageConsistency.WaitNotProcessing(api, a, ids, TimeSpan.FromSeconds(180));
        var final = await api.AllImages(a);

        Report.Line("");
        foreach (var g in outage.GroupBy(x => (x.Route, x.Status, x.Code)))
            Report.Line($"while away: {g.Key.Route} -> {g.Key.Status} {g.Key.Code}: {g.Count()}x, max {g.Max(x => x.Ms):F0} ms");
        Report.Check("the batch on its way when the store died answered 503 storage_unavailable",
            batchAtKill.Status == 503 && batchAtKill.IsProblem && batchAtKill.Code == "storage_unavailable", batchAtKill.ToString());
        Report.Check("uploads answered 503 storage_unavailable problem details while the store was away",
            outage.Count > 0 && outage.All(x => x.Status == 503 && x.IsProblem && x.Code == "storage_unavailable"),
            $"{outage.Count(x => x.Status == 503 && x.Code == "storage_unavailable")} of {outage.Count}");
        Report.Check($"no upload hung (answers within {FailureBoundMs / 1000:F0} s)", outage.All(x => x.Ms <= FailureBoundMs),
            $"slowest {outage.Max(x => x.Ms):F0} ms, p50 {Stats.Percentile(outage.Select(x => x.Ms).ToList(), 0.5):F0} ms");
        Report.Check("existing images could still be read", reads.All(r => r.Status == 200), string.Join(" ", reads.GroupBy(r => r.Status).Select(g => $"{g.Count()}x{g.Key}")));
        Report.Line($"/health while the store was away: {string.Join(" ", health.GroupBy(s => s).Select(g => $"{g.Count()}x{g.Key}"))} (it reports Redis, the database)");
        Report.Check("no record was written for a refused upload", duringOutage.Count == ids.Count,
            $"{duringOutage.Count} records, {ids.Count} uploaded before the outage");

        var failed = statuses.Where(s => s.Value != "ready").ToList();
        Report.Check("the thumbnails pending at the outage completed once the store returned", doneAt is not null && failed.Count == 0,
            doneAt is null ? $"still processing after 180 s: {statuses.Count(s => s.Value == "processing")}"
            : failed.Count == 0 ? $"all {ids.Count} ready {Report.Ms(doneAt.Value - startAt)} after the store started"
            : $"{failed.Count} ended {string.Join(", ", failed.Select(f => f.Value).Distinct())}: " +
              string.Join("; ", failed.Take(2).Select(f => $"{f.Key}: {final.GetValueOrDefault(f.Key)?["reason"]}")));

        Report.Check("the blobs the cut batch left without a record are listed for the collector",
            unlisted.Count == 0,
            $"right after the store returned: {early.Count} blob folders without a record, {early.Count - unlisted.Count} listed");
        Report.Line("");
        var orphans = early.Count;
        var (_, left) = await ImageConsistency.Settle(api, a, bucket, redis.GetDatabase(), TimeSpan.FromSeconds(o.GcGraceSeconds * 3 + 30));

        var lostImages = ids.Count(id => statuses.GetValueOrDefault(id) is "gone" or null);
        return Report.Verdict("s3", lostImages == 0 && failed.Count == 0
            ? $"nothing lost ({ids.Count} acknowledged uploads kept and ready; {outage.Count} uploads refused with 503 while the store was away, no record written for any; " +
              (left == 0 ? $"{orphans} blob folders the outage left without a record, all removed by the collector)" : $"{left} of {orphans} blob folders the outage left without a record still in the store: leaked)")
            : $"lost: {lostImages} acknowledged images gone, {failed.Count} images never got their thumbnails");
    }
}
