using NanoBanana.Infrastructure.Configuration;

namespace NanoBanana.Tests.Infrastructure.Configuration;

public sealed class ImageSettingsTests
{
    [Fact]
    public void By_default_one_thumbnail_job_more_than_the_cores_runs_and_libvips_is_left_to_choose_its_threads_from_that()
    {
        var settings = ImageSettings.From((_, _) => null);
        Assert.Equal(Environment.ProcessorCount + 1, settings.ThumbnailParallelism);
        Assert.Equal(0, settings.VipsConcurrency); // 0: cores / jobs running
    }

    [Fact]
    public void Thumbnail_parallelism_and_libvips_threads_follow_their_settings()
    {
        var values = new Dictionary<string, string> { ["THUMBNAIL_PARALLELISM"] = "3", ["VIPS_CONCURRENCY"] = "2" };
        var settings = ImageSettings.From((env, _) => values.GetValueOrDefault(env));
        Assert.Equal((3, 2), (settings.ThumbnailParallelism, settings.VipsConcurrency));
    }
}
