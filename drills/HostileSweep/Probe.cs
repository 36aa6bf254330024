using System.Text;

namespace HostileSweep;

/// <summary>What a probe's answer may be besides "no 5xx, problem details when not 2xx".</summary>
public enum Expect
{
    /// <summary>Any status: the input may be acceptable (an injection string is a valid title).</summary>
    Any,
    /// <summary>The input must be refused: a 2xx is a violation (a forged token, another user's id, broken JSON).</summary>
    Reject,
}

/// <summary>One hostile HTTP request. <see cref="Target"/> is sent byte for byte (no URI canonicalisation).</summary>
public sealed record Probe(string Category, string Name, HttpMethod Method, string Target)
{
    /// <summary>A bearer token, or a whole Authorization header value when it starts with "!" (e.g. "!Basic abc").</summary>
    public string? Token { get; init; }
    public Func<HttpContent?>? Content { get; init; }
    public IReadOnlyList<(string Name, string Value)> Headers { get; init; } = [];
    public Expect Expect { get; init; } = Expect.Any;
    /// <summary>The server may end the connection instead of answering (a body it refuses to read to its end).</summary>
    public bool AllowNoAnswer { get; init; }
    /// <summary>Run after a 2xx answer with its body: returns what is wrong, or null.</summary>
    public Func<byte[], Task<string?>>? After { get; init; }

    public override string ToString() => $"[{Category}] {Name}: {Method} {Shorten(Target)}";

    public static string Shorten(string s, int max = 120) => s.Length <= max ? s : s[..max] + $"...({s.Length} chars)";
}

public sealed record Violation(string Rule, string Probe, int Status, string Detail)
{
    public override string ToString() => $"{Rule}: {Probe} -> {(Status == 0 ? "no answer" : Status)}: {Detail}";
}

/// <summary>Counts of what was sent and answered, and every rule broken.</summary>
public sealed class SweepReport
{
    readonly Lock _gate = new();
    public int Sent { get; private set; }
    public SortedDictionary<string, int> ByStatus { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, int> ByCategory { get; } = new(StringComparer.Ordinal);
    public List<Violation> Violations { get; } = [];
    /// <summary>Things worth reading that break no rule (e.g. hostile values that were accepted and stored).</summary>
    public List<string> Notes { get; } = [];
    public TimeSpan Elapsed { get; set; }
    public List<string> DataChecks { get; } = [];

    /// <summary>Every request and its outcome, one line each ("outcome TAB probe"), in the order answered.</summary>
    public List<string> Trace { get; } = [];

    public void Count(string category, string outcome, string probe)
    {
        lock (_gate)
        {
            Sent++;
            Trace.Add($"{outcome}\t{probe.Replace('\n', ' ').Replace('\r', ' ')}");
            ByStatus[outcome] = ByStatus.GetValueOrDefault(outcome) + 1;
            ByCategory[category] = ByCategory.GetValueOrDefault(category) + 1;
        }
    }

    public void Add(Violation v) { lock (_gate) Violations.Add(v); }
    public void Note(string n) { lock (_gate) Notes.Add(n); }

    public string Summary(int maxViolations = 60, int maxNotes = 30)
    {
        var b = new StringBuilder();
        b.AppendLine($"requests sent: {Sent} in {Elapsed.TotalSeconds:F1} s");
        b.AppendLine("by status: " + string.Join(", ", ByStatus.Select(kv => $"{kv.Key}: {kv.Value}")));
        b.AppendLine("by category: " + string.Join(", ", ByCategory.Select(kv => $"{kv.Key}: {kv.Value}")));
        foreach (var d in DataChecks) b.AppendLine("data check: " + d);
        b.AppendLine($"violations: {Violations.Count}");
        foreach (var group in Violations.GroupBy(v => v.Rule))
            b.AppendLine($"  {group.Key}: {group.Count()}");
        foreach (var v in Violations.Take(maxViolations)) b.AppendLine("  - " + v);
        if (Violations.Count > maxViolations) b.AppendLine($"  ... {Violations.Count - maxViolations} more");
        if (Notes.Count > 0)
        {
            b.AppendLine($"notes: {Notes.Count}");
            foreach (var n in Notes.Take(maxNotes)) b.AppendLine("  - " + n);
            if (Notes.Count > maxNotes) b.AppendLine($"  ... {Notes.Count - maxNotes} more");
        }
        return b.ToString();
    }
}
