using NanoBanana.Features.Images.CollectGarbage;
using JasperFx.CodeGeneration;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Redis;
using Wolverine;

namespace NanoBanana.Tests.Features.Images;

/// <summary>Completes when the host it is registered in reports a garbage collection that removed something.</summary>
public sealed class CollectedSignal
{
    public TaskCompletionSource<GarbageCollected> Collected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public static class CollectedSignalHandler
{
    public static void Handle(GarbageCollected collected, CollectedSignal signal)
    {
        if (collected.Removed > 0) signal.Collected.TrySetResult(collected);
    }
}

public sealed class GarbageScheduleTests(AppFixture app) : ImageTestContext(app)
{
    [Fact]
    public async Task The_collector_runs_by_itself_on_its_schedule()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var (image, _) = await UploadAndWait(Host, user, session, TestImages.Gif(), "a.gif");
        var id = image["id"]!.GetValue<string>();

        var signal = new CollectedSignal();
        await using var host = await AppFixture.StartHost(
            new Dictionary<string, string?> { ["IMAGE_GC_GRACE_SECONDS"] = "0", ["IMAGE_GC_INTERVAL_SECONDS"] = "1" },
            s =>
            {
                s.AddSingleton(signal);
                s.ConfigureWolverine(o =>
                {
                    o.Discovery.IncludeType(typeof(CollectedSignalHandler));
                    // A handler of the tests' own has no pre-generated code in the app: this host compiles its handlers.
                    o.CodeGeneration.TypeLoadMode = TypeLoadMode.Dynamic;
                    o.UseRuntimeCompilation();
                });
            });
        var collected = await signal.Collected.Task.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, collected.Removed);
        Assert.False(await Redis.KeyExistsAsync(Keys.Image(user.Id, id)));
    }
}
