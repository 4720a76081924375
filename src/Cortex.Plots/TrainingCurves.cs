using Cortex.Models;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Cortex.Plots;

/// <summary>
/// Training curves of a <see cref="History"/>: one panel per quantity (<c>loss</c>, then each metric), its value
/// after each epoch on the training data and, where it was recorded, on the validation data (<c>val_</c> keys).
/// </summary>
/// <example>
/// <code>
/// using Cortex.Plots;
///
/// History history = model.Fit(x, y, epochs: 20, validationSplit: 0.1f);
/// history.Plot("training.png");          // or "training.svg"
/// HistoryCsv.Read("digits-history.csv").Plot("training.svg");
/// </code>
/// </example>
public static class TrainingCurves
{
    /// <summary>Width of one panel when no size is given, in pixels.</summary>
    public const int PanelWidth = 480;

    /// <summary>Height of one row of panels when no size is given, in pixels.</summary>
    public const int PanelHeight = 360;

    // matplotlib's first two colours, which Keras users know from their own history plots.
    private static readonly Color TrainingColor = Color.FromHex("#1f77b4");
    private static readonly Color ValidationColor = Color.FromHex("#ff7f0e");

    /// <summary>
    /// Saves the training curves of <paramref name="history"/> to <paramref name="path"/>, as PNG or SVG by its
    /// extension: one panel per quantity (loss first, then each metric), two side by side per row, with epochs
    /// numbered from 1 as Keras prints them. Values that are NaN or infinite (a diverged run) are left out.
    /// </summary>
    /// <param name="history">What <c>Model.Fit</c> returned, or <see cref="HistoryCsv.Read"/> read.</param>
    /// <param name="path">The image file, ending in <c>.png</c> or <c>.svg</c>; its folder is created if missing.</param>
    /// <param name="width">Image width in pixels; 0 for <see cref="PanelWidth"/> per column.</param>
    /// <param name="height">Image height in pixels; 0 for <see cref="PanelHeight"/> per row.</param>
    /// <exception cref="ArgumentException">The extension is not .png or .svg, or the history recorded no epoch.</exception>
    public static void Plot(this History history, string path, int width = 0, int height = 0)
    {
        ArgumentNullException.ThrowIfNull(history);
        Figure.FormatOf(path);
        Figure figure = Build(history);
        figure.Save(path, width > 0 ? width : PanelWidth * figure.Columns, height > 0 ? height : PanelHeight * figure.Rows);
    }

    /// <summary>
    /// The quantities <see cref="Plot"/> draws, one panel each, in order: <c>loss</c> first, then the others as
    /// recorded. A <c>val_x</c> key belongs to the quantity <c>x</c>, which gets a panel even if only its validation
    /// values were recorded.
    /// </summary>
    /// <param name="history">A training history.</param>
    public static IReadOnlyList<string> Quantities(History history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var names = new List<string>();
        foreach (string key in history.Values.Keys)
        {
            string name = key.StartsWith("val_", StringComparison.Ordinal) ? key[4..] : key;
            if (!names.Contains(name)) names.Add(name);
        }
        if (names.Remove("loss")) names.Insert(0, "loss");
        return names;
    }

    /// <summary>The figure for <paramref name="history"/>, its panels in the order of <see cref="Quantities"/>.</summary>
    internal static Figure Build(History history)
    {
        IReadOnlyList<string> quantities = Quantities(history);
        if (history.Epochs.Count == 0 || quantities.Count == 0)
            throw new ArgumentException("Cannot plot the history: it recorded no epoch.", nameof(history));
        double[] epochs = [.. history.Epochs.Select(e => e + 1.0)];
        var panels = new List<Plot>();
        foreach (string quantity in quantities)
        {
            var plot = new Plot();
            bool any = AddCurve(plot, epochs, history.Values.GetValueOrDefault(quantity), "training", TrainingColor);
            any |= AddCurve(plot, epochs, history.Values.GetValueOrDefault("val_" + quantity), "validation", ValidationColor);
            plot.Title(quantity);
            plot.XLabel("epoch");
            plot.YLabel(quantity);
            plot.Axes.Bottom.TickGenerator = new NumericAutomatic { IntegerTicksOnly = true };
            // Out of the curves' way: top right for a quantity that falls (loss), bottom right for one that rises (accuracy).
            List<float>? first = history.Values.GetValueOrDefault(quantity) ?? history.Values.GetValueOrDefault("val_" + quantity);
            var finite = first?.Where(float.IsFinite).ToList();
            bool rises = finite is { Count: > 1 } && finite[^1] > finite[0];
            plot.ShowLegend(rises ? Alignment.LowerRight : Alignment.UpperRight);
            if (!any) plot.Axes.SetLimitsY(0, 1); // every value was NaN: an empty panel with a sane axis
            // A single epoch would give a zero-width x range; keep the first epoch in view either way.
            if (epochs.Length == 1) plot.Axes.SetLimitsX(0.5, 1.5);
            panels.Add(plot);
        }
        return new Figure(panels, columns: 2);
    }

    /// <summary>Adds one line with markers of the finite values; returns whether there were any.</summary>
    private static bool AddCurve(Plot plot, double[] epochs, List<float>? values, string label, Color color)
    {
        if (values == null) return false;
        var xs = new List<double>();
        var ys = new List<double>();
        for (int i = 0; i < Math.Min(values.Count, epochs.Length); i++)
        {
            if (!float.IsFinite(values[i])) continue;
            xs.Add(epochs[i]);
            ys.Add(values[i]);
        }
        if (xs.Count == 0) return false;
        var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray(), color);
        line.LegendText = label;
        line.LineWidth = 2;
        line.MarkerSize = xs.Count <= 50 ? 5 : 0;
        return true;
    }
}
