using System.CommandLine;
using Cortex.Models;
using Cortex.Plots;

namespace Cortex.Cli;

/// <summary>
/// <c>cortex plot HISTORY.csv [-o IMAGE]</c>: the training curves of a history that <c>cortex train</c> (or Cortex's
/// CsvLogger) wrote, as PNG or SVG; and the images <c>cortex train</c> writes beside the model (<c>--plots</c>).
/// </summary>
internal static class PlotCommand
{
    /// <summary>The values of <c>cortex train --plots</c>.</summary>
    private static readonly string[] Formats = ["png", "svg", "none"];

    public static Command Create(TextWriter stdout)
    {
        var history = new Argument<string>("HISTORY.csv") { Description = "A training history: the NAME-history.csv that cortex train writes, or any CsvLogger file." };
        var output = new Option<string?>("--out", "-o") { Description = "The image to write, .png or .svg (default: beside the history, NAME-training.png for NAME-history.csv).", HelpName = "IMAGE" };
        var width = new Option<int>("--width") { Description = "Image width in pixels (default: 480 per column of panels).", HelpName = "PIXELS" };
        var height = new Option<int>("--height") { Description = "Image height in pixels (default: 360 per row of panels).", HelpName = "PIXELS" };
        var command = new Command("plot", "Draw the training curves of a history CSV (loss and each metric per epoch, training and validation) as PNG or SVG.")
        {
            history, output, width, height,
        };
        command.SetAction(p => Run(p.GetValue(history)!, p.GetValue(output), NonNegative("--width", p.GetValue(width)), NonNegative("--height", p.GetValue(height)), stdout));
        return command;
    }

    public static int Run(string historyPath, string? output, int width, int height, TextWriter stdout)
    {
        string image = output ?? DefaultImage(historyPath);
        CheckImagePath(output == null ? "the image" : "--out", image);
        History history = HistoryCsv.Read(historyPath);
        history.Plot(image, width, height);
        int epochs = history.Epochs.Count;
        stdout.WriteLine($"Wrote {image}: {string.Join(", ", TrainingCurves.Quantities(history))} over {epochs} epoch{(epochs == 1 ? "" : "s")}.");
        return Cli.Ok;
    }

    /// <summary>NAME-history.csv → NAME-training.png beside it; any other FILE.csv → FILE.png.</summary>
    internal static string DefaultImage(string historyPath)
    {
        string name = Path.GetFileNameWithoutExtension(historyPath);
        if (name.EndsWith("-history", StringComparison.Ordinal)) name = name[..^"-history".Length] + "-training";
        return Path.Combine(Path.GetDirectoryName(historyPath) ?? "", name + ".png");
    }

    /// <summary>The <c>--plots</c> option of <c>cortex train</c>.</summary>
    public static Option<string> TrainOption() => new("--plots")
    {
        Description = "Images written beside the model: NAME-training.png (loss and metrics per epoch) and NAME-confusion.png (test confusion matrix); svg for SVG files, none for no images.",
        HelpName = "png|svg|none",
        DefaultValueFactory = _ => "png",
    };

    /// <summary>Checks a <c>--plots</c> value before any training.</summary>
    public static string CheckFormat(string format) => Formats.Contains(format) ? format
        : throw new UsageException($"--plots: unknown format '{format}'; expected one of {string.Join(", ", Formats)}.");

    /// <summary>
    /// After <c>cortex train</c> saved the model: its training curves and test confusion matrix beside it, as
    /// <c>NAME-training.EXT</c> and <c>NAME-confusion.EXT</c> (the curves only for a regression or multilabel model,
    /// whose <paramref name="actual"/> and <paramref name="predicted"/> classes are null). A machine where SkiaSharp's native library cannot load
    /// gets a warning (in the command's output, the only writer it has), not a failed run: the model and its history
    /// are saved by then.
    /// </summary>
    public static void WriteTrainingPlots(string format, string modelPath, History history, IReadOnlyList<int>? actual,
        IReadOnlyList<int>? predicted, int classes, IReadOnlyList<string>? classNames, TextWriter stdout)
    {
        if (format == "none") return;
        string stem = Path.Combine(Path.GetDirectoryName(modelPath) ?? "", Path.GetFileNameWithoutExtension(modelPath));
        string curves = $"{stem}-training.{format}", confusion = $"{stem}-confusion.{format}";
        try
        {
            history.Plot(curves);
            if (actual != null && predicted != null) ConfusionMatrixPlot.Save(confusion, actual, predicted, classNames, classes);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or BadImageFormatException)
        {
            stdout.WriteLine($"Warning: the plots were not drawn: SkiaSharp's native library did not load ({e.GetType().Name}); the model and its history are saved. Use --plots none to skip them.");
            return;
        }
        stdout.WriteLine(actual != null ? $"Plotted the training curves in {curves} and the confusion matrix in {confusion}." : $"Plotted the training curves in {curves}.");
    }

    private static void CheckImagePath(string what, string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".png" or ".svg"))
            throw new UsageException($"{what}: expected a file name ending in .png or .svg; received '{path}'.");
        if (Directory.Exists(path)) throw new UsageException($"{what}: cannot write '{path}': it is a directory.");
    }

    private static int NonNegative(string option, int value) => value >= 0 ? value
        : throw new UsageException($"{option}: expected a number of pixels (0 for the default); received {value}.");
}
