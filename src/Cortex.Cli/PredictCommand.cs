using System.CommandLine;
using Cortex.Models;

namespace Cortex.Cli;

/// <summary>
/// <c>cortex predict --model M --input FILE.csv</c>: for each row, the predicted class and the class probabilities
/// (the softmax of the model's logits), printed as CSV: <c>row,class,p0,p1,…</c>.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = new Option<string>("--model") { Description = "The saved model (.cortex).", HelpName = "FILE", Required = true };
        var input = new Option<string>("--input") { Description = "A CSV file with a header and one numeric column per feature, in the order the model was trained on.", HelpName = "FILE.csv", Required = true };
        var label = new Option<string?>("--label") { Description = "A column of the input to ignore, such as the label of a test file.", HelpName = "COLUMN" };
        var command = new Command("predict", "Print the predicted class and class probabilities for each row of a CSV file.") { model, input, label };
        command.SetAction(p => Run(p.GetValue(model)!, p.GetValue(input)!, p.GetValue(label), stdout));
        return command;
    }

    public static int Run(string modelPath, string inputPath, string? label, TextWriter stdout)
    {
        var model = Model.Load(modelPath);
        var (x, columns) = FeatureCsv.Load(inputPath, label);
        DataSources.CheckFeatures(model, modelPath, x, $"--input '{inputPath}'",
            label != null ? $" (columns besides '{label}': {string.Join(", ", columns)})" : $" (columns: {string.Join(", ", columns)}; --label COLUMN leaves one out)");
        Tensor outputs = model.Predict(x, batchSize: 256);
        CheckFinite(model, modelPath, outputs, inputPath);
        Tensor probabilities = OutputsProbabilities(model) ? outputs : NN.Softmax(outputs);
        int[] classes = TrainCommand.Classes(probabilities);
        int k = probabilities.Shape[^1];
        float[] p = probabilities.ToArray();
        stdout.WriteLine("row,class," + string.Join(',', Enumerable.Range(0, k).Select(c => $"p{c}")));
        for (int i = 0; i < classes.Length; i++)
            stdout.WriteLine($"{i + 1},{classes[i]}," + string.Join(',', p.AsSpan(i * k, k).ToArray().Select(TrainCommand.Format)));
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
