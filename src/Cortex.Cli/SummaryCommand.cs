using System.CommandLine;
using Cortex.Models;

namespace Cortex.Cli;

/// <summary><c>cortex summary --model M</c>: Keras's layer table for a saved model, how it was compiled, and for a
/// model trained on a table its task, label columns and class words.</summary>
internal static class SummaryCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = new Option<string>("--model") { Description = "The saved model (.cortex).", HelpName = "FILE", Required = true };
        var command = new Command("summary", "Print a saved model's layers, output shapes and parameter counts.") { model };
        command.SetAction(p => Run(p.GetValue(model)!, stdout));
        return command;
    }

    public static int Run(string modelPath, TextWriter stdout)
    {
        var model = Model.Load(modelPath);
        model.Summary(stdout.WriteLine);
        if (model.Optimizer != null && model.Loss != null)
            stdout.WriteLine($"Compiled with optimizer {model.Optimizer.GetType().Name}, loss {model.Loss.GetType().Name}" +
                (model.MetricNames.Count > 0 ? $", metrics {string.Join(", ", model.MetricNames)}." : "."));
        if (Target.Of(model, modelPath) is { } target)
            stdout.WriteLine($"Trained for {Target.TaskNames[(int)target.Task]} on {(target.Labels.Length == 1 ? "label" : "labels")} {string.Join(", ", target.Labels.Select(l => $"'{l}'"))}" +
                (target.ClassNames is { } names ? $"; classes {string.Join(", ", names.Select((n, k) => $"{n}={k}"))}." : "."));
        return Cli.Ok;
    }
}
