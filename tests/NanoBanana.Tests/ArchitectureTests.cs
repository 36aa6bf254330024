using System.Text.RegularExpressions;
using NetArchTest.Rules;

namespace NanoBanana.Tests;

/// <summary>
/// The architecture (STYLE.md, issue 14) as rules over the built assembly and the source tree. Each rule lists
/// every type or file that breaks it; <see cref="Pending"/> names the violations another branch removes, so
/// the list shows at once what is left and whose it is. Empty it as those branches merge.
/// </summary>
public sealed partial class ArchitectureTests
{
    const string Root = "NanoBanana";

    /// <summary>Violations known and owned elsewhere (namespace prefix, owner): reported, not failed.</summary>
    static readonly (string Prefix, string Owner)[] Pending =
    [];

    /// <summary>Exceptions by design (rule, namespace prefix, why).</summary>
    static readonly (string Rule, string Prefix, string Why)[] Allowed =
    [
        ("only_realtime_knows_realtime", "NanoBanana.Features.Health", "/health reports the hub's live connections (SPEC section 3)"),
    ];

    static Types App => Types.InAssembly(typeof(Program).Assembly);

    public static TheoryData<string> Rules => new() { "infrastructure_never_references_features", "only_realtime_knows_realtime", "no_service_or_manager_types" };

    [Theory]
    [MemberData(nameof(Rules))]
    public void The_rule_holds(string rule)
    {
        var result = rule switch
        {
            "infrastructure_never_references_features" => App.That().ResideInNamespace($"{Root}.Infrastructure")
                .ShouldNot().HaveDependencyOn($"{Root}.Features").GetResult(),
            "only_realtime_knows_realtime" => App.That().ResideInNamespace($"{Root}.Features")
                .And().DoNotResideInNamespace($"{Root}.Features.Realtime")
                .ShouldNot().HaveDependencyOnAny($"{Root}.Infrastructure.Realtime", $"{Root}.Features.Realtime").GetResult(),
            "no_service_or_manager_types" => App.That().ResideInNamespace(Root)
                .ShouldNot().HaveNameEndingWith("Service").And().NotHaveNameEndingWith("Manager").GetResult(),
            _ => throw new ArgumentOutOfRangeException(nameof(rule)),
        };
        AssertNone(rule, result.FailingTypeNames ?? []);
    }

    [Fact]
    public void Namespaces_match_folders()
    {
        var src = Path.Combine(RepoRoot(), "src", Root);
        var wrong = new List<string>();
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(src, file);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal)) continue;
            // Wolverine's generated handler code names its own namespace (scripts/codegen.sh writes it).
            if (relative.StartsWith(Path.Combine("Internal", "Generated"), StringComparison.Ordinal)) continue;
            var folder = Path.GetDirectoryName(relative)!;
            var expected = folder.Length == 0 ? Root : $"{Root}.{folder.Replace(Path.DirectorySeparatorChar, '.')}";
            var declared = NamespaceLine().Match(File.ReadAllText(file));
            if (declared.Success && declared.Groups[1].Value != expected) wrong.Add($"{relative}: namespace {declared.Groups[1].Value}, folder says {expected}");
        }
        AssertNone("namespaces_match_folders", wrong);
    }

    static void AssertNone(string rule, IEnumerable<string> failing)
    {
        var names = failing.Where(n => !n.Contains("<", StringComparison.Ordinal)).Distinct().ToList();
        names = names.Where(n => !Allowed.Any(a => a.Rule == rule && n.StartsWith(a.Prefix, StringComparison.Ordinal))).ToList();
        var open = names.Where(n => !Pending.Any(p => n.StartsWith(p.Prefix, StringComparison.Ordinal)
            || n.StartsWith(p.Prefix[(Root.Length + 1)..].Replace('.', '/') + "/", StringComparison.Ordinal))).ToList();
        Assert.True(open.Count == 0, $"{rule} is broken by:\n  " + string.Join("\n  ", open)
            + "\n(pending elsewhere: " + string.Join(", ", names.Except(open)) + ")");
    }

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NanoBanana.sln"))) return dir.FullName;
        throw new InvalidOperationException("NanoBanana.sln not found above the test binaries.");
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();
}
