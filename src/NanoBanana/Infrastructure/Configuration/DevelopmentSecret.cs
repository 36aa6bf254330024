using System.Security.Cryptography;

namespace NanoBanana.Infrastructure.Configuration;

/// <summary>
/// The signing secret of a Development run without JWT_SECRET: random, made once and kept in a file only its
/// owner can read, so tokens (and local blob URLs, derived from it) survive restarts and no secret is in the source.
/// </summary>
public static class DevelopmentSecret
{
    public static string LoadOrCreate(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using var file = new StreamWriter(full, options);
            file.Write(Base64Url(RandomNumberGenerator.GetBytes(48)));
        }
        catch (IOException) when (File.Exists(full))
        {
            // Made by an earlier run (or a second instance starting at the same time): use it.
        }
        var secret = File.ReadAllText(full).Trim();
        if (secret.Length < JwtSettings.MinimumSecretLength)
            throw new InvalidOperationException(
                $"The development secret in {full} is shorter than {JwtSettings.MinimumSecretLength} characters: delete the file to make a new one, or set JWT_SECRET.");
        return secret;
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
