using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Configuration;

namespace NanoBanana.Tests.Features.Images;

/// <summary>The upload spool: private, and cleared of the app's own leftovers at start.</summary>
public sealed class UploadSpoolTests(AppFixture app) : ImageTestContext(app)
{
    const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public async Task The_spool_is_private_and_a_start_removes_what_dead_processes_left_and_nothing_else()
    {
        var root = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "spool");
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var dead = Path.Combine(root, int.MaxValue.ToString()); // no process has this id
        Directory.CreateDirectory(dead);
        await File.WriteAllTextAsync(Path.Combine(dead, Guid.NewGuid().ToString("N")), "half an upload");
        var oldStyle = Path.Combine(root, Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(oldStyle, "an earlier version's spool file");
        var live = Path.Combine(root, "1"); // init: alive
        Directory.CreateDirectory(live);
        var unrelated = Path.Combine(root, "notes.txt");
        await File.WriteAllTextAsync(unrelated, "not ours");

        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["UPLOAD_TEMP_PATH"] = root });

        Assert.Equal(Private, File.GetUnixFileMode(root));
        Assert.False(Directory.Exists(dead));
        Assert.False(File.Exists(oldStyle));
        Assert.True(Directory.Exists(live));
        Assert.True(File.Exists(unrelated));

        // An upload spools into this process's own private folder, and leaves nothing there.
        var user = await RegisterUser(host: host);
        await UploadAndWait(host, user, await CreateSession(user), TestImages.Gif(), "a.gif");
        var own = UploadSpool.Folder(host.Services.GetRequiredService<Settings>().Images.UploadTempPath);
        Assert.Equal(Private, File.GetUnixFileMode(own));
        Assert.Empty(Directory.EnumerateFileSystemEntries(own));
    }
}
