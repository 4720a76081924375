using Cortex.Data;

namespace Cortex.Cli;

/// <summary>A data set as the CLI trains on it: the four arrays, the class count and where it came from.</summary>
/// <param name="Name">A short name for output files: <c>digits</c>, <c>fashion-mnist</c> or the CSV file's stem.</param>
/// <param name="Description">One line for the user: what was loaded and how it was split.</param>
/// <param name="Data">Training and test arrays; features are raw (a CSV model standardises with a Normalization layer).</param>
/// <param name="Classes">The number of classes the output layer produces.</param>
/// <param name="ClassNames">Names of the classes by index, when the data set has them.</param>
/// <param name="IsCsv">Whether the data came from a CSV file, whose features need standardising.</param>
/// <param name="Target">For a CSV file, what its label columns hold (saved with the model); null for the built-in data.</param>
/// <param name="TaskLine">For a CSV file, the line that says which task was chosen and why.</param>
internal sealed record TrainingData(string Name, string Description, Dataset Data, int Classes, IReadOnlyList<string>? ClassNames, bool IsCsv,
    Target? Target = null, string? TaskLine = null)
{
    /// <summary>The task: a CSV file's, or classification for the built-in images.</summary>
    public TaskKind Task => Target?.Task ?? TaskKind.Classification;
}

/// <summary>
/// Resolves <c>--data</c>: <c>digits</c> (shipped inside Cortex), <c>fashion-mnist</c> (Debian's
/// dataset-fashion-mnist) or the path of a CSV file with a header and a numeric label column named by <c>--label</c>.
/// </summary>
internal static class DataSources
{
    public const string Digits = "digits";
    public const string FashionMnist = "fashion-mnist";
    public const string Help = "digits, fashion-mnist, or the path of a CSV file with a header (then --label names its label column or columns)";

    private const int ImageClasses = 10;

    /// <summary>
    /// Loads data for training: the built-in splits, or a CSV file split 80/20 with <paramref name="seed"/>, its
    /// <paramref name="label"/> columns (comma-separated) read for <paramref name="task"/> (null: inferred from them).
    /// </summary>
    public static TrainingData LoadForTraining(string data, string? label, int seed, TaskKind? task = null)
    {
        if (task != null && Resolve(data, label) is Digits or FashionMnist)
            throw new UsageException($"--task applies to CSV data only; --data {data} is a classification of images.");
        switch (Resolve(data, label))
        {
            case Digits:
                return Images(Digits, Datasets.Digits.Load(), null);
            case FashionMnist:
                return Images(FashionMnist, Datasets.FashionMnist.Load(), Datasets.FashionMnist.ClassNames);
            default:
                var table = CsvTable.Read(data, "--data");
                int[] labels = table.Columns(Target.SplitLabels(label!), "--label");
                int[] features = [.. Enumerable.Range(0, table.Header.Length).Where(j => !labels.Contains(j))];
                if (features.Length == 0) throw new UsageException($"--data '{data}' has no feature columns besides --label {label}.");
                Tensor x = table.Numbers(features);
                int rows = table.Rows.Count;
                if (rows < 2)
                    throw new UsageException($"--data '{data}' has {rows} data row; expected at least 2 to split into training and test rows.");
                var (target, y, reason) = Target.Infer(table, labels, task);
                var split = DataUtils.TrainTestSplit(x, y, testSize: 0.2, seed: seed);
                string name = Path.GetFileNameWithoutExtension(data);
                string what = target.Task switch
                {
                    TaskKind.Classification => $"label '{label}' with {target.Classes} classes",
                    TaskKind.Regression => $"{(labels.Length == 1 ? "label" : "labels")} {Quoted(target.Labels)} to predict",
                    _ => $"labels {Quoted(target.Labels)} of 0 or 1",
                };
                return new TrainingData(name,
                    $"{data}: {rows} rows, {features.Length} features, {what}; " +
                    $"split {split.TrainX.Shape[0]} for training and {split.TestX.Shape[0]} for testing (seed {seed})",
                    split, target.Outputs, target.ClassNames, IsCsv: true, target, reason);
        }
    }

    private static string Quoted(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

    /// <summary>
    /// Loads a CSV file to evaluate a model trained by <c>cortex train</c> on a table: the features are every column
    /// but the label columns (<paramref name="label"/>, by default those the model was trained on), and the labels
    /// are read as the model's <paramref name="target"/> reads them (its words, its classes, numbers or 0/1).
    /// </summary>
    public static (Tensor X, Tensor Y, string Description) LoadForEvaluation(string data, string? label, Target target)
    {
        if (data.Trim().ToLowerInvariant() is Digits or FashionMnist && !File.Exists(data))
            throw new UsageException($"--data {data}: the model was trained on a table (label {Quoted(target.Labels)}); expected a CSV file.");
        label ??= target.LabelOption;
        Resolve(data, label);
        var table = CsvTable.Read(data, "--data");
        int[] labels = table.Columns(Target.SplitLabels(label), "--label");
        int[] features = [.. Enumerable.Range(0, table.Header.Length).Where(j => !labels.Contains(j))];
        Tensor x = table.Numbers(features);
        return (x, target.Encode(table, labels), $"{data}: {table.Rows.Count} rows, {(labels.Length == 1 ? "label" : "labels")} {Quoted(labels.Select(j => table.Header[j]))}");
    }

    /// <summary>Loads data to evaluate a model on: the test split of a built-in data set, or every row of a CSV file.</summary>
    public static (Tensor X, Tensor Y, string Description) LoadForEvaluation(string data, string? label)
    {
        switch (Resolve(data, label))
        {
            case Digits:
                var digits = Datasets.Digits.Load();
                return (digits.TestX, digits.TestY, $"digits: {digits.TestX.Shape[0]} test samples");
            case FashionMnist:
                var fashion = Datasets.FashionMnist.Load();
                return (fashion.TestX, fashion.TestY, $"fashion-mnist: {fashion.TestX.Shape[0]} test samples");
            default:
                var csv = Csv.Load(data, label!);
                CheckClassLabels(csv.Labels, data, label!);
                return (csv.Features, csv.Labels, $"{data}: {csv.Features.Shape[0]} rows, label '{label}'");
        }
    }

    /// <summary>Checks that the model takes <paramref name="x"/>'s features, with a message that says which to fix.</summary>
    public static void CheckFeatures(Cortex.Models.Model model, string modelPath, Tensor x, string source, string hint = "")
    {
        int[]? input = model.InputShape;
        if (input == null || input.Length != 2) return; // not a flat-feature model: let the library check the shape
        int expected = input[^1], received = x.Shape[^1];
        if (x.Rank != 2 || expected != received)
            throw new UsageException($"the model '{modelPath}' expects {expected} features per sample but {source} has {received}.{hint}");
    }

    private static TrainingData Images(string name, Dataset d, IReadOnlyList<string>? classNames) =>
        new(name, $"{name}: {d.TrainX.Shape[0]} training and {d.TestX.Shape[0]} test images of {d.TrainX.Shape[1]} pixels, {ImageClasses} classes",
            d, ImageClasses, classNames, IsCsv: false);

    /// <summary>Returns <see cref="Digits"/>, <see cref="FashionMnist"/>, or the CSV path after checking it and --label.</summary>
    private static string Resolve(string data, string? label)
    {
        string key = data.Trim().ToLowerInvariant();
        if (key is Digits or FashionMnist && !File.Exists(data))
        {
            if (label != null) throw new UsageException($"--label applies to CSV data only; --data {key} has its own labels.");
            return key;
        }
        bool looksLikeCsv = data.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
        if (!File.Exists(data))
            throw looksLikeCsv || data.Contains('/') || data.Contains('\\')
                ? new UsageException($"--data: there is no file '{data}'.")
                : new UsageException($"--data: unknown data set '{data}'; expected {Help}.");
        if (label == null)
            throw new UsageException($"--data '{data}' is a CSV file: pass --label COLUMN to name its label column (or --label A,B,C for several 0/1 or numeric columns).");
        return data;
    }

    /// <summary>Labels must be class indices 0, 1, 2, …; returns the class count, the largest label plus one.</summary>
    private static int CheckClassLabels(Tensor labels, string path, string label)
    {
        float max = 0;
        ReadOnlySpan<float> y = labels.AsSpan();
        for (int i = 0; i < y.Length; i++)
        {
            float v = y[i];
            if (v < 0 || v != MathF.Floor(v) || v > 1_000_000)
                throw new UsageException($"'{path}' column '{label}': expected class indices 0, 1, 2, … but data row {i + 1} has {v.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
            max = Math.Max(max, v);
        }
        int classes = (int)max + 1;
        if (classes < 2)
            throw new UsageException($"'{path}' column '{label}' holds only class 0; expected at least two classes.");
        return classes;
    }
}
