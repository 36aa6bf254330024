using System.Text.Json.Nodes;
using NanoBanana.Features.Images;
using NanoBanana.Features.Messages;
using NanoBanana.Infrastructure.Storage;
using StackExchange.Redis;
using Wolverine;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Features.Generation.RunGeneration;

/// <summary>A run begins: the generation goes running (or, run again after a crash, counts one more attempt).</summary>
public sealed record StartGeneration(string UserId, string GenerationId) : IChangesUserData;

/// <summary>The generation to run, as started; null when there is nothing to run.</summary>
public sealed record StartedGeneration(GenerationDto? Generation);

/// <summary>
/// A run's outcome: the pictures it stored (<see cref="ImageIntake.Stage"/>d, not yet images of the session) and the
/// provider's words, or the error. A message of its own, so that a commit that meets moved data decides again, not the call.
/// </summary>
public sealed record FinishGeneration(string UserId, string GenerationId, IReadOnlyList<ImageRecord> Images, string? Text,
    string Model, long DurationMs, GenerationError? Error) : IChangesUserData;

public static class StartGenerationHandler
{
    public static void Configure(HandlerChain chain) => Infrastructure.Redis.RedisRetries.RetryWhileRedisIsAway(chain);

    /// <summary>
    /// Queued → running with generation_started. A generation running already (its first run died) counts one more
    /// attempt without a second event. One that ended, or whose session was deleted, is not run (the latter is cancelled).
    /// </summary>
    public static async Task<(StartedGeneration, UserChange?)> Handle(StartGeneration cmd, IDatabase db, TimeProvider clock)
    {
        var basis = await UserBasis.Read(db, cmd.UserId);
        var generation = await GenerationRecord.Find(db, cmd.UserId, cmd.GenerationId);
        if (generation is null || GenerationStatus.Ended(generation.Status)) return (new(null), null);

        var now = clock.GetUtcNow();
        if (!await Sessions.SessionRecord.IsLive(db, cmd.UserId, generation.SessionId))
        {
            var dropped = generation with { Status = GenerationStatus.Cancelled, FinishedAt = now };
            return (new(null), basis.Change().Write(tx => GenerationRecord.Write(tx, dropped))
                .Write(tx => GenerationQuota.Release(tx, cmd.UserId, cmd.GenerationId)));
        }
        var running = generation with
        {
            Status = GenerationStatus.Running, StartedAt = generation.StartedAt ?? now, Attempts = generation.Attempts + 1,
        };
        var change = basis.Change().Write(tx => GenerationRecord.Write(tx, running));
        if (generation.Status == GenerationStatus.Queued) change.Raise(new GenerationStarted(cmd.UserId, running));
        return (new(running), change);
    }
}

public static class FinishGenerationHandler
{
    public static void Configure(HandlerChain chain) => Infrastructure.Redis.RedisRetries.RetryWhileRedisIsAway(chain);

    /// <summary>
    /// Only a running generation ends here: on success its pictures become generated images of the session
    /// (image_uploaded each, thumbnails queued) and one assistant message carries them (message_created,
    /// session_updated), then generation_succeeded; on failure generation_failed with the error. A generation
    /// cancelled meanwhile, or finished by another run, keeps its end: the pictures of this run are deleted.
    /// </summary>
    public static async Task<(UserChange?, DeleteImageBlobs)> Handle(FinishGeneration cmd,
        IDatabase db, IObjectStorage storage, TimeProvider clock)
    {
        var userId = cmd.UserId;
        var read = db.CreateBatch();
        var basisRead = UserBasis.Read(read, userId);
        var generationRead = GenerationRecord.Find(read, userId, cmd.GenerationId);
        read.Execute();
        var (basis, generation) = (await basisRead, await generationRead);
        var discard = new DeleteImageBlobs([.. cmd.Images.Select(i => i.BlobFolder)]);
        if (generation is not { Status: GenerationStatus.Running }) return (null, discard);

        var now = clock.GetUtcNow();
        var change = basis.Change().Write(tx => GenerationQuota.Release(tx, userId, cmd.GenerationId));
        var newMessage = NewMessage.Read(db, userId, generation.SessionId, now);
        if (cmd.Error is not null || await newMessage.Session is null)
        {
            var failed = generation with
            {
                Status = cmd.Error is null ? GenerationStatus.Cancelled : GenerationStatus.Failed, Error = cmd.Error, FinishedAt = now,
            };
            change.Write(tx => GenerationRecord.Write(tx, failed));
            if (cmd.Error is not null) change.Raise(new GenerationFailed(userId, failed));
            return (change, discard);
        }

        var ids = cmd.Images.Select(i => i.Id).ToList();
        foreach (var image in cmd.Images)
            // Its message takes it in the same commit: its refCount is 1 once stored.
            change.Write(tx => ImageStore.WriteNew(tx, image)).Raise(new ImageUploaded(userId, image.ToDto(storage) with { RefCount = 1 }))
                .Enqueue(new Images.GenerateThumbnails.GenerateThumbnails(userId, image.Id));
        var messageParams = new JsonObject
        {
            ["provider"] = generation.Provider, ["model"] = cmd.Model, ["generationId"] = generation.Id,
            ["size"] = generation.Size, ["seed"] = generation.Seed, ["durationMs"] = cmd.DurationMs,
        };
        var (message, _) = NewMessage.Add(change, (await newMessage.Session)!, await newMessage.At, await newMessage.Number,
            "assistant", cmd.Text ?? "", ids, messageParams, editedOf: null);
        var succeeded = generation with
        {
            Status = GenerationStatus.Succeeded, Model = cmd.Model, ResultImageIds = ids, MessageId = message.Id, FinishedAt = now,
        };
        change.Write(tx => GenerationRecord.Write(tx, succeeded)).Raise(new GenerationSucceeded(userId, succeeded));
        return (change, DeleteImageBlobs.None);
    }
}
