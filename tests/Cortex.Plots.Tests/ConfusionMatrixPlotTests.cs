using SkiaSharp;

namespace Cortex.Plots.Tests;

public class ConfusionMatrixPlotTests
{
    // Three classes; class 2 is mostly mistaken for class 0.
    private static readonly int[,] Matrix = { { 50, 0, 0 }, { 5, 40, 5 }, { 40, 0, 10 } };
    private static readonly string[] Names = ["cat", "dog", "bird"];

    [Fact]
    public void PngShadesEachCellByItsRowFractionWithTheFirstTrueClassOnTop()
    {
        using var dir = new TempDir();
        Figure figure = ConfusionMatrixPlot.Build(Matrix, Names);
        figure.Save(dir["confusion.png"], 500, 450);

        SKBitmap image = Images.AssertPng(dir["confusion.png"], 500, 450);
        var plot = figure.Panels[0];
        var limits = plot.Axes.GetLimits();
        Assert.Equal((-0.5, 2.5, -0.5, 2.5), (limits.Left, limits.Right, limits.Bottom, limits.Top));

        // Cell (true t, predicted p) is centred at (p, 2 - t). Sample beside its centre, clear of the count's text.
        double Brightness(int t, int p)
        {
            ScottPlot.Pixel pixel = plot.GetPixel(new ScottPlot.Coordinates(p + 0.35, 2 - t + 0.35));
            return Images.Luminance(image.GetPixel((int)pixel.X, (int)pixel.Y));
        }
        Assert.True(Brightness(0, 0) < 100, $"cat→cat (all of its row) should be dark: {Brightness(0, 0):0}");
        Assert.True(Brightness(0, 1) > 230, $"cat→dog (none) should be white: {Brightness(0, 1):0}");
        Assert.True(Brightness(2, 0) < Brightness(2, 2), "bird→cat (80%) should be darker than bird→bird (20%)");
        Assert.True(Brightness(1, 1) < Brightness(1, 0), "dog→dog (80%) should be darker than dog→cat (10%)");
    }

    [Fact]
    public void SvgHasTheSizeAskedForAndShowsCountsNamesAndAccuracy()
    {
        using var dir = new TempDir();
        ConfusionMatrixPlot.Save(dir["confusion.svg"], Matrix, Names, 600, 500);

        string text = Images.AssertSvg(dir["confusion.svg"], 600, 500);
        // Cells are vector shapes: an embedded bitmap would be smoothed into a blur by SVG viewers.
        Assert.DoesNotContain("<image", File.ReadAllText(dir["confusion.svg"]));
        foreach (string s in (string[])["cat", "dog", "bird", "predicted class", "true class", "50", "40", "accuracy 0.6667 (100/150)"])
            Assert.Contains(s, text);
    }

    [Fact]
    public void LabelsAndTensorsCountTheSameMatrix()
    {
        int[] yTrue = [0, 0, 1, 1, 1, 2];
        int[] yPred = [0, 1, 1, 1, 2, 0];
        Assert.Equal(new int[,] { { 1, 1, 0 }, { 0, 2, 1 }, { 1, 0, 0 } }, ConfusionMatrixPlot.Count(yTrue, yPred));
        Assert.Equal(4, ConfusionMatrixPlot.Count(yTrue, yPred, classes: 4).GetLength(0));

        using var dir = new TempDir();
        // Scores per sample, as Model.Predict returns them: the arg-max is the class.
        var scores = Tensor.FromArray(new float[,] { { 3, 1, 0 }, { 0, 2, 1 }, { 0, 5, 1 }, { -1, 4, 2 }, { 0, 0, 1 }, { 9, 0, 0 } });
        var labels = Tensor.FromArray([0f, 0, 1, 1, 1, 2]);
        ConfusionMatrixPlot.Save(dir["t.png"], labels, scores);
        ConfusionMatrixPlot.Save(dir["l.png"], yTrue, yPred);
        int side = ConfusionMatrixPlot.DefaultSide(3);
        Images.AssertPng(dir["t.png"], side, side);
        Images.AssertPng(dir["l.png"], side, side);
        Assert.Equal(File.ReadAllBytes(dir["l.png"]), File.ReadAllBytes(dir["t.png"]));
    }

    [Fact]
    public void TheSameMatrixDrawsTheSameImageFirstOrLaterInParallelAndLeavesScottPlotsDefaultFontAlone()
    {
        using var dir = new TempDir();
        string before = ScottPlot.Fonts.Default;
        Parallel.For(0, 8, i => ConfusionMatrixPlot.Save(dir[$"{i}.png"], Matrix, ["T-shirt/top", "Trouser", "Ankle boot"]));

        byte[] first = File.ReadAllBytes(dir["0.png"]);
        for (int i = 1; i < 8; i++) Assert.True(first.SequenceEqual(File.ReadAllBytes(dir[$"{i}.png"])), $"image {i} differs from image 0");
        Assert.Equal(before, ScottPlot.Fonts.Default);
    }

    [Fact]
    public void BadInputsFailWithMessagesThatSayWhatWasExpected()
    {
        using var dir = new TempDir();
        Assert.StartsWith("Confusion matrix: expected as many predictions as true labels; received 3 true labels and 2 predictions.",
            Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Count([0, 1, 1], [0, 1])).Message);
        Assert.StartsWith("Confusion matrix: expected class indices 0 to 1; sample 1 has true class 2 and predicted class 1.",
            Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Count([0, 2], [0, 1], classes: 2)).Message);
        Assert.StartsWith("Confusion matrix: expected a square matrix of counts with at least one class; received 2×3.",
            Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Save(dir["m.png"], new int[2, 3])).Message);
        Assert.StartsWith("Confusion matrix: expected 3 class names, one per class; received 2.",
            Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Save(dir["m.png"], Matrix, ["a", "b"])).Message);
        Assert.StartsWith("Confusion matrix: expected yTrue to hold class indices (0, 1, 2, …) or a row of scores per sample; element 1 is 0.5.",
            Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Save(dir["m.png"], Tensor.FromArray([0f, 0.5f]), Tensor.FromArray([0f, 1f]))).Message);
        Assert.StartsWith($"Cannot save the plot to '{dir["m.pdf"]}': expected a file name ending in .png or .svg; received '.pdf'.",
            Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Save(dir["m.pdf"], Matrix)).Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
