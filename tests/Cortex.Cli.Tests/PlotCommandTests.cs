using SkiaSharp;

namespace Cortex.Cli.Tests;

public class PlotCommandTests
{
    private static (int Width, int Height) PngSize(string path)
    {
        Assert.True(File.Exists(path), $"expected the image {path}");
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Pixels.Select(c => (uint)c).Distinct().Count() >= 20, $"{path} looks blank");
        return (bitmap.Width, bitmap.Height);
    }

    [Fact]
    public void TrainWritesTheCurvesAndTheConfusionMatrixBesideTheModel()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 300));
        var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "3", "--validation-split", "0.25", "--out", dir["m.cortex"]);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"Plotted the training curves in {dir["m-training.png"]} and the confusion matrix in {dir["m-confusion.png"]}.", r.Out);
        Assert.Equal((960, 360), PngSize(dir["m-training.png"]));   // loss and accuracy side by side, 480×360 each
        Assert.Equal((420, 420), PngSize(dir["m-confusion.png"]));  // three classes
    }

    [Fact]
    public void TrainPlotsSvgOrNoneAndRejectsAnUnknownFormatBeforeTraining()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 90));
        string[] train = ["train", "--data", csv, "--label", "kind", "--epochs", "1"];

        var svg = CliHarness.Run([.. train, "--plots", "svg", "--out", dir["svg"]]);
        Assert.True(svg.ExitCode == 0, svg.ToString());
        Assert.StartsWith("<?xml", File.ReadAllText(Path.Combine(dir["svg"], "roasts-training.svg")));
        Assert.Contains("<svg", File.ReadAllText(Path.Combine(dir["svg"], "roasts-confusion.svg")));

        var none = CliHarness.Run([.. train, "--plots", "none", "--out", dir["none"]]);
        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.DoesNotContain("Plotted", none.Out);
        Assert.Equal(["roasts-history.csv", "roasts.cortex"], Directory.GetFiles(dir["none"]).Select(Path.GetFileName).Order());

        var bad = CliHarness.Run([.. train, "--plots", "jpg", "--out", dir["bad"]]);
        CliHarness.AssertBadInput(bad, "--plots: unknown format 'jpg'; expected one of png, svg, none.");
        Assert.DoesNotContain("Epoch", bad.Out);
    }

    [Fact]
    public void PlotDrawsAHistoryCsvBesideItOrWhereToldAtTheSizeAsked()
    {
        using var dir = new TempDir();
        string history = dir.Write("digits-history.csv",
            "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.8,0.7,0.78,0.75\n1,0.85,0.5,0.82,0.55\n2,0.9,0.35,0.86,0.45\n");

        var r = CliHarness.Run("plot", history);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"Wrote {dir["digits-training.png"]}: loss, accuracy over 3 epochs.", r.Out.Trim());
        Assert.Equal((960, 360), PngSize(dir["digits-training.png"]));

        var sized = CliHarness.Run("plot", history, "-o", dir["out/curves.png"], "--width", "640", "--height", "240");
        Assert.True(sized.ExitCode == 0, sized.ToString());
        Assert.Equal((640, 240), PngSize(dir["out/curves.png"]));

        var svg = CliHarness.Run("plot", history, "--out", dir["curves.svg"]);
        Assert.True(svg.ExitCode == 0, svg.ToString());
        Assert.Contains("width=\"960\"", File.ReadAllText(dir["curves.svg"]));
    }

    [Fact]
    public void PlotBadInputsFailInOneLine()
    {
        using var dir = new TempDir();
        string good = dir.Write("h.csv", "epoch,loss\n0,0.5\n1,0.25\n");

        CliHarness.AssertBadInput(CliHarness.Run("plot", dir["missing.csv"]), $"History file '{dir["missing.csv"]}' not found.");
        CliHarness.AssertBadInput(CliHarness.Run("plot", dir.Write("bad.csv", "epoch,loss\n0,lots\n")),
            "line 2: expected a number for 'loss'; received 'lots'.");
        CliHarness.AssertBadInput(CliHarness.Run("plot", dir.Write("words.csv", "name,age\nann,3\n")),
            "line 1: expected a header 'epoch,loss,…' as the CsvLogger writes it; received 'name,age'.");
        CliHarness.AssertBadInput(CliHarness.Run("plot", good, "-o", dir["h.jpg"]),
            $"--out: expected a file name ending in .png or .svg; received '{dir["h.jpg"]}'.");
        CliHarness.AssertBadInput(CliHarness.Run("plot", good, "--width", "-5"), "--width: expected a number of pixels (0 for the default); received -5.");
        CliHarness.AssertBadInput(CliHarness.Run("plot"), "(see 'cortex plot --help')");
        Assert.Equal(["bad.csv", "h.csv", "words.csv"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }
}
