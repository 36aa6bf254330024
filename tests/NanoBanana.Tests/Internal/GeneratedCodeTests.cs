using JasperFx.CodeGeneration;
using JasperFx.CodeGeneration.Model;
using Microsoft.Extensions.DependencyInjection;
using Wolverine;

namespace NanoBanana.Tests.Internal;

/// <summary>Writing the code flips a process-wide flag of JasperFx's that a host starting meanwhile would read.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CodegenCollection
{
    public const string Name = "codegen";
}

/// <summary>
/// Every host runs the handler code committed in src/NanoBanana/Internal/Generated (TypeLoadMode.Static, no Roslyn):
/// it must be exactly what `codegen write` makes from the handlers as they are now.
/// </summary>
[Collection(CodegenCollection.Name)]
public sealed class GeneratedCodeTests
{
    const string Fix = "Run `bash scripts/codegen.sh` and commit src/NanoBanana/Internal/Generated.";

    [Fact]
    public async Task The_committed_handler_code_is_what_the_handlers_generate_now()
    {
        var committed = Path.Combine(RepositoryRoot(), "src", "NanoBanana", "Internal", "Generated");
        var fresh = Directory.CreateTempSubdirectory("nanobanana-codegen-").FullName;
        try
        {
            await using (var host = await AppFixture.StartHost())
            {
                host.Services.GetRequiredService<WolverineOptions>().CodeGeneration.GeneratedCodeOutputPath = fresh;
                var collections = host.Services.GetServices<ICodeFileCollection>().ToArray();
                new DynamicCodeBuilder(host.Services, collections)
                {
                    ServiceVariableSource = host.Services.GetService<IServiceVariableSource>()
                }.WriteGeneratedCode(_ => { });
            }

            var expected = Files(fresh);
            var actual = Files(committed);
            Assert.NotEmpty(expected);
            var missing = expected.Keys.Except(actual.Keys).ToList();
            var extra = actual.Keys.Except(expected.Keys).ToList();
            var changed = expected.Keys.Intersect(actual.Keys).Where(f => expected[f] != actual[f]).ToList();
            Assert.True(missing.Count + extra.Count + changed.Count == 0,
                $"Internal/Generated is stale. Missing: [{string.Join(", ", missing)}]; no longer generated: " +
                $"[{string.Join(", ", extra)}]; different: [{string.Join(", ", changed)}]. {Fix}");
        }
        finally
        {
            Directory.Delete(fresh, recursive: true);
        }
    }

    static Dictionary<string, string> Files(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(root, f), f => File.ReadAllText(f).ReplaceLineEndings("\n"))
            : [];

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NanoBanana.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("NanoBanana.sln not found above " + AppContext.BaseDirectory);
    }
}
