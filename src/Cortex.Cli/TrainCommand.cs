using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Cortex.Activations;
using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Cli;

/// <summary>
/// <c>cortex train</c>: builds a dense classifier (or, with <c>--model cnn</c>, a small convolutional one), trains it with Keras's progress output, reports test accuracy, loss
/// and the confusion matrix, and saves the model and its history. With no options it is the course notes' digit model:
/// Dense 25 relu → Dense 15 relu → Dense 10 linear, Adam 1e-3, sparse cross-entropy from logits, 20 epochs.
/// </summary>
internal static class TrainCommand
{
    internal sealed record Settings(string Data, string? Label, int[] Hidden, ActivationFunction Activation, int Epochs,
        int BatchSize, string Optimizer, float? LearningRate, int Seed, float ValidationSplit, string Out, string Model = "mlp");

    private static readonly string[] Optimizers = ["adam", "sgd", "rmsprop"];
    private static readonly string[] Models = ["mlp", "cnn"];

    public static Command Create(TextWriter stdout)
    {
        var data = new Option<string>("--data") { Description = $"The data to train on: {DataSources.Help}.", HelpName = "digits|fashion-mnist|PATH.csv", DefaultValueFactory = _ => DataSources.Digits };
        var label = new Option<string?>("--label") { Description = "For CSV data: the column holding the class index (0, 1, 2, …).", HelpName = "COLUMN" };
        var layers = new Option<string>("--layers") { Description = "Hidden layer sizes, comma-separated.", HelpName = "N,N,…", DefaultValueFactory = _ => "25,15" };
        var activation = new Option<string>("--activation") { Description = $"Activation of the hidden layers: {string.Join(", ", ActivationFunction.Names)}.", HelpName = "NAME", DefaultValueFactory = _ => "relu" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training data.", HelpName = "N", DefaultValueFactory = _ => 20 };
        var batchSize = new Option<int>("--batch-size") { Description = "Samples per gradient step.", HelpName = "N", DefaultValueFactory = _ => 32 };
        var optimizer = new Option<string>("--optimizer") { Description = $"The optimizer: {string.Join(", ", Optimizers)}.", HelpName = "NAME", DefaultValueFactory = _ => "adam" };
        var lr = new Option<float?>("--lr") { Description = "Learning rate (default: the optimizer's Keras default, 0.001 for adam and rmsprop, 0.01 for sgd).", HelpName = "RATE" };
        var seed = new Option<int>("--seed") { Description = "Seeds weight initialisation, shuffling and the CSV train/test split.", HelpName = "N", DefaultValueFactory = _ => 42 };
        var validationSplit = new Option<float>("--validation-split") { Description = "Fraction of the training rows (the last ones) held out to report val_loss and val_accuracy each epoch.", HelpName = "FRACTION", DefaultValueFactory = _ => 0f };
        var modelKind = new Option<string>("--model") { Description = "The network: mlp (dense layers from --layers and --activation) or cnn (Conv2D 32 → MaxPooling2D → Conv2D 64 → MaxPooling2D → Dropout 0.5 → Dense, for the 28×28 image data sets).", HelpName = "mlp|cnn", DefaultValueFactory = _ => "mlp" };
        var output = new Option<string>("--out") { Description = "Directory for NAME.cortex and NAME-history.csv (created if missing).", HelpName = "DIR", DefaultValueFactory = _ => "." };

        var command = new Command("train", "Train a dense classifier (by default the course notes' digit model) and save it.")
        {
            data, label, layers, activation, epochs, batchSize, optimizer, lr, seed, validationSplit, output, modelKind,
        };
        command.SetAction(p => Run(new Settings(
            p.GetValue(data)!, p.GetValue(label), ParseLayers(p.GetValue(layers)!), ParseActivation(p.GetValue(activation)!),
            Positive("--epochs", p.GetValue(epochs)), Positive("--batch-size", p.GetValue(batchSize)),
            CheckOptimizer(p.GetValue(optimizer)!), CheckLearningRate(p.GetValue(lr)), p.GetValue(seed),
            CheckValidationSplit(p.GetValue(validationSplit)), p.GetValue(output)!, CheckModel(p.GetValue(modelKind)!)), stdout));
        return command;
    }

    public static int Run(Settings s, TextWriter stdout)
    {
        var clock = Stopwatch.StartNew();
        CortexRandom.SetGlobalSeed(s.Seed);
        TrainingData data = DataSources.LoadForTraining(s.Data, s.Label, s.Seed);
        var (trainX, trainY, testX, testY) = data.Data;
        try
        {
            Directory.CreateDirectory(s.Out);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out: cannot create the directory '{s.Out}': {e.Message}");
        }
        string modelPath = Path.Combine(s.Out, data.Name + ".cortex");
        string historyPath = Path.Combine(s.Out, data.Name + "-history.csv");

        var model = BuildModel(s, data);
        model.Compile(CreateOptimizer(s.Optimizer, s.LearningRate), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        stdout.WriteLine(data.Description);
        model.Summary(stdout.WriteLine);

        var trainClock = Stopwatch.StartNew();
        model.Fit(trainX, trainY, epochs: s.Epochs, batchSize: s.BatchSize, validationSplit: s.ValidationSplit,
            callbacks: [new CsvLogger(historyPath)], verbose: 1);
        trainClock.Stop();

        var results = model.Evaluate(testX, testY, batchSize: Math.Max(s.BatchSize, 256));
        int[] predicted = Classes(model.Predict(testX, batchSize: Math.Max(s.BatchSize, 256)));
        int[] actual = [.. testY.ToArray().Select(v => (int)v)];
        int correct = actual.Where((c, i) => c == predicted[i]).Count();
        stdout.WriteLine();
        stdout.WriteLine($"Test loss: {Format(results["loss"])}");
        stdout.WriteLine($"Test accuracy: {Format(results["accuracy"])} ({correct}/{actual.Length} correct)");
        stdout.WriteLine();
        ConfusionMatrix.Write(stdout, actual, predicted, data.Classes, data.ClassNames);

        model.Save(modelPath);
        stdout.WriteLine($"Saved the model to {modelPath} and its history to {historyPath}.");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Trained {s.Epochs} epoch{(s.Epochs == 1 ? "" : "s")} in {trainClock.Elapsed.TotalSeconds:0.0} s; {clock.Elapsed.TotalSeconds:0.0} s in all."));
        return Cli.Ok;
    }

    private static Sequential BuildModel(Settings s, TrainingData data)
    {
        int features = data.Data.TrainX.Shape[1];
        if (s.Model == "cnn")
        {
            int side = (int)Math.Round(Math.Sqrt(features));
            if (data.IsCsv || side * side != features)
                throw new UsageException($"--model cnn: needs square grayscale images (digits or fashion-mnist); '{s.Data}' has {features} features per row.");
            // The model takes the same flat rows as the MLP (so evaluate and predict need nothing new) and reshapes
            // each to a (28, 28, 1) image itself.
            return new Sequential([
                new Input([features]),
                new Reshape([side, side, 1]),
                new Conv2D(32, 3, activation: "relu"),
                new MaxPooling2D(2),
                new Conv2D(64, 3, activation: "relu"),
                new MaxPooling2D(2),
                new Flatten(),
                new Dropout(0.5f),
                new Dense(data.Classes, ActivationFunction.Linear),
            ], data.Name);
        }
        var layers = new List<Layer> { new Input([features]) };
        if (data.IsCsv)
        {
            // CSV columns come in any units (°C, minutes); the layer standardises them with the training rows'
            // statistics and travels inside the saved model, so evaluate and predict take raw values too.
            var norm = new Normalization();
            norm.Adapt(data.Data.TrainX);
            layers.Add(norm);
        }
        layers.AddRange(s.Hidden.Select(units => (Layer)new Dense(units, s.Activation)));
        layers.Add(new Dense(data.Classes, ActivationFunction.Linear)); // logits, for SparseCategoricalCrossentropy(fromLogits: true)
        return new Sequential(layers, data.Name);
    }

    internal static Optimizer CreateOptimizer(string name, float? learningRate) => name switch
    {
        "adam" => learningRate is { } a ? new Adam(a) : new Adam(),
        "sgd" => learningRate is { } g ? new SGD(g) : new SGD(),
        "rmsprop" => learningRate is { } r ? new RMSprop(r) : new RMSprop(),
        _ => throw new UsageException($"--optimizer: unknown optimizer '{name}'; expected one of {string.Join(", ", Optimizers)}."),
    };

    /// <summary>The predicted class of each row of logits (or probabilities).</summary>
    internal static int[] Classes(Tensor outputs) => [.. outputs.ArgMax(axis: -1).ToArray().Select(v => (int)v)];

    internal static string Format(float v) => v.ToString("0.0000", CultureInfo.InvariantCulture);

    internal static int[] ParseLayers(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (text.Trim().Length == 0) return []; // --layers "" trains a softmax regression: no hidden layer
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] <= 0)
                throw new UsageException($"--layers: expected positive layer sizes separated by commas, such as 128,64; '{parts[i]}' in '{text}' is not one.");
        return sizes;
    }

    private static ActivationFunction ParseActivation(string name) =>
        ActivationFunction.Names.Contains(name) ? ActivationFunction.Get(name)
            : throw new UsageException($"--activation: unknown activation '{name}'; expected one of {string.Join(", ", ActivationFunction.Names)}.");

    private static string CheckModel(string name) => Models.Contains(name) ? name
        : throw new UsageException($"--model: unknown model '{name}'; expected one of {string.Join(", ", Models)}.");

    private static string CheckOptimizer(string name) => Optimizers.Contains(name) ? name
        : throw new UsageException($"--optimizer: unknown optimizer '{name}'; expected one of {string.Join(", ", Optimizers)}.");

    private static int Positive(string option, int value) =>
        value > 0 ? value : throw new UsageException($"{option}: expected a positive number; received {value}.");

    private static float? CheckLearningRate(float? lr) => lr is null || (lr > 0 && float.IsFinite(lr.Value)) ? lr
        : throw new UsageException($"--lr: expected a positive learning rate such as 0.001; received {lr.Value.ToString(CultureInfo.InvariantCulture)}.");

    private static float CheckValidationSplit(float v) => v is >= 0f and < 1f ? v
        : throw new UsageException($"--validation-split: expected a fraction in [0, 1), such as 0.1; received {v.ToString(CultureInfo.InvariantCulture)}.");
}
