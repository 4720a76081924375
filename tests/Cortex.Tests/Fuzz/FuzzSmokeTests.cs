using Cortex.Data;
using Cortex.Fuzz;
using Cortex.Models;

namespace Cortex.Tests.Fuzz;

/// <summary>
/// The fuzz targets of fuzz/Cortex.Fuzz, run in CI without a native fuzzer: every file of the committed seed corpus
/// (valid files, and the inputs that once broke a loader), then a few thousand deterministic mutations, for a few
/// seconds per format. Each target checks the loaders' promises: only InvalidDataException escapes, naming the file,
/// with a bounded message, and no load allocates more than 64 MiB beyond its input.
/// </summary>
public class FuzzSmokeTests
{
    private static List<byte[]> Corpus(string target) => Campaign.ReadCorpus(Path.Combine(AppContext.BaseDirectory, "corpus", target));

    [Theory]
    [InlineData("cortex")]
    [InlineData("idx")]
    [InlineData("idx-gzip")]
    [InlineData("csv")]
    public async Task SeedsAndMutationsKeepTheLoadersPromises(string target)
    {
        var seeds = Corpus(target);
        Assert.NotEmpty(seeds);
        var run = Task.Run(() => Campaign.Run(Targets.All[target], seeds, executions: 5000, budget: TimeSpan.FromSeconds(3), seed: 1));
        var r = await run.WaitAsync(TimeSpan.FromSeconds(60)); // a TimeoutException here is a hang
        if (r.Failure is var (input, error))
            Assert.Fail($"Input {r.Executions} of the {target} target broke a promise. Input (base64): {Convert.ToBase64String(input)}\n{error}");
        Assert.True(r.Executions >= seeds.Count + 500, $"Only {r.Executions} inputs ran in {r.Elapsed.TotalSeconds:F1} s.");
        Assert.True(r.Slowest < TimeSpan.FromSeconds(5), $"The slowest input took {r.Slowest.TotalSeconds:F1} s.");
    }

    [Fact]
    public void TheValidSeedsLoad()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "corpus");
        foreach (string f in Directory.GetFiles(Path.Combine(dir, "cortex"), "*.cortex"))
            Assert.NotEmpty(Model.Load(f).Variables);
        foreach (string f in Directory.GetFiles(Path.Combine(dir, "cortex"), "*.json0"))
            Assert.NotEmpty(ModelFileLoad(Targets.Container(File.ReadAllBytes(f))).Variables);
        foreach (string f in Directory.GetFiles(Path.Combine(dir, "idx"), "*.idx*"))
            Assert.NotEmpty(Idx.Read(f).Data);
        foreach (string f in Directory.GetFiles(Path.Combine(dir, "csv"), "*.csv"))
            Assert.True(Csv.Load(f, "y", stringLabels: true).Labels.Size > 0);
    }

    private static Model ModelFileLoad(byte[] file) => Cortex.Saving.ModelFile.Load(file, "seed.cortex");
}
