using System.Diagnostics;

namespace Cortex.Distributed.Tests;

/// <summary>
/// Data-parallel training on real MPI jobs: after one epoch with global batch 64, 1, 2 and 4 ranks hold the weights a
/// single process reaches (1 rank bit for bit; more within 1e-6 in relative norm per tensor: float rounding of the
/// summation order); a killed rank ends
/// the job quickly with its number; a run resumed from a checkpoint reaches the uninterrupted run's weights.
/// </summary>
public sealed class DataParallelTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cortex-mpi-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private float[][] Train(int ranks, string args)
    {
        string output = Path.Combine(dir, $"weights-{ranks}.bin");
        var result = MpiJob.Run(ranks, $"{args} --out \"{output}\"", dir);
        Assert.True(result.ExitCode == 0, $"{(ranks == 0 ? "the single process" : $"{ranks} ranks")} failed (exit {result.ExitCode}):\n{result.Output}");
        return MpiJob.ReadWeights(output);
    }

    [MpiTheory]
    [InlineData("mlp", "adam", "--rows 4096")]
    [InlineData("mlp", "sgdm", "--rows 4096")]
    [InlineData("mlp", "adam", "--rows 4096 --tape")]
    [InlineData("cnn", "adam", "--rows 1024")]
    [InlineData("cnn", "sgdm", "--rows 1024")]
    [InlineData("cnn", "adam", "--rows 512 --dropout")]
    public void OneTwoAndFourRanksTrainTheWeightsOfOneProcess(string model, string optimizer, string extra)
    {
        string args = $"--model {model} --optimizer {optimizer} --epochs 1 --batch 64 {extra}";
        var single = Train(0, args);
        // One rank sums nothing and scales by 1: the plain Fit's bits.
        Assert.Equal((0, 0), MpiJob.RelativeDifference(single, Train(1, args)));
        // More ranks sum each gradient in another order (per-rank partial sums): float rounding, ~1e-7 per step, which
        // Adam can lift to ~1e-6 of a tensor's scale on a weight whose gradient is near zero (measured: ≤ 3e-7 in norm,
        // ≤ 2.5e-6 element-wise on the CNN).
        foreach (int ranks in (int[])[2, 4])
        {
            var (norm, element) = MpiJob.RelativeDifference(single, Train(ranks, args));
            Assert.True(norm <= 1e-6 && element <= 1e-5, $"{ranks} ranks: weights differ from one process's by {norm:E2} in relative norm, {element:E2} element-wise (relative to the tensor's largest weight)");
        }
    }

    [MpiFact]
    public void KilledRankEndsTheJobNamingItAndResumingReachesTheUninterruptedWeights()
    {
        const string args = "--model mlp --optimizer adam --rows 1024 --batch 64 --epochs 3";
        var reference = Train(2, $"{args} --checkpoint \"{Path.Combine(dir, "ref_{epoch}.cortex")}\"");

        // The same run, slowed down, with rank 1 killed (SIGKILL) in the middle of the second epoch.
        string checkpoint = Path.Combine(dir, "ckpt_01.cortex");
        var watch = Stopwatch.StartNew();
        using var job = MpiJob.Start(2, $"{args} --slow-ms 100 --pid-dir \"{dir}\" --checkpoint \"{Path.Combine(dir, "ckpt_{epoch}.cortex")}\" --out \"{Path.Combine(dir, "never.bin")}\"", dir);
        while (!File.Exists(checkpoint) && watch.Elapsed < TimeSpan.FromMinutes(2) && !job.HasExited) Thread.Sleep(50);
        Assert.True(File.Exists(checkpoint), "the first epoch's checkpoint was not written");
        Thread.Sleep(500); // a few steps into epoch 2
        int victim = int.Parse(File.ReadAllText(Path.Combine(dir, "rank1.pid")));
        var killed = Stopwatch.StartNew();
        Process.GetProcessById(victim).Kill();
        var result = MpiJob.Wait(job, watch, TimeSpan.FromSeconds(60));
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(30), $"the job took {killed.Elapsed.TotalSeconds:F1} s to end after rank 1 was killed");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("rank 1", result.Output);
        Assert.False(File.Exists(Path.Combine(dir, "never.bin")), "the interrupted job wrote final weights");

        // Resume from the last checkpoint (end of epoch 1, optimizer state included): the uninterrupted run's weights.
        var resumed = Train(2, $"{args} --resume \"{checkpoint}\" --initial-epoch 1");
        Assert.Equal((0, 0), MpiJob.RelativeDifference(reference, resumed)); // same ranks, same order: the same bits
    }
}
