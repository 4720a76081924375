using Cortex.Data;

namespace Cortex.Cli;

/// <summary>A data set as the CLI trains on it: the four arrays, the class count and where it came from.</summary>
/// <param name="Name">A short name for output files: <c>digits</c>, <c>fashion-mnist</c> or the CSV file's stem.</param>
/// <param name="Description">One line for the user: what was loaded and how it was split.</param>
/// <param name="Data">Training and test arrays; features are raw (a CSV model standardises with a Normalization layer).</param>
/// <param name="Classes">The number of classes the output layer produces.</param>
/// <param name="ClassNames">Names of the classes by index, when the data set has them.</param>
/// <param name="IsCsv">Whether the data came from a CSV file, whose features need standardising.</param>
internal sealed record TrainingData(string Name, string Description, Dataset Data, int Classes, IReadOnlyList<string>? ClassNames, bool IsCsv);

/// <summary>
/// Resolves <c>--data</c>: <c>digits</c> (shipped inside Cortex), <c>fashion-mnist</c> (Debian's
/// dataset-fashion-mnist) or the path of a CSV file with a header and a numeric label column named by <c>--label</c>.
/// </summary>
internal static class DataSources
{
    public const string Digits = "digits";
    public const string FashionMnist = "fashion-mnist";
    public const string Help = "digits, fashion-mnist, or the path of a CSV file with a header (then --label names its class column)";

    private const int ImageClasses = 10;

    /// <summary>Loads data for training: the built-in splits, or a CSV file split 80/20 with <paramref name="seed"/>.</summary>
    public static TrainingData LoadForTraining(string data, string? label, int seed)
    {
        switch (Resolve(data, label))
        {
            case Digits:
                return Images(Digits, Datasets.Digits.Load(), null);
            case FashionMnist:
                return Images(FashionMnist, Datasets.FashionMnist.Load(), Datasets.FashionMnist.ClassNames);
            default:
                var csv = Csv.Load(data, label!);
                int classes = CheckClassLabels(csv.Labels, data, label!);
                int rows = csv.Features.Shape[0];
                if (rows < 2)
                    throw new UsageException($"--data '{data}' has {rows} data row; expected at least 2 to split into training and test rows.");
                var split = DataUtils.TrainTestSplit(csv.Features, csv.Labels, testSize: 0.2, seed: seed);
                string name = Path.GetFileNameWithoutExtension(data);
                return new TrainingData(name,
                    $"{data}: {rows} rows, {csv.FeatureNames.Count} features, label '{label}' with {classes} classes; " +
                    $"split {split.TrainX.Shape[0]} for training and {split.TestX.Shape[0]} for testing (seed {seed})",
                    split, classes, null, IsCsv: true);
        }
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
            throw new UsageException($"--data '{data}' is a CSV file: pass --label COLUMN to name its class column.");
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
