using NanoBanana.Features;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Redis;
using NanoBanana.Infrastructure.Storage;
using Microsoft.Extensions.DependencyInjection;
using Wolverine;

namespace NanoBanana.Tests.Features.Images;

/// <summary>Completes when the host it is registered in raises <see cref="ImageReady"/> for the awaited image.</summary>
public sealed class ReadySignal
{
    public TaskCompletionSource<ImageReady> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public static class ReadySignalHandler
{
    public static void Handle(ImageReady ready, ReadySignal signal) => signal.Ready.TrySetResult(ready);
}

public sealed class RecoveryTests(AppFixture app) : ImageTestContext(app)
{
    [Fact]
    public async Task An_image_left_processing_by_a_dead_process_is_finished_when_an_instance_starts()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (upload, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "a.gif");
        var id = upload["id"]!.GetValue<string>();
        // Put the image back as a killed process leaves it: processing, listed as pending, no job queued anywhere.
        await Redis.HashSetAsync(Keys.Image(user.Id, id), [new("status", "processing"), new("thumbs", "[]")]);
        await Redis.SetAddAsync(Keys.ThumbnailsPending, $"{user.Id}/{id}");

        var signal = new ReadySignal();
        var sameStore = new Dictionary<string, string?> { ["LOCAL_STORAGE_PATH"] = Host.Services.GetRequiredService<LocalStorage>().Root };
        await using var restarted = await AppFixture.StartHost(sameStore, services: s =>
        {
            s.AddSingleton(signal);
            s.ConfigureWolverine(o => o.Discovery.IncludeType(typeof(ReadySignalHandler)));
        });
        var ready = await signal.Ready.Task.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(id, ready.Image.Id);
        var image = await GetImage(restarted, user, id);
        Assert.Equal("ready", image["status"]!.GetValue<string>());
        Assert.Equal(2, image["thumbnails"]!.AsArray().Count);
        Assert.False(await Redis.SetContainsAsync(Keys.ThumbnailsPending, $"{user.Id}/{id}"));
    }
}
