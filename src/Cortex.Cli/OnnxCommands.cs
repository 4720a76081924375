using System.CommandLine;
using Cortex.Models;
using Cortex.Onnx;

namespace Cortex.Cli;

/// <summary><c>cortex export MODEL.cortex MODEL.onnx</c> and <c>cortex import MODEL.onnx MODEL.cortex</c>: a saved model
/// to ONNX (for ONNX Runtime and other consumers) and an ONNX model (e.g. from torch.onnx.export) to Cortex.</summary>
internal static class OnnxCommands
{
    public static Command Export(TextWriter stdout)
    {
        var from = new Argument<string>("MODEL.cortex") { Description = "The saved Cortex model." };
        var to = new Argument<string>("MODEL.onnx") { Description = "The ONNX file to write." };
        var command = new Command("export", "Write a saved model as ONNX (opset 17, dynamic batch, Cortex's channels-last layout).") { from, to };
        command.SetAction(p =>
        {
            string target = p.GetValue(to)!;
            var model = Model.Load(p.GetValue(from)!);
            OnnxExporter.Save(model, target);
            stdout.WriteLine($"Wrote {target}: input 'input' {Shape(model.InputShape!)}, output 'output' {Shape(model.OutputShape())}.");
            return Cli.Ok;
        });
        return command;
    }

    public static Command Import(TextWriter stdout)
    {
        var from = new Argument<string>("MODEL.onnx") { Description = "The ONNX model (a chain of layers, as torch.onnx.export writes one, or a graph with branches)." };
        var to = new Argument<string>("MODEL.cortex") { Description = "The Cortex model file to write." };
        var command = new Command("import", "Read an ONNX model into a Cortex model and save it (then summary, evaluate, predict, or train it further).") { from, to };
        command.SetAction(p =>
        {
            string target = p.GetValue(to)!;
            var model = OnnxImporter.LoadModel(p.GetValue(from)!);
            model.Save(target);
            model.Summary(stdout.WriteLine);
            stdout.WriteLine($"Wrote {target}.");
            return Cli.Ok;
        });
        return command;
    }

    private static string Shape(int[] shape) => "(" + string.Join(", ", shape.Select(d => d < 0 ? "None" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + ")";
}
