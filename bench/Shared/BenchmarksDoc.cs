namespace BenchShared;

/// <summary>docs/BENCHMARKS.md, one "## " section per benchmark: each benchmark rewrites only its own.</summary>
static class BenchmarksDoc
{
    /// <summary>Replaces the section whose heading line is <paramref name="heading"/> (or appends it) with <paramref name="section"/>.</summary>
    public static void WriteSection(string path, string heading, string section)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
        var start = text.IndexOf($"\n{heading}\n", StringComparison.Ordinal);
        if (start < 0)
        {
            text = text.TrimEnd() + "\n\n" + section;
        }
        else
        {
            var end = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
            text = text[..(start + 1)] + section + (end < 0 ? "" : "\n" + text[(end + 1)..]);
        }
        File.WriteAllText(path, text.TrimEnd() + "\n");
    }
}
