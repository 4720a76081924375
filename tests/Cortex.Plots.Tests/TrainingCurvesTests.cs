using Cortex.Callbacks;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Plots.Tests;

public class TrainingCurvesTests
{
    /// <summary>Eight epochs of a made-up run: the loss falls from 2.3 to 0.3, accuracy rises, validation lags.</summary>
    private static History MadeUp(int epochs = 8)
    {
        var history = new History();
        for (int e = 0; e < epochs; e++)
            history.OnEpochEnd(e, new Dictionary<string, float>
            {
                ["accuracy"] = 0.5f + 0.05f * e,
                ["loss"] = 2.3f - 2f * e / (epochs - 1),
                ["val_accuracy"] = 0.45f + 0.04f * e,
                ["val_loss"] = 2.5f - 1.6f * e / (epochs - 1),
            });
        return history;
    }

    [Fact]
    public void PngHasTheSizeAskedForAndPanelsWhoseAxesCoverEveryEpochAndValue()
    {
        using var dir = new TempDir();
        History history = MadeUp();
        Figure figure = TrainingCurves.Build(history);
        figure.Save(dir["training.png"], 900, 400);

        Images.AssertPng(dir["training.png"], 900, 400);
        Assert.Equal(["loss", "accuracy"], TrainingCurves.Quantities(history));
        Assert.Equal((1, 2), (figure.Rows, figure.Columns));
        AssertCovers(figure.Panels[0].Axes.GetLimits(), 1, 8, 0.3, 2.5);   // loss 2.3 → 0.3, val_loss 2.5 → 0.9
        AssertCovers(figure.Panels[1].Axes.GetLimits(), 1, 8, 0.45, 0.85); // accuracy 0.5 → 0.85, val 0.45 → 0.73
        Assert.Equal(2, figure.Panels[0].GetPlottables<ScottPlot.Plottables.Scatter>().Count());
    }

    [Fact]
    public void SvgHasTheSizeAskedForAndNamesTheQuantitiesAndCurves()
    {
        using var dir = new TempDir();
        MadeUp().Plot(dir["training.svg"], 800, 300);

        string text = Images.AssertSvg(dir["training.svg"], 800, 300);
        foreach (string label in (string[])["loss", "accuracy", "epoch", "training", "validation"])
            Assert.Contains(label, text);
    }

    [Fact]
    public void DefaultSizeIsOnePanelSizePerColumnAndRow()
    {
        using var dir = new TempDir();
        var history = new History();
        for (int e = 0; e < 3; e++)
            history.OnEpochEnd(e, new Dictionary<string, float> { ["loss"] = 1f / (e + 1), ["mae"] = 2f - e, ["mse"] = 3f - e });
        history.Plot(dir["three.png"]);

        // Three quantities: two panels on the first row, one on the second.
        Images.AssertPng(dir["three.png"], 2 * TrainingCurves.PanelWidth, 2 * TrainingCurves.PanelHeight);
        Assert.Equal(["loss", "mae", "mse"], TrainingCurves.Quantities(history));
    }

    [Fact]
    public void AHistoryFromFitPlotsLossAndAccuracyWithValidationCurves()
    {
        using var dir = new TempDir();
        CortexRandom.SetGlobalSeed(3);
        // Two blobs, class = which side of x0 + x1 = 0 a point lies on.
        var rng = new Random(3);
        float[] x = new float[200 * 2];
        float[] y = new float[200];
        for (int i = 0; i < 200; i++)
        {
            x[2 * i] = (float)(rng.NextDouble() * 2 - 1);
            x[2 * i + 1] = (float)(rng.NextDouble() * 2 - 1);
            y[i] = x[2 * i] + x[2 * i + 1] > 0 ? 1 : 0;
        }
        var model = Zoo.Mlp(2, [8], 2);
        model.Compile(new Adam(0.05f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        History history = model.Fit(Tensor.FromArray(x, 200, 2), Tensor.FromArray(y), epochs: 5, batchSize: 20, validationSplit: 0.2f, verbose: 0);

        Figure figure = TrainingCurves.Build(history);
        figure.Save(dir["fit.png"], 700, 300);

        Images.AssertPng(dir["fit.png"], 700, 300);
        Assert.Equal(["loss", "accuracy"], TrainingCurves.Quantities(history));
        float[] losses = [.. history["loss"], .. history["val_loss"]];
        AssertCovers(figure.Panels[0].Axes.GetLimits(), 1, 5, losses.Min(), losses.Max());
        float[] accuracies = [.. history["accuracy"], .. history["val_accuracy"]];
        AssertCovers(figure.Panels[1].Axes.GetLimits(), 1, 5, accuracies.Min(), accuracies.Max());
    }

    [Fact]
    public void NonFiniteValuesAreLeftOutAndOneEpochStillHasAnXRange()
    {
        using var dir = new TempDir();
        var diverged = new History();
        diverged.OnEpochEnd(0, new Dictionary<string, float> { ["loss"] = 1.5f });
        diverged.OnEpochEnd(1, new Dictionary<string, float> { ["loss"] = 0.5f });
        diverged.OnEpochEnd(2, new Dictionary<string, float> { ["loss"] = float.NaN });
        Figure figure = TrainingCurves.Build(diverged);
        figure.Save(dir["nan.png"], 400, 300);
        Images.AssertPng(dir["nan.png"], 400, 300);
        AssertCovers(figure.Panels[0].Axes.GetLimits(), 1, 2, 0.5, 1.5);

        var single = new History();
        single.OnEpochEnd(0, new Dictionary<string, float> { ["loss"] = 0.7f });
        Figure one = TrainingCurves.Build(single);
        one.Save(dir["one.svg"], 400, 300);
        Images.AssertSvg(dir["one.svg"], 400, 300);
        var limits = one.Panels[0].Axes.GetLimits();
        Assert.True(limits.Left < 1 && limits.Right > 1, $"x range {limits.Left}..{limits.Right} should contain epoch 1");
    }

    [Fact]
    public void WrongExtensionAndEmptyHistoryFailWithOneClearMessage()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => MadeUp().Plot(dir["training.jpg"]));
        Assert.StartsWith($"Cannot save the plot to '{dir["training.jpg"]}': expected a file name ending in .png or .svg; received '.jpg'.", e.Message);
        Assert.False(File.Exists(dir["training.jpg"]));

        var empty = Assert.Throws<ArgumentException>(() => new History().Plot(dir["empty.png"]));
        Assert.StartsWith("Cannot plot the history: it recorded no epoch.", empty.Message);
    }

    [Fact]
    public void HistoryCsvReadsWhatCsvLoggerWrote()
    {
        using var dir = new TempDir();
        var logger = new CsvLogger(dir["h.csv"]);
        logger.OnTrainBegin();
        logger.OnEpochEnd(0, new Dictionary<string, float> { ["loss"] = 0.75f, ["accuracy"] = 0.6f, ["val_loss"] = 0.8125f });
        logger.OnEpochEnd(1, new Dictionary<string, float> { ["loss"] = 0.5f, ["accuracy"] = 0.7f, ["val_loss"] = 0.625f });

        History history = HistoryCsv.Read(dir["h.csv"]);

        Assert.Equal([0, 1], history.Epochs);
        Assert.Equal([0.75f, 0.5f], history["loss"]);
        Assert.Equal([0.6f, 0.7f], history["accuracy"]);
        Assert.Equal([0.8125f, 0.625f], history["val_loss"]);
        Assert.Equal(["loss", "accuracy"], TrainingCurves.Quantities(history));
    }

    [Theory]
    [InlineData("", "is empty; expected a header 'epoch,loss,…'")]
    [InlineData("loss,accuracy\n0.5,0.6\n", "line 1: expected a header 'epoch,loss,…' as the CsvLogger writes it; received 'loss,accuracy'.")]
    [InlineData("epoch,loss\n0,0.5\n1,abc\n", "line 3: expected a number for 'loss'; received 'abc'.")]
    [InlineData("epoch,loss,accuracy\n0,0.5\n", "line 2: expected 3 values (epoch,loss,accuracy); received 2.")]
    [InlineData("epoch,loss\nfirst,0.5\n", "line 2: expected an epoch number (0, 1, 2, …) in the first column; received 'first'.")]
    [InlineData("epoch,loss\n", "has a header but no epoch rows.")]
    public void HistoryCsvNamesTheLineAndWhatWasExpected(string text, string message)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["bad.csv"], text);
        var e = Assert.Throws<InvalidDataException>(() => HistoryCsv.Read(dir["bad.csv"]));
        Assert.StartsWith($"History file '{dir["bad.csv"]}' {message}", e.Message);
    }

    [Fact]
    public void HistoryCsvBlankCellsAreNaNAndAMissingFileIsNamed()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["gap.csv"], "epoch,loss,val_loss\n0,0.5,\n1,0.25,0.375\n");
        History history = HistoryCsv.Read(dir["gap.csv"]);
        Assert.True(float.IsNaN(history["val_loss"][0]));
        Assert.Equal(0.375f, history["val_loss"][1]);

        var e = Assert.Throws<FileNotFoundException>(() => HistoryCsv.Read(dir["none.csv"]));
        Assert.Equal($"History file '{dir["none.csv"]}' not found.", e.Message);
    }

    /// <summary>The axes show epochs <paramref name="first"/>..<paramref name="last"/> and values
    /// <paramref name="min"/>..<paramref name="max"/>, with margins but not much more.</summary>
    internal static void AssertCovers(ScottPlot.AxisLimits limits, double first, double last, double min, double max)
    {
        string where = $"x {limits.Left:0.###}..{limits.Right:0.###}, y {limits.Bottom:0.###}..{limits.Top:0.###}; data x {first}..{last}, y {min:0.###}..{max:0.###}";
        Assert.True(limits.Left <= first && limits.Right >= last, "x range misses epochs: " + where);
        Assert.True(limits.Bottom <= min && limits.Top >= max, "y range misses values: " + where);
        Assert.True(limits.Right - limits.Left <= (last - first) * 1.5 + 1, "x range far wider than the epochs: " + where);
        Assert.True(limits.Top - limits.Bottom <= (max - min) * 1.5 + 1e-6, "y range far wider than the values: " + where);
    }
}
