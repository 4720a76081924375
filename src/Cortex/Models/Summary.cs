using System.Globalization;
using System.Text;
using Cortex.Layers;

namespace Cortex.Models;

public abstract partial class Model
{
    /// <summary>
    /// Prints Keras's summary table: each layer's name and type, output shape and parameter count, then the totals.
    /// </summary>
    /// <param name="print">Where each line goes (default: the console).</param>
    public void Summary(Action<string>? print = null)
    {
        print ??= Console.WriteLine;
        foreach (var line in SummaryLines()) print(line);
    }

    /// <summary>The summary as one string.</summary>
    public string SummaryString() => string.Join(Environment.NewLine, SummaryLines());

    private List<string> SummaryLines()
    {
        const int c1 = 33, c2 = 24, c3 = 15;
        var rows = new List<(string, string, string)>();
        int[]? shape = Built ? InputShape : null;
        foreach (var layer in layers)
        {
            string outShape = "?";
            if (shape != null)
            {
                shape = layer.ComputeOutputShape(shape);
                outShape = FormatShape(shape);
            }
            string pars = layer.Built ? layer.CountParams().ToString("N0", CultureInfo.InvariantCulture) : "0 (unbuilt)";
            rows.Add(($"{layer.Name} ({layer.GetType().Name})", outShape, pars));
        }
        var lines = new List<string> { $"Model: \"{Name}\"" };
        lines.Add("┏" + new string('━', c1) + "┳" + new string('━', c2) + "┳" + new string('━', c3) + "┓");
        lines.Add("┃ " + "Layer (type)".PadRight(c1 - 1) + "┃ " + "Output Shape".PadRight(c2 - 1) + "┃ " + "Param #".PadLeft(c3 - 2) + " ┃");
        lines.Add("┡" + new string('━', c1) + "╇" + new string('━', c2) + "╇" + new string('━', c3) + "┩");
        for (int i = 0; i < rows.Count; i++)
        {
            var (a, b, c) = rows[i];
            lines.Add("│ " + Cell(a, c1 - 1) + "│ " + Cell(b, c2 - 1) + "│ " + c.PadLeft(c3 - 2) + " │");
            lines.Add(i < rows.Count - 1
                ? "├" + new string('─', c1) + "┼" + new string('─', c2) + "┼" + new string('─', c3) + "┤"
                : "└" + new string('─', c1) + "┴" + new string('─', c2) + "┴" + new string('─', c3) + "┘");
        }
        if (rows.Count == 0) lines.Add("└" + new string('─', c1) + "┴" + new string('─', c2) + "┴" + new string('─', c3) + "┘");
        long trainable = layers.Sum(l => (long)l.TrainableWeights.Sum(w => w.Size));
        long nonTrainable = layers.Sum(l => (long)l.NonTrainableWeights.Sum(w => w.Size));
        lines.Add($" Total params: {Count(trainable + nonTrainable)}");
        lines.Add($" Trainable params: {Count(trainable)}");
        lines.Add($" Non-trainable params: {Count(nonTrainable)}");
        return lines;
    }

    private static string Cell(string s, int width) => s.Length >= width ? s[..(width - 1)] + " " : s.PadRight(width);

    /// <summary>Keras prints the batch axis as None: <c>(None, 25)</c>.</summary>
    internal static string FormatShape(int[] shape) =>
        "(" + string.Join(", ", shape.Select(d => d < 0 ? "None" : d.ToString(CultureInfo.InvariantCulture))) + (shape.Length == 1 ? ",)" : ")");

    /// <summary>"20,175 (78.81 KB)": the count and its float32 size, as Keras prints it.</summary>
    private static string Count(long n)
    {
        double bytes = n * 4.0;
        var inv = CultureInfo.InvariantCulture;
        string size = bytes >= 1024 * 1024 ? (bytes / (1024 * 1024)).ToString("0.00", inv) + " MB"
            : bytes >= 1024 ? (bytes / 1024).ToString("0.00", inv) + " KB" : bytes.ToString("0.00", inv) + " B";
        return $"{n.ToString("N0", inv)} ({size})";
    }
}
