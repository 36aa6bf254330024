using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace DrillClient;

/// <summary>
/// The app killed with kill -9 twice: while it makes thumbnails, and while batch uploads are being
/// stored; started again each time. No image may stay processing, no acknowledged image may be lost,
/// and no blob may stay without a record (an orphan of a dead upload is left to the collector, which
/// the drill waits for).
/// </summary>
static class AppKillDrill
{
    public static async Task<int> Run(Options o)
    {
        var api = new Api(o.Url, TimeSpan.FromSeconds(60));
        var ctl = new Control(o.Ctl);
        var bucket = new Bucket(o.S3, o.Bucket);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(o.Redis);
        var db = redis.GetDatabase();

        var a = await api.Register("appkill");
        var session = await api.CreateSession(a, "app kill drill");
        var pictures = Enumerable.Range(0, 10).Select(_ => Pictures.NoisyJpeg(3000, 2000)).ToList();
        Report.Line($"appkill drill: made {pictures.Count} pictures of 3000x2000, {pictures.Sum(p => p.Length) / 1024 / 1024} MiB in all");

        // --- 1. killed while making thumbnails ---
        // One batch: its ten thumbnail jobs are queued at once, so the kill finds most of them waiting or running
        // (ten single uploads let each picture's thumbnails finish before the next upload arrived).
        var uploaded = await api.UploadBatch(a, session, pictures);
        if (uploaded.Status != 201) throw new InvalidOperationException($"batch upload failed: {uploaded}");
        var first = uploaded.Body!["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
        await api.PostMessage(a, session, "first pictures", first);
        var killAt = Clock.Ms;
        await ctl.Run("app-kill");
        var processing = await Processing(db, a, first);
        Report.Line($"app killed at {killAt / 1000:F2} s with {processing} of {first.Count} images processing");
        Report.Check("thumbnail work was under way when the app was killed", processing > 0, $"{processing} processing");

        var restartAt = Clock.Ms;
        await ctl.Run("app-start");
        Report.Line($"app answering again {Report.Ms(Clock.Ms - restartAt)} after its start command");
        var (doneAt, statuses) = await ImageConsistency.WaitNotProcessing(api, a, first, TimeSpan.FromSeconds(180));
        var notReady = statuses.Where(s => s.Value != "ready").ToList();
        Report.Check("every image left processing by the killed app became ready after the restart", doneAt is not null && notReady.Count == 0,
            doneAt is null ? $"{statuses.Count(s => s.Value == "processing")} still processing after 180 s"
            : notReady.Count == 0 ? $"all {first.Count} ready {Report.Ms(doneAt.Value - restartAt)} after the restart"
            : $"{notReady.Count} ended {string.Join(", ", notReady.Select(s => s.Value).Distinct())}");

        // --- 2. killed while batch uploads are being stored ---
        Report.Line("");
        // One batch acknowledged before the kill, three in flight when it comes.
        var firstBatch = await api.UploadBatch(a, session, pictures);
        if (firstBatch.Status != 201) throw new InvalidOperationException($"batch upload failed: {firstBatch}");
        // The client sends the message that uses the pictures it was told were stored (the collector keeps referenced images).
        var firstBatchIds = firstBatch.Body!["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
        await api.PostMessage(a, session, "batch pictures", firstBatchIds);
        var before = (await bucket.Keys($"users/{a.Id}/")).Count(k => k.EndsWith("/original.jpg"));
        var batches = Enumerable.Range(0, 3).Select(_ => api.UploadBatch(a, session, pictures)).Prepend(Task.FromResult(firstBatch)).ToList();
        var waitedFrom = Clock.Ms;
        int stored;
        do
        {
            await Task.Delay(10);
            stored = (await bucket.Keys($"users/{a.Id}/")).Count(k => k.EndsWith("/original.jpg")) - before;
        } while (stored < 5 && Clock.Ms - waitedFrom < 60_000);
        var batchKillAt = Clock.Ms;
        await ctl.Run("app-kill");
        var answers = await Task.WhenAll(batches);
        var acked = answers.Where(r => r.Status == 201)
            .SelectMany(r => r.Body!["results"]!["successful"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())).ToList();
        Report.Line($"app killed at {batchKillAt / 1000:F2} s with {stored} originals of the three batches in flight in the store; " +
                    $"batches: {string.Join(", ", answers.Select(r => r.Status == 0 ? "no answer" : r.Status.ToString()))}");
        Report.Check("the kill fell in the middle of the batches", answers.Count(r => r.Status != 201) > 0 && stored > 0,
            $"{answers.Count(r => r.Status == 201)} of {answers.Length} batches acknowledged");

        // While the app is dead (and its collector with it): what the cut batches left in the store.
        var (cut, unlisted) = await ImageConsistency.OrphansNow(db, a, bucket);
        Report.Check("the blobs the cut batches left without a record are listed for the collector", unlisted.Count == 0,
            $"{cut.Count} blob folders without a record, {cut.Count - unlisted.Count} listed");

        restartAt = Clock.Ms;
        await ctl.Run("app-start");
        var late = acked.Except(firstBatchIds).ToList();
        if (late.Count > 0) await api.PostMessage(a, session, "more batch pictures", late);
        var all = await api.AllImages(a);
        var unacknowledged = all.Keys.Except(first).Except(acked).ToList();
        Report.Line($"after the restart: {acked.Count} acknowledged batch images, {unacknowledged.Count} records of batches that got no answer " +
                    "(unreferenced: the collector removes them after the grace period)");
        (doneAt, statuses) = await ImageConsistency.WaitNotProcessing(api, a, all.Keys.ToList(), TimeSpan.FromSeconds(180));
        Report.Check("no image stayed processing after the restart", doneAt is not null,
            doneAt is null ? $"{statuses.Count(s => s.Value == "processing")} still processing after 180 s" : $"none processing {Report.Ms(doneAt.Value - restartAt)} after the restart");

        Report.Line("");
        var (_, left) = await ImageConsistency.Settle(api, a, bucket, db, TimeSpan.FromSeconds(o.GcGraceSeconds * 3 + 30));
        var final = await api.AllImages(a);
        var lost = first.Concat(acked).Where(id => !final.TryGetValue(id, out var i) || i["status"]!.GetValue<string>() != "ready").ToList();
        Report.Check("every acknowledged image is kept and ready", lost.Count == 0,
            lost.Count == 0 ? $"{first.Count + acked.Count} images" : $"{lost.Count} lost or not ready: {string.Join(", ", lost.Take(5))}");
        return Report.Verdict("appkill", lost.Count == 0
            ? $"nothing lost ({first.Count + acked.Count} acknowledged images kept and ready after two kill -9; " +
              (left == 0 ? $"{cut.Count} blob folders of unanswered batches left without a record, all removed by the collector)" : $"{left} of {cut.Count} blob folders without a record still in the store: leaked)")
            : $"lost {lost.Count} acknowledged images");
    }

    static async Task<int> Processing(IDatabase db, Account a, IEnumerable<string> ids)
    {
        var n = 0;
        foreach (var id in ids)
            if (await db.HashGetAsync(Keys.Image(a.Id, id), "status") == "processing") n++;
        return n;
    }
}
