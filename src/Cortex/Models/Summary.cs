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

    /// <summary>One row of the summary: the layer, its output shape as printed, and for a graph the tensors it was
    /// called on (Keras's "Connected to": <c>dense[0][0]</c>, one per line), or null for a chain.</summary>
    private protected readonly record struct SummaryRow(Layer Layer, string OutputShape, IReadOnlyList<string>? ConnectedTo);

    /// <summary>The summary's rows: for a chain, each layer's output shape follows from the previous one's.</summary>
    private protected virtual IEnumerable<SummaryRow> SummaryRows()
    {
        int[]? shape = Built ? InputShape : null;
        foreach (var layer in layers)
        {
            string outShape = "?";
            if (shape != null)
            {
                shape = layer.ComputeOutputShape(shape);
                outShape = FormatShape(shape);
            }
            yield return new SummaryRow(layer, outShape, null);
        }
    }

    private List<string> SummaryLines()
    {
        const int c1 = 33, c2 = 24, c3 = 15, c4 = 24;
        var rows = (Subclassed ? SubclassSummaryRows() : SummaryRows()).ToList();
        bool graph = rows.Any(r => r.ConnectedTo != null);
        int[] widths = graph ? [c1, c2, c3, c4] : [c1, c2, c3];
        string Rule(char left, char line, char cross, char right) =>
            left + string.Join(cross, widths.Select(w => new string(line, w))) + right;
        var lines = new List<string> { $"Model: \"{Name}\"" };
        lines.Add(Rule('┏', '━', '┳', '┓'));
        lines.Add("┃ " + "Layer (type)".PadRight(c1 - 1) + "┃ " + "Output Shape".PadRight(c2 - 1) + "┃ " + "Param #".PadLeft(c3 - 2) + " ┃"
            + (graph ? " " + "Connected to".PadRight(c4 - 1) + "┃" : ""));
        lines.Add(Rule('┡', '━', '╇', '┩'));
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            string pars = row.Layer.Built ? row.Layer.CountParams().ToString("N0", CultureInfo.InvariantCulture) : "0 (unbuilt)";
            IReadOnlyList<string> links = row.ConnectedTo is { Count: > 0 } c ? c : ["-"];
            var shapes = Wrap(row.OutputShape, c2 - 2);
            for (int k = 0; k < Math.Max(graph ? links.Count : 1, shapes.Count); k++)
            {
                // Keras lists a merge layer's inputs one per line, the other cells blank below the first.
                string name = k == 0 ? $"{row.Layer.Name} ({row.Layer.GetType().Name})" : "";
                string line = "│ " + Cell(name, c1 - 1) + "│ " + Cell(k < shapes.Count ? shapes[k] : "", c2 - 1) + "│ " + (k == 0 ? pars : "").PadLeft(c3 - 2) + " │";
                if (graph) line += " " + Cell(k < links.Count ? links[k] + (k < links.Count - 1 ? "," : "") : "", c4 - 1) + "│";
                lines.Add(line);
            }
            lines.Add(i < rows.Count - 1 ? Rule('├', '─', '┼', '┤') : Rule('└', '─', '┴', '┘'));
        }
        if (rows.Count == 0) lines.Add(Rule('└', '─', '┴', '┘'));
        long trainable = layers.Sum(l => (long)l.TrainableWeights.Sum(w => w.Size));
        long nonTrainable = layers.Sum(l => (long)l.NonTrainableWeights.Sum(w => w.Size));
        lines.Add($" Total params: {Count(trainable + nonTrainable)}");
        lines.Add($" Trainable params: {Count(trainable)}");
        lines.Add($" Non-trainable params: {Count(nonTrainable)}");
        return lines;
    }

    /// <summary>A list of several outputs' shapes, <c>[(None, 5), (None, 5), (None, 5)]</c>, over as many lines as
    /// the column needs, broken between shapes as Keras wraps it; anything else as it is.</summary>
    private static List<string> Wrap(string shapes, int width)
    {
        if (!shapes.StartsWith('[') || shapes.Length <= width) return [shapes];
        string[] parts = shapes[1..^1].Split("), (");
        var lines = new List<string>();
        string line = "[";
        for (int i = 0; i < parts.Length; i++)
        {
            string piece = (i > 0 ? "(" : "") + parts[i] + (i < parts.Length - 1 ? ")," : "]");
            if (line.Length > 1 && line.Length + 1 + piece.Length > width)
            {
                lines.Add(line);
                line = "";
            }
            line += (line.Length > 1 ? " " : "") + piece;
        }
        lines.Add(line);
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
