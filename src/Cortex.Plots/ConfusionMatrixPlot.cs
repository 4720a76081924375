using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Cortex.Plots;

/// <summary>
/// The confusion matrix of a classifier as an image: row = true class (the first at the top), column = predicted
/// class, each cell showing its count and shaded by the fraction of its row (the class's recall on the diagonal), so
/// that small classes read as clearly as large ones.
/// </summary>
/// <example>
/// <code>
/// using Cortex.Plots;
///
/// Tensor logits = model.Predict(testX);
/// ConfusionMatrixPlot.Save("confusion.png", testY, logits);          // class indices vs. scores (arg-max taken)
/// ConfusionMatrixPlot.Save("confusion.svg", [0, 1, 1], [0, 1, 0], classNames: ["cat", "dog"]);
/// </code>
/// </example>
public static class ConfusionMatrixPlot
{
    /// <summary>Above this many classes the cells are too small for their counts, and only the shading is drawn.</summary>
    public const int MaxLabelledClasses = 30;

    /// <summary>
    /// Counts <c>m[true, predicted]</c> over pairs of class indices.
    /// </summary>
    /// <param name="yTrue">The true class of each sample.</param>
    /// <param name="yPred">The predicted class of each sample.</param>
    /// <param name="classes">The number of classes; 0 for one more than the largest index seen.</param>
    /// <exception cref="ArgumentException">The lists differ in length, or an index is negative or not below <paramref name="classes"/>.</exception>
    public static int[,] Count(IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred, int classes = 0)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        if (yTrue.Count != yPred.Count)
            throw new ArgumentException($"Confusion matrix: expected as many predictions as true labels; received {yTrue.Count} true labels and {yPred.Count} predictions.", nameof(yPred));
        if (classes < 0) throw new ArgumentOutOfRangeException(nameof(classes), $"Confusion matrix: expected a non-negative number of classes; received {classes}.");
        if (classes == 0) classes = Math.Max(yTrue.DefaultIfEmpty(-1).Max(), yPred.DefaultIfEmpty(-1).Max()) + 1;
        var m = new int[classes, classes];
        for (int i = 0; i < yTrue.Count; i++)
        {
            int t = yTrue[i], p = yPred[i];
            if ((uint)t >= (uint)classes || (uint)p >= (uint)classes)
                throw new ArgumentException($"Confusion matrix: expected class indices 0 to {classes - 1}; sample {i} has true class {t} and predicted class {p}.", (uint)t >= (uint)classes ? nameof(yTrue) : nameof(yPred));
            m[t, p]++;
        }
        return m;
    }

    /// <summary>
    /// Saves the confusion matrix of <paramref name="yTrue"/> against <paramref name="yPred"/> to <paramref name="path"/>,
    /// as PNG or SVG by its extension.
    /// </summary>
    /// <param name="path">The image file, ending in <c>.png</c> or <c>.svg</c>; its folder is created if missing.</param>
    /// <param name="yTrue">The true class of each sample.</param>
    /// <param name="yPred">The predicted class of each sample.</param>
    /// <param name="classNames">A name per class for the axes; null to number them.</param>
    /// <param name="classes">The number of classes; 0 for the length of <paramref name="classNames"/>, or else one more than the largest index seen.</param>
    /// <param name="width">Image width in pixels; 0 for a size that fits the classes.</param>
    /// <param name="height">Image height in pixels; 0 for a size that fits the classes.</param>
    public static void Save(string path, IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred, IReadOnlyList<string>? classNames = null,
        int classes = 0, int width = 0, int height = 0)
    {
        Figure.FormatOf(path);
        Save(path, Count(yTrue, yPred, classes > 0 ? classes : classNames?.Count ?? 0), classNames, width, height);
    }

    /// <summary>
    /// Saves the confusion matrix of two tensors: each holds class indices (any shape, read in order) or, when it is
    /// 2-D with more than one column, a row of scores, probabilities or a one-hot code per sample, whose arg-max is
    /// the class — so <c>model.Predict(x)</c> can be passed as it is.
    /// </summary>
    /// <param name="path">The image file, ending in <c>.png</c> or <c>.svg</c>; its folder is created if missing.</param>
    /// <param name="yTrue">The true classes.</param>
    /// <param name="yPred">The predicted classes, or the model's outputs.</param>
    /// <param name="classNames">A name per class for the axes; null to number them.</param>
    /// <param name="width">Image width in pixels; 0 for a size that fits the classes.</param>
    /// <param name="height">Image height in pixels; 0 for a size that fits the classes.</param>
    public static void Save(string path, Tensor yTrue, Tensor yPred, IReadOnlyList<string>? classNames = null, int width = 0, int height = 0)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        int classes = classNames?.Count ?? Math.Max(ScoreColumns(yTrue), ScoreColumns(yPred));
        Save(path, ClassesOf(yTrue, nameof(yTrue)), ClassesOf(yPred, nameof(yPred)), classNames, classes, width, height);
    }

    /// <summary>
    /// Saves <paramref name="matrix"/> (<c>matrix[true, predicted]</c> counts) to <paramref name="path"/>, as PNG or
    /// SVG by its extension.
    /// </summary>
    /// <param name="path">The image file, ending in <c>.png</c> or <c>.svg</c>; its folder is created if missing.</param>
    /// <param name="matrix">A square matrix of non-negative counts.</param>
    /// <param name="classNames">A name per class for the axes; null to number them.</param>
    /// <param name="width">Image width in pixels; 0 for a size that fits the classes.</param>
    /// <param name="height">Image height in pixels; 0 for a size that fits the classes.</param>
    /// <exception cref="ArgumentException">The matrix is not square or has a negative count, the names do not match
    /// the classes, or the extension is not .png or .svg.</exception>
    public static void Save(string path, int[,] matrix, IReadOnlyList<string>? classNames = null, int width = 0, int height = 0)
    {
        Figure.FormatOf(path);
        Figure figure = Build(matrix, classNames);
        int side = DefaultSide(matrix.GetLength(0));
        figure.Save(path, width > 0 ? width : side, height > 0 ? height : side);
    }

    /// <summary>The default image side: about 60 pixels a class plus room for the axes, between 420 and 1400.</summary>
    internal static int DefaultSide(int classes) => Math.Clamp(60 * classes + 200, 420, 1400);

    /// <summary>The one-panel figure: a heatmap whose cell (column p, row t) is centred at <c>(p, classes - 1 - t)</c>.</summary>
    internal static Figure Build(int[,] matrix, IReadOnlyList<string>? classNames)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.GetLength(0);
        if (n == 0 || matrix.GetLength(1) != n)
            throw new ArgumentException($"Confusion matrix: expected a square matrix of counts with at least one class; received {matrix.GetLength(0)}×{matrix.GetLength(1)}.", nameof(matrix));
        if (classNames != null && classNames.Count != n)
            throw new ArgumentException($"Confusion matrix: expected {n} class names, one per class; received {classNames.Count}.", nameof(classNames));

        var fraction = new double[n, n];
        long correct = 0, total = 0;
        for (int t = 0; t < n; t++)
        {
            long row = 0;
            for (int p = 0; p < n; p++)
            {
                if (matrix[t, p] < 0)
                    throw new ArgumentException($"Confusion matrix: expected non-negative counts; received {matrix[t, p]} at true class {t}, predicted class {p}.", nameof(matrix));
                row += matrix[t, p];
            }
            for (int p = 0; p < n; p++) fraction[t, p] = row == 0 ? 0 : (double)matrix[t, p] / row;
            correct += matrix[t, t];
            total += row;
        }

        var plot = new Plot();
        // Heatmap rows run top to bottom like the matrix's, so the first true class is the top row.
        var heatmap = plot.Add.Heatmap(fraction);
        heatmap.Colormap = new ScottPlot.Colormaps.Blues().Reversed(); // white for 0, dark blue for a whole row
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // One rectangle per cell rather than an n×n bitmap stretched over the plot, which SVG viewers smooth into a blur.
        heatmap.RenderStrategy = new ScottPlot.Plottables.Heatmap.RenderStrategies.Rectangles();
        heatmap.Rectangle = new CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5); // the edges: cells 1 wide, centred on 0..n-1
        if (n <= MaxLabelledClasses)
        {
            float fontSize = n <= 10 ? 14 : n <= 20 ? 11 : 8;
            for (int t = 0; t < n; t++)
                for (int p = 0; p < n; p++)
                {
                    var text = plot.Add.Text(matrix[t, p].ToString(CultureInfo.InvariantCulture), p, n - 1 - t);
                    text.Alignment = Alignment.MiddleCenter;
                    text.LabelFontSize = fontSize;
                    text.LabelFontColor = fraction[t, p] > 0.5 ? Colors.White : Colors.Black;
                }
        }

        double[] positions = [.. Enumerable.Range(0, n).Select(i => (double)i)];
        string[] names = [.. Enumerable.Range(0, n).Select(i => classNames?[i] ?? i.ToString(CultureInfo.InvariantCulture))];
        plot.Axes.Bottom.TickGenerator = new NumericManual(positions, names);
        plot.Axes.Left.TickGenerator = new NumericManual([.. positions.Select(y => n - 1 - y)], names);
        if (names.Max(s => s.Length) * 7 > (DefaultSide(n) - 150) / n)
        {
            // Names wider than a cell (about 7 pixels a character) would overlap side by side: slant them, and make room below (and to the right, where the
            // last one ends) for the widest, as ScottPlot's layout measures only unrotated labels.
            plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            using Paint paint = Paint.NewDisposablePaint();
            float widest = plot.Axes.Bottom.TickLabelStyle.MeasureWidestString(names, paint).width.Length;
            plot.Axes.Bottom.MinimumSize = widest * 0.71f + 40; // sin 45°, plus the axis title
            plot.Axes.Right.MinimumSize = widest * 0.71f;
        }
        plot.HideGrid();
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.XLabel("predicted class");
        plot.YLabel("true class");
        string accuracy = total == 0 ? "no samples" : $"accuracy {((double)correct / total).ToString("0.0000", CultureInfo.InvariantCulture)} ({correct}/{total})";
        plot.Title($"Confusion matrix, {accuracy}");
        return new Figure([plot], columns: 1);
    }

    private static int ScoreColumns(Tensor t) => t.Rank == 2 && t.Shape[1] > 1 ? t.Shape[1] : 0;

    private static int[] ClassesOf(Tensor t, string name)
    {
        if (ScoreColumns(t) > 0) return [.. t.ArgMax(axis: -1).ToArray().Select(v => (int)v)];
        float[] values = t.ToArray();
        var classes = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]) || values[i] < 0 || values[i] != MathF.Round(values[i]))
                throw new ArgumentException($"Confusion matrix: expected {name} to hold class indices (0, 1, 2, …) or a row of scores per sample; element {i} is {values[i].ToString(CultureInfo.InvariantCulture)}.", name);
            classes[i] = (int)values[i];
        }
        return classes;
    }
}
