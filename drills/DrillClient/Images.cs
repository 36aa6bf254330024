using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace DrillClient;

/// <summary>The drill's own view of the bucket (s3rver), to find blobs that no record owns.</summary>
sealed class Bucket(string endpoint, string name)
{
    readonly AmazonS3Client _s3 = new(new BasicAWSCredentials("S3RVER", "S3RVER"), new AmazonS3Config
    {
        ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    public async Task<List<string>> Keys(string prefix)
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = name, Prefix = prefix, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
        return keys;
    }
}

/// <summary>
/// Records against blobs for one user: no record without its original (and thumbnails once ready), no blob
/// without a record, nothing left pending, nothing left processing. An orphan blob is expected to be
/// listed for the collector; the check then waits for the collector to remove it.
/// </summary>
static class ImageConsistency
{
    public sealed record State(Dictionary<string, JsonObject> Records, Dictionary<string, List<string>> Folders,
        List<string> MissingOriginals, List<string> MissingThumbnails, List<string> OrphanFolders, List<string> Processing)
    {
        public override string ToString() =>
            $"{Records.Count} records, {Folders.Count} blob folders; {MissingOriginals.Count} records without their original, " +
            $"{MissingThumbnails.Count} ready without thumbnails, {OrphanFolders.Count} blob folders without a record, {Processing.Count} processing";
    }

    public static async Task<State> Look(Api api, Account a, Bucket bucket)
    {
        var records = await api.AllImages(a);
        var folders = new Dictionary<string, List<string>>();
        foreach (var key in await bucket.Keys($"users/{a.Id}/"))
        {
            // users/{u}/sessions/{s}/{imageId}/{name}
            var parts = key.Split('/');
            if (parts.Length != 6) continue;
            (folders.TryGetValue(parts[4], out var list) ? list : folders[parts[4]] = []).Add(parts[5]);
        }
        var missingOriginals = new List<string>();
        var missingThumbs = new List<string>();
        foreach (var (id, image) in records)
        {
            var names = folders.GetValueOrDefault(id) ?? [];
            var original = image["path"]!.GetValue<string>().Split('/')[^1];
            if (!names.Contains(original)) missingOriginals.Add(id);
            if (image["status"]!.GetValue<string>() == "ready" && !(names.Contains("thumb-256.webp") && names.Contains("thumb-1024.webp")))
                missingThumbs.Add(id);
        }
        var orphans = folders.Keys.Where(id => !records.ContainsKey(id)).ToList();
        var processing = records.Where(r => r.Value["status"]!.GetValue<string>() == "processing").Select(r => r.Key).ToList();
        return new State(records, folders, missingOriginals, missingThumbs, orphans, processing);
    }

    /// <summary>Waits until no image of <paramref name="ids"/> is processing; returns the moment it held (or null) and the last statuses.</summary>
    public static async Task<(double? At, Dictionary<string, string> Statuses)> WaitNotProcessing(Api api, Account a, IReadOnlyCollection<string> ids, TimeSpan within)
    {
        var until = Clock.Ms + within.TotalMilliseconds;
        var statuses = new Dictionary<string, string>();
        while (true)
        {
            var all = await api.AllImages(a);
            statuses = ids.ToDictionary(id => id, id => all.TryGetValue(id, out var i) ? i["status"]!.GetValue<string>() : "gone");
            if (statuses.Values.All(s => s != "processing")) return (Clock.Ms, statuses);
            if (Clock.Ms > until) return (null, statuses);
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// The end state: every record has its blobs, nothing is processing or pending, and every orphan blob
    /// folder is listed for the collector and removed by it within <paramref name="gcWithin"/>.
    /// </summary>
    /// <summary>
    /// Straight from Redis and the bucket (works while the app is dead): the blob folders of the user that no
    /// record owns, and which of them the blob index lists for the collector.
    /// </summary>
    public static async Task<(List<string> Orphans, List<string> Unlisted)> OrphansNow(IDatabase redis, Account a, Bucket bucket)
    {
        var listed = await Listed(redis);
        var records = (await redis.SortedSetRangeByRankAsync(Keys.UserImages(a.Id))).Select(v => v.ToString()).ToHashSet();
        var folders = (await bucket.Keys($"users/{a.Id}/")).Select(k => k.Split('/')).Where(p => p.Length == 6).Select(p => p[4]).ToHashSet();
        var orphans = folders.Where(f => !records.Contains(f)).ToList();
        return (orphans, orphans.Where(f => !listed.Contains(f)).ToList());
    }

    public static async Task<HashSet<string>> Listed(IDatabase redis) =>
        (await redis.SortedSetRangeByRankAsync(Keys.ImageBlobIndex)).Select(m => m.ToString().Split('/')).Where(p => p.Length == 4)
            .Select(p => p[2]).ToHashSet();

    /// <summary>Returns how many blob folders without a record it found, and how many were still there at the end.</summary>
    public static async Task<(int Found, int Left)> Settle(Api api, Account a, Bucket bucket, IDatabase redis, TimeSpan gcWithin)
    {
        // The index first: a folder the collector removes in between is then still seen as listed.
        var listed = await Listed(redis);
        var state = await Look(api, a, bucket);
        Report.Line($"images now: {state}");
        var unlisted = state.OrphanFolders.Where(f => !listed.Contains(f)).ToList();
        Report.Check("every orphan blob folder is listed for the collector", unlisted.Count == 0,
            unlisted.Count == 0 ? $"{state.OrphanFolders.Count} orphan folders, all listed" : $"{unlisted.Count} orphan folders nobody will ever collect: {string.Join(", ", unlisted.Take(3))}");
        var orphansFound = state.OrphanFolders.Count;
        if (orphansFound > 0)
        {
            var started = Clock.Ms;
            while (state.OrphanFolders.Count > 0 && Clock.Ms - started < gcWithin.TotalMilliseconds)
            {
                await Task.Delay(1000);
                state = await Look(api, a, bucket);
            }
            Report.Check("the collector removed the orphan blobs", state.OrphanFolders.Count == 0,
                $"{orphansFound} orphan folders -> {state.OrphanFolders.Count} after {Report.Ms(Clock.Ms - started)}");
        }
        Report.Check("no record without its original", state.MissingOriginals.Count == 0,
            state.MissingOriginals.Count == 0 ? $"{state.Records.Count} records checked" : string.Join(", ", state.MissingOriginals.Take(5)));
        Report.Check("no ready image without its thumbnails", state.MissingThumbnails.Count == 0,
            state.MissingThumbnails.Count == 0 ? "all there" : string.Join(", ", state.MissingThumbnails.Take(5)));
        Report.Check("no image left processing", state.Processing.Count == 0,
            state.Processing.Count == 0 ? "none" : string.Join(", ", state.Processing.Take(5)));
        var pending = await redis.SortedSetLengthAsync(Keys.WorkLeases($"u:{a.Id}"));
        Report.Check("no background work left unfinished", pending == 0, $"{pending} of this user's pieces of work in {Keys.WorkLeases($"u:{a.Id}")}");
        return (orphansFound, state.OrphanFolders.Count);
    }
}
