using System.Diagnostics;

namespace Cortex.Tests.Kernels;

/// <summary>
/// The parallel kernels and training as machines with 1 to 16 CPUs run them: each case starts the Cortex.Stress program
/// with DOTNET_PROCESSOR_COUNT set (the worker pool sizes itself from Environment.ProcessorCount once, at start-up, so a
/// count can only be tried in a fresh process). On 3+ CPUs the pool used to stall, crash or compute wrong products.
/// </summary>
public class ProcessorCountTests
{
    public static TheoryData<int> Counts => [1, 2, 3, 4, 8, 16];

    [Theory]
    [MemberData(nameof(Counts))]
    public void MixedProductsMatchOneThreadBitForBit(int cpus)
    {
        // 20,000 products of mixed kinds and part counts from two callers; a stall shows as the timeout.
        string output = Stress(cpus, "products 20000 " + cpus);
        Assert.Contains("products 20000 wrong 0", output);
    }

    [Fact]
    public void TrainingAndPredictGiveTheSameBitsOnAnyNumberOfCpus()
    {
        string one = Weights(Stress(1, "train"));
        Assert.Equal(8, one.Split('\n').Length);   // weights and predictions of four models
        foreach (int cpus in new[] { 2, 3, 4, 8, 16 })
            Assert.Equal(one, Weights(Stress(cpus, "train")));
    }

    private static string Weights(string output) =>
        string.Join('\n', output.Split('\n').Where(l => l.StartsWith("weights ") || l.StartsWith("predict ")).Select(l => l.Trim()));

    /// <summary>Runs the stress program with <paramref name="cpus"/> CPUs and returns its output; fails on a non-zero
    /// exit or when it runs past the time limit (a stalled pool never returns).</summary>
    private static string Stress(int cpus, string arguments)
    {
        // This assembly is at tests/Cortex.Tests/bin/<configuration>/net10.0/; the stress program beside it, built with it.
        var here = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        string dll = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.FullName, "Cortex.Stress", "bin", here.Parent.Name, here.Name, "Cortex.Stress.dll");
        Assert.True(File.Exists(dll), $"expected the stress program at {dll}");
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_PROCESSOR_COUNT"] = cpus.ToString();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"Cortex.Stress {arguments} with {cpus} CPUs did not finish in 3 minutes (a stalled worker pool?)");
        }
        string output = stdout.Result + stderr.Result;
        Assert.True(process.ExitCode == 0, $"Cortex.Stress {arguments} with {cpus} CPUs exited {process.ExitCode}:\n{output}");
        Assert.Contains($"cpus {cpus} parts {cpus}", output);
        return output;
    }
}
