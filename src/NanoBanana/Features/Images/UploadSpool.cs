using System.Diagnostics;

namespace NanoBanana.Features.Images;

/// <summary>
/// Where uploads stream to while they arrive: a private folder (0700) with one sub-folder per process,
/// so that at start a process removes what dead processes of the app left (a crash mid-upload) without
/// touching the files of another instance running on the same machine.
/// </summary>
public static class UploadSpool
{
    const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>This process's folder under <paramref name="root"/>, made private if it is not there.</summary>
    public static string Folder(string root)
    {
        var folder = Path.Combine(root, Environment.ProcessId.ToString());
        if (!Directory.Exists(folder)) CreatePrivate(folder);
        return folder;
    }

    /// <summary>Makes the spool private and removes the leftovers of the app's processes that are gone.</summary>
    public static void Prepare(string root, ILogger log)
    {
        CreatePrivate(root);
        foreach (var entry in Directory.EnumerateFileSystemEntries(root))
        {
            var name = Path.GetFileName(entry);
            try
            {
                if (int.TryParse(name, out var pid) && Directory.Exists(entry))
                {
                    if (pid != Environment.ProcessId && !IsAlive(pid)) Directory.Delete(entry, recursive: true);
                }
                // Spool files of earlier versions lay directly in the folder, named by a GUID.
                else if (File.Exists(entry) && Guid.TryParseExact(name, "N", out _)) File.Delete(entry);
            }
            catch (IOException e) { log.LogWarning(e, "Could not remove the upload leftover {Entry}", entry); }
            catch (UnauthorizedAccessException e) { log.LogWarning(e, "Could not remove the upload leftover {Entry}", entry); }
        }
    }

    static void CreatePrivate(string folder)
    {
        if (OperatingSystem.IsWindows()) { Directory.CreateDirectory(folder); return; }
        Directory.CreateDirectory(folder, Private);
        // An existing folder keeps its mode through CreateDirectory: tighten it (it is ours, or this throws).
        if (File.GetUnixFileMode(folder) != Private) File.SetUnixFileMode(folder, Private);
    }

    static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
