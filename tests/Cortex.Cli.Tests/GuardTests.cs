using Cortex.Models;

namespace Cortex.Cli.Tests;

/// <summary>
/// Training that cannot succeed fails fast and says why in one line, and nothing broken is written: an output that
/// cannot be written is found before training, a run that diverges saves no model, a model that outputs NaN is not
/// printed as class 0.
/// </summary>
public class GuardTests
{
    private static CliResult TrainCsv(TempDir dir, params string[] extra)
    {
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 120));
        return CliHarness.Run(["train", "--data", csv, "--label", "kind", .. extra]);
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("sgd")]
    public void DivergedTrainingExitsNonZeroInOneLineAndKeepsThePreviousModel(string optimizer)
    {
        using var dir = new TempDir();
        string model = dir.Write("roasts.cortex", "the previous model");

        var r = TrainCsv(dir, "--optimizer", optimizer, "--lr", "1e30", "--epochs", "5", "--out", dir.Path);

        CliHarness.AssertBadInput(r, "training diverged", "--lr 1E+30", "not saved", model);
        Assert.Equal("the previous model", File.ReadAllText(model));
        Assert.DoesNotContain("Test accuracy", r.Out);
        Assert.DoesNotContain("Epoch 5/5", r.Out); // stopped at the first non-finite epoch
    }

    [Fact]
    public void OutAsAModelFileWritesTheHistoryBesideIt()
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "runs", "roast-model.cortex");

        var r = TrainCsv(dir, "--epochs", "2", "--out", model);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(model));
        string history = Path.Combine(dir.Path, "runs", "roast-model-history.csv");
        Assert.Equal(3, File.ReadAllLines(history).Length);
        Assert.Contains($"Saved the model to {model} and its history to {history}.", r.Out);
        Assert.False(File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "roasts-history.csv")));
        Assert.False(File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "roast-model-history.csv")));
    }

    [Fact]
    public void UnwritableModelPathFailsBeforeTrainingAndOverwritesNothing()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["roasts.cortex"]); // the model cannot be written where a directory stands
        string history = dir.Write("roasts-history.csv", "the previous history");

        var r = TrainCsv(dir, "--epochs", "1", "--out", dir.Path);

        CliHarness.AssertBadInput(r, "--out", dir["roasts.cortex"], "is a directory");
        Assert.DoesNotContain("Epoch 1/1", r.Out);
        Assert.Equal("the previous history", File.ReadAllText(history));
    }

    [Fact]
    public void UnwritableHistoryPathFailsBeforeTraining()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["m-history.csv"]);

        var r = TrainCsv(dir, "--epochs", "1", "--out", dir["m.cortex"]);

        CliHarness.AssertBadInput(r, "--out", dir["m-history.csv"], "is a directory");
        Assert.DoesNotContain("Epoch 1/1", r.Out);
        Assert.False(File.Exists(dir["m.cortex"]));
    }

    /// <summary>A model trained for an epoch on <c>roasts.csv</c>, then given NaN weights, saved as <c>diverged.cortex</c>.</summary>
    private static string SaveDivergedModel(TempDir dir)
    {
        Assert.Equal(0, TrainCsv(dir, "--epochs", "1", "--out", dir.Path).ExitCode);
        var model = Model.Load(dir["roasts.cortex"]);
        model.SetWeights([.. model.GetWeights().Select(w => Tensor.Full(w.Shape, float.NaN))]);
        model.Save(dir["diverged.cortex"]);
        return dir["diverged.cortex"];
    }

    [Fact]
    public void PredictWithAModelThatOutputsNaNExitsNonZero()
    {
        using var dir = new TempDir();
        string model = SaveDivergedModel(dir);
        string input = dir.Write("new.csv", "temp,minutes\n200,10\n300,16\n");

        var r = CliHarness.Run("predict", "--model", model, "--input", input);

        CliHarness.AssertBadInput(r, model, "outputs NaN", "row 1", "weights are not finite");
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void EvaluateWithAModelWhoseLossIsNaNExitsNonZero()
    {
        using var dir = new TempDir();
        string model = SaveDivergedModel(dir);

        var r = CliHarness.Run("evaluate", "--model", model, "--data", dir["roasts.csv"], "--label", "kind");

        CliHarness.AssertBadInput(r, $"the loss of the model '{model}' on --data {dir["roasts.csv"]} is NaN", "weights are not finite");
        Assert.DoesNotContain("loss:", r.Out);
    }
}
