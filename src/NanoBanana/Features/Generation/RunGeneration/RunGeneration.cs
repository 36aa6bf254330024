using System.Diagnostics;
using System.Security.Cryptography;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Generation;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using NanoBanana.Infrastructure.Work;
using StackExchange.Redis;
using Wolverine;
using Wolverine.Runtime.Handlers;

namespace NanoBanana.Features.Generation.RunGeneration;

/// <summary>
/// Run one queued generation (handled on the <c>generations</c> local queue): leased work of the generation's owner,
/// enqueued by the change that queued it. Safe to run twice: its outcome commits once.
/// </summary>
public sealed record RunGeneration(string UserId, string GenerationId) : IUserWork
{
    string ILeasedWork.LeaseId => $"gen:{GenerationId}";
}

public static class RunGenerationHandler
{
    public const string Queue = "generations";

    /// <summary>How often a running call looks whether its generation was cancelled (on any instance).</summary>
    public static readonly TimeSpan CancelCheck = TimeSpan.FromMilliseconds(250);

    public static void Configure(HandlerChain chain) => chain.RetryWhileRedisIsAway();

    /// <summary>
    /// The work of a generation, in three steps of its own: start (queued → running, generation_started), the provider
    /// call with the inputs read from the store, and the outcome (<see cref="FinishGeneration"/>). The two commits are
    /// decisions of their own handlers, invoked here so that the whole run is one piece of leased work, acknowledged when
    /// it returns: if the instance dies mid-call, the generation is still running and another instance runs it again
    /// once the lease lapses (the provider may be called twice; the outcome commits once). The call is abandoned as soon as the generation
    /// is cancelled; pictures that came back are stored before the outcome commits, and deleted if it does not.
    /// </summary>
    public static async Task Handle(RunGeneration msg, IMessageBus bus, IDatabase db, ImageProviders providers, IObjectStorage storage,
        Settings settings, TimeProvider clock, ILogger<RunGeneration> log, CancellationToken ct)
    {
        var generation = (await bus.InvokeAsync<StartedGeneration>(new StartGeneration(msg.UserId, msg.GenerationId), ct)).Generation;
        if (generation is null) return; // ended (cancelled while queued, or finished by an earlier run) or gone

        FinishGeneration outcome;
        using var call = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watch = CancelWhenCancelled(db, generation, clock, call);
        try
        {
            outcome = await Call(generation, providers, storage, db, settings, clock, call.Token);
        }
        catch (OperationCanceledException) when (call.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            log.LogInformation("Generation {GenerationId} was cancelled during its provider call; its result is discarded", generation.Id);
            return;
        }
        catch (Exception e) when (e is not OperationCanceledException && !RedisFailures.IsUnavailable(e))
        {
            log.LogError(e, "Generation {GenerationId} failed unexpectedly", generation.Id);
            outcome = Failed(generation, "provider_unavailable", "The generation could not be completed. Try again.");
        }
        finally
        {
            await call.CancelAsync();
            await watch;
        }
        // An instance that is stopping leaves a failed call to the instance that takes the work over; pictures it has
        // stored already commit, even while stopping.
        if (outcome.Error is not null) ct.ThrowIfCancellationRequested();
        await bus.InvokeAsync(outcome, CancellationToken.None);
    }

    static async Task<FinishGeneration> Call(GenerationDto generation, ImageProviders providers, IObjectStorage storage, IDatabase db,
        Settings settings, TimeProvider clock, CancellationToken ct)
    {
        var inputs = new List<InputPicture>();
        foreach (var id in generation.InputImageIds.Append(generation.MaskImageId).OfType<string>())
        {
            if (await Input(db, storage, generation.UserId, id, ct) is not { } picture)
                return Failed(generation, "input_missing", $"Input image '{id}' was deleted before the generation ran.");
            inputs.Add(picture);
        }
        var mask = generation.MaskImageId is null ? null : inputs[^1];
        var request = new ImageRequest(generation.Prompt, mask is null ? inputs : inputs[..^1], mask, generation.Size, generation.N, generation.Seed);
        var provider = providers.Find(generation.Provider) ?? providers.Default;

        var started = Stopwatch.GetTimestamp();
        ImageResult result;
        try
        {
            result = await providers.Run(provider, request, mock: false, ct);
        }
        catch (GenerationFailedException e)
        {
            return Failed(generation, e.Code, e.Message);
        }
        var durationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var staged = await Stage(generation, result.Images, db, storage, settings, clock, ct);
        return new FinishGeneration(generation.UserId, generation.Id, staged, result.Text, result.Model, durationMs, Error: null);
    }

    static FinishGeneration Failed(GenerationDto g, string code, string message) =>
        new(g.UserId, g.Id, [], null, g.Model, 0, new GenerationError(code, message));

    /// <summary>An input picture's original bytes, or null when the image (or its original) is gone.</summary>
    static async Task<InputPicture?> Input(IDatabase db, IObjectStorage storage, string userId, string imageId, CancellationToken ct)
    {
        if (await ImageStore.Find(db, userId, imageId) is not { Status: not ImageStatus.Failed } image) return null;
        await using var stream = await storage.GetAsync(image.Path, ct);
        if (stream is null) return null;
        using var bytes = new MemoryStream();
        await stream.CopyToAsync(bytes, ct);
        return new InputPicture(bytes.ToArray(), image.Mime);
    }

    /// <summary>The pictures as images of the session, stored like uploads (judged already by <see cref="ImageProviders"/>).</summary>
    static async Task<IReadOnlyList<ImageRecord>> Stage(GenerationDto g, IReadOnlyList<ProducedImage> images, IDatabase db,
        IObjectStorage storage, Settings settings, TimeProvider clock, CancellationToken ct)
    {
        var files = new List<(UploadedFile, Infrastructure.Imaging.ImageFormatInfo)>();
        try
        {
            foreach (var image in images)
            {
                var path = Path.Combine(settings.Images.UploadTempPath, $"generated-{Guid.NewGuid():N}");
                await File.WriteAllBytesAsync(path, image.Bytes, ct);
                files.Add((new UploadedFile($"{g.Id}-{files.Count + 1}.{image.Extension}", path, image.Bytes.Length,
                    Convert.ToHexStringLower(SHA256.HashData(image.Bytes))),
                    new(image.Mime, image.Extension, image.Width, image.Height)));
            }
            return await ImageIntake.Stage(db, storage, clock, g.UserId, g.SessionId, "generated", files, ct);
        }
        finally
        {
            foreach (var (file, _) in files) File.Delete(file.TempPath);
        }
    }

    /// <summary>Cancels the call once the generation is no longer running (a DELETE on any instance); ends with the call.</summary>
    static async Task CancelWhenCancelled(IDatabase db, GenerationDto g, TimeProvider clock, CancellationTokenSource call)
    {
        while (!call.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(CancelCheck, clock, call.Token);
                if (await db.HashGetAsync(Keys.Generation(g.UserId, g.Id), "status") != GenerationStatus.Running)
                {
                    await call.CancelAsync();
                    return;
                }
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) when (RedisFailures.IsUnavailable(e)) { } // Redis away: the call goes on, the check too
        }
    }
}
