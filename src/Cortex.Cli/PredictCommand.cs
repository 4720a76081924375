using System.CommandLine;
using Cortex.Models;

namespace Cortex.Cli;

/// <summary>
/// <c>cortex predict --model M --input FILE.csv</c>: for each row, printed as CSV, the predicted class and the class
/// probabilities (the softmax of the model's logits): <c>row,class,p0,p1,…</c>, or with classes that are words
/// <c>row,class,p_setosa,…</c> and the word; for a regression <c>row,LABEL</c> and the value; for a multilabel
/// model <c>row,A,B,p_A,p_B</c>: the 0/1 set, then each label's probability.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = new Option<string>("--model") { Description = "The saved model (.cortex).", HelpName = "FILE", Required = true };
        var input = new Option<string>("--input") { Description = "A CSV file with a header and one numeric column per feature, in the order the model was trained on.", HelpName = "FILE.csv", Required = true };
        var label = new Option<string?>("--label") { Description = "Columns of the input to ignore, comma-separated, such as the labels of a test file.", HelpName = "COLUMN[,COLUMN…]" };
        var command = new Command("predict", "Print the predicted class and class probabilities (or values, or 0/1 labels) for each row of a CSV file.") { model, input, label };
        command.SetAction(p => Run(p.GetValue(model)!, p.GetValue(input)!, p.GetValue(label), stdout));
        return command;
    }

    public static int Run(string modelPath, string inputPath, string? label, TextWriter stdout)
    {
        var model = Model.Load(modelPath);
        var target = Target.Of(model, modelPath);
        // An input that still holds the label columns the model was trained on (a test file) gets a hint, before
        // their words or 0/1 sets are read as features.
        void CheckHeader(string[] header)
        {
            if (label != null || target == null || !target.Labels.All(header.Contains) || model.InputShape is not [_, int expected]) return;
            if (header.Length == expected + target.Labels.Length)
                throw new UsageException($"the model '{modelPath}' expects {expected} features per sample but --input '{inputPath}' has {header.Length} columns ({string.Join(", ", header)}), " +
                    $"among them the label column(s) it was trained on: pass --label {target.LabelOption} to leave them out.");
        }
        var (x, columns) = FeatureCsv.Load(inputPath, label == null ? [] : Target.SplitLabels(label), CheckHeader);
        DataSources.CheckFeatures(model, modelPath, x, $"--input '{inputPath}'",
            label != null ? $" (columns besides '{label}': {string.Join(", ", columns)})" : $" (columns: {string.Join(", ", columns)}; --label COLUMN leaves one out)");
        Tensor outputs = model.Predict(x, batchSize: 256);
        CheckFinite(model, modelPath, outputs, inputPath);
        int k = outputs.Shape[^1];
        float[] o = outputs.ToArray();
        IEnumerable<float> Row(int i) => o.AsSpan(i * k, k).ToArray();
        switch (target?.Task)
        {
            case TaskKind.Regression:
                stdout.WriteLine("row," + string.Join(',', target.Labels.Select(CsvTable.Quote)));
                for (int i = 0; i < x.Shape[0]; i++) stdout.WriteLine($"{i + 1}," + string.Join(',', Row(i).Select(TrainCommand.Format)));
                return Cli.Ok;
            case TaskKind.Multilabel:
                // The 0/1 set (each sigmoid at 0.5 or more), then each label's probability.
                stdout.WriteLine("row," + string.Join(',', target.Labels.Select(CsvTable.Quote)) + "," + string.Join(',', target.Labels.Select(l => CsvTable.Quote("p_" + l))));
                for (int i = 0; i < x.Shape[0]; i++)
                    stdout.WriteLine($"{i + 1}," + string.Join(',', Row(i).Select(p => p >= 0.5f ? "1" : "0")) + "," + string.Join(',', Row(i).Select(TrainCommand.Format)));
                return Cli.Ok;
        }
        Tensor probabilities = OutputsProbabilities(model) ? outputs : NN.Softmax(outputs);
        int[] classes = TrainCommand.Classes(probabilities);
        float[] p = probabilities.ToArray();
        // Classes that are words print as their words, their probabilities as p_WORD.
        string Name(int c) => CsvTable.Quote(target?.ClassNames != null ? target.ClassName(c) : c.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string Column(int c) => target?.ClassNames != null ? CsvTable.Quote("p_" + target.ClassName(c)) : $"p{c}";
        stdout.WriteLine("row,class," + string.Join(',', Enumerable.Range(0, k).Select(Column)));
        for (int i = 0; i < classes.Length; i++)
            stdout.WriteLine($"{i + 1},{Name(classes[i])}," + string.Join(',', p.AsSpan(i * k, k).ToArray().Select(TrainCommand.Format)));
        return Cli.Ok;
    }

    /// <summary>
    /// Refuses outputs that are NaN or infinite, naming the first row (numbered as printed, from 1): printed, they
    /// would read as class 0 with NaN probabilities. The cause is said: weights broken by a training run that
    /// diverged, or inputs far outside what the model was trained on.
    /// </summary>
    private static void CheckFinite(Model model, string modelPath, Tensor outputs, string inputPath)
    {
        ReadOnlySpan<float> o = outputs.AsSpan();
        int perRow = Math.Max(1, outputs.Size / Math.Max(1, outputs.Shape[0]));
        for (int i = 0; i < o.Length; i++)
        {
            if (float.IsFinite(o[i])) continue;
            throw new UsageException($"the model '{modelPath}' outputs {(float.IsNaN(o[i]) ? "NaN" : "infinity")} for row {i / perRow + 1} of --input '{inputPath}': {NonFiniteCause(model, "that row's values")}");
        }
    }

    /// <summary>Why a model gives NaN or infinity: weights broken by a training run that diverged (named), or else
    /// <paramref name="inputs"/> far outside what it was trained on.</summary>
    internal static string NonFiniteCause(Model model, string inputs) => TrainCommand.NonFiniteWeight(model) is { } w
        ? $"its weights are not finite ('{w.Name}'; saved from a training run that diverged?)"
        : $"are {inputs} in the range the model was trained on?";

    // The CLI's models end in logits (fromLogits: true); a model built elsewhere may end in a softmax already.
    private static bool OutputsProbabilities(Model model) =>
        model.Layers[^1] is Layers.Dense { Activation.Name: "softmax" } or Layers.Activation { Function.Name: "softmax" }
        || model.Loss is Losses.SparseCategoricalCrossentropy { FromLogits: false } or Losses.CategoricalCrossentropy { FromLogits: false };
}
