using Cortex.Models;

namespace Cortex.Cli.Tests;

/// <summary><c>cortex train --resume</c> without MPI: one process continues a saved model at the epoch it ends (the
/// multi-process runs and their kill-and-resume test are in tests/Cortex.Distributed.Tests).</summary>
public class ResumeTests
{
    [Fact]
    public void ResumeContinuesASavedModelAtTheEpochAfterItsUpdates()
    {
        using var dir = new TempDir();
        var first = CliHarness.Run("train", "--epochs", "1", "--out", dir["first.cortex"]);
        Assert.True(first.ExitCode == 0, first.ToString());

        // 250 updates at batch 32 over 8,000 rows: one epoch done, so the run resumes at epoch 2.
        var resumed = CliHarness.Run("train", "--epochs", "3", "--resume", dir["first.cortex"], "--out", dir["resumed.cortex"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"Resuming from {dir["first.cortex"]} at epoch 2 of 3.", resumed.Out);
        Assert.DoesNotContain("Epoch 1/3", resumed.Out);
        Assert.Contains("Epoch 2/3", resumed.Out);
        Assert.Contains("Epoch 3/3", resumed.Out);
        Assert.True(resumed.Number("Test accuracy:") > first.Number("Test accuracy:"), resumed.ToString());
        Assert.Equal(750, Model.Load(dir["resumed.cortex"]).Optimizer!.Iterations);
        Assert.Equal(3, File.ReadAllLines(dir["resumed-history.csv"]).Length); // header, epochs 2 and 3
        Assert.True(File.Exists(dir["resumed-checkpoint.cortex"]));

        CliHarness.AssertBadInput(CliHarness.Run("train", "--epochs", "1", "--resume", dir["first.cortex"], "--out", dir["x.cortex"]),
            "has already trained 1 epochs", "--epochs greater than 1");
        CliHarness.AssertBadInput(CliHarness.Run("train", "--epochs", "3", "--batch-size", "48", "--resume", dir["first.cortex"], "--out", dir["x.cortex"]),
            "has made 250 updates, not a whole number of epochs of 167 steps");
        CliHarness.AssertBadInput(CliHarness.Run("train", "--resume", dir["missing.cortex"]), "no such checkpoint");
    }
}
