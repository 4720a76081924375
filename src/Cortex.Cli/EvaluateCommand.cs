using System.CommandLine;
using Cortex.Models;

namespace Cortex.Cli;

/// <summary><c>cortex evaluate --model M --data D</c>: the loss and metrics of a saved model on labelled data (a model
/// trained on a table reads the labels as it was trained: class words through its saved mapping, numbers, 0/1). A loss
/// or metric that is NaN or infinite is not printed as a result: the command fails in one line that says why.</summary>
internal static class EvaluateCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = new Option<string>("--model") { Description = "The saved model (.cortex).", HelpName = "FILE", Required = true };
        var data = new Option<string>("--data") { Description = $"The data: {DataSources.Help}. Built-in data sets use their test split, a CSV file all its rows.", HelpName = "digits|fashion-mnist|PATH.csv", Required = true };
        var label = new Option<string?>("--label") { Description = "For CSV data: the label column(s); default: those the model was trained on.", HelpName = "COLUMN[,COLUMN…]" };
        var batchSize = new Option<int>("--batch-size") { Description = "Samples per batch.", HelpName = "N", DefaultValueFactory = _ => 256 };
        var command = new Command("evaluate", "Print a saved model's loss and accuracy on labelled data.") { model, data, label, batchSize };
        command.SetAction(p => Run(p.GetValue(model)!, p.GetValue(data)!, p.GetValue(label), p.GetValue(batchSize), stdout));
        return command;
    }

    public static int Run(string modelPath, string data, string? label, int batchSize, TextWriter stdout)
    {
        if (batchSize <= 0) throw new UsageException($"--batch-size: expected a positive number; received {batchSize}.");
        var model = Model.Load(modelPath);
        if (model.Loss == null)
            throw new UsageException($"the model '{modelPath}' was saved before Compile, so it has no loss to evaluate.");
        // A model trained on a table reads its labels as it was trained: its words, its columns, numbers or 0/1.
        // A classifier saved without metadata (by code, or an older cortex) reads one column of class indices the same way.
        var target = Target.Of(model, modelPath)
            ?? (label is { } l && !l.Contains(',') && File.Exists(data) && model.Built && model.OutputShape() is [_, int classes]
                ? new Target(TaskKind.Classification, [l], null, classes) : null);
        var (x, y, description) = target == null ? DataSources.LoadForEvaluation(data, label) : DataSources.LoadForEvaluation(data, label, target);
        DataSources.CheckFeatures(model, modelPath, x, $"--data {data}");
        var results = model.Evaluate(x, y, batchSize);
        // A NaN loss printed as a result would pass for one (exit 0); the loss comes first in the results.
        foreach (var (name, value) in results)
            if (!float.IsFinite(value))
                throw new UsageException($"the {name} of the model '{modelPath}' on --data {data} is {TrainCommand.Format(value)}: {PredictCommand.NonFiniteCause(model, "the data's values")}");
        stdout.WriteLine($"Evaluated {modelPath} on {description}");
        stdout.WriteLine($"loss: {TrainCommand.Format(results["loss"])}");
        foreach (var (name, value) in results.Where(kv => kv.Key != "loss").OrderBy(kv => kv.Key, StringComparer.Ordinal))
            stdout.WriteLine($"{name}: {TrainCommand.Format(value)}");
        return Cli.Ok;
    }
}
