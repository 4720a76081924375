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
/// <c>cortex train</c>: builds a dense classifier (or, with <c>--model cnn</c>, a small convolutional one; with <c>--model lstm</c> or <c>gru</c>, a recurrent one), trains it with Keras's progress output, reports test accuracy, loss
/// and the confusion matrix, and saves the model and its history. On a CSV table it may instead be a regression or a
/// multilabel model (<c>--task</c>, or inferred from the label columns: see <see cref="Target.Infer"/>), saved with
/// its task, label columns and class words in the model's metadata. With no options it is the course notes' digit model:
/// Dense 25 relu → Dense 15 relu → Dense 10 linear, Adam 1e-3, sparse cross-entropy from logits, 20 epochs.
/// </summary>
internal static class TrainCommand
{
    internal sealed record Settings(string Data, string? Label, int[] Hidden, ActivationFunction Activation, int Epochs,
        int BatchSize, string Optimizer, float? LearningRate, int Seed, float ValidationSplit, string Out, string Model = "mlp",
        TaskKind? Task = null, bool? Normalize = null, string Plots = "png", bool Distributed = false, string? Resume = null);

    private static readonly string[] Optimizers = ["adam", "sgd", "rmsprop", "adamw", "adagrad", "adadelta", "adamax", "nadam", "lion"];
    private static readonly string[] Models = ["mlp", "cnn", "resnet", "lstm", "gru"];

    public static Command Create(TextWriter stdout)
    {
        var data = new Option<string>("--data") { Description = $"The data to train on: {DataSources.Help}.", HelpName = "digits|fashion-mnist|PATH.csv", DefaultValueFactory = _ => DataSources.Digits };
        var label = new Option<string?>("--label") { Description = "For CSV data: the label column (class indices 0, 1, 2, …, class names such as setosa, or numbers to predict), or several comma-separated columns of 0/1 (multilabel) or numbers (regression).", HelpName = "COLUMN[,COLUMN…]" };
        var task = new Option<string>("--task") { Description = "For CSV data: classification (one class per row: softmax, cross-entropy, accuracy), regression (numbers: linear output, mean squared error, MAE and RMSE) or multilabel (several 0/1 columns: sigmoid outputs, binary cross-entropy, binary accuracy); auto infers it from the label column(s) and says why.", HelpName = "auto|classification|regression|multilabel", DefaultValueFactory = _ => "auto" };
        var normalize = new Option<bool?>("--normalize") { Description = "Standardise the features with a Normalization layer adapted on the training rows, the model's first layer (saved with it, so evaluate and predict take raw values). Default: on for CSV data, off for the images; --normalize false turns it off.", HelpName = "true|false", Arity = ArgumentArity.ZeroOrOne };
        var layers = new Option<string>("--layers") { Description = "Hidden layer sizes, comma-separated.", HelpName = "N,N,…", DefaultValueFactory = _ => "25,15" };
        var activation = new Option<string>("--activation") { Description = $"Activation of the hidden layers: {string.Join(", ", ActivationFunction.Names)}.", HelpName = "NAME", DefaultValueFactory = _ => "relu" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training data.", HelpName = "N", DefaultValueFactory = _ => 20 };
        var batchSize = new Option<int>("--batch-size") { Description = "Samples per gradient step.", HelpName = "N", DefaultValueFactory = _ => 32 };
        var optimizer = new Option<string>("--optimizer") { Description = $"The optimizer: {string.Join(", ", Optimizers)}.", HelpName = "NAME", DefaultValueFactory = _ => "adam" };
        var lr = new Option<float?>("--lr") { Description = "Learning rate (default: the optimizer's Keras default, 0.01 for sgd, 0.001 for the others).", HelpName = "RATE" };
        var seed = new Option<int>("--seed") { Description = "Seeds weight initialisation, shuffling and the CSV train/test split.", HelpName = "N", DefaultValueFactory = _ => 42 };
        var validationSplit = new Option<float>("--validation-split") { Description = "Fraction of the training rows (the last ones) held out to report val_loss and val_accuracy each epoch.", HelpName = "FRACTION", DefaultValueFactory = _ => 0f };
        var modelKind = new Option<string>("--model") { Description = "The network: mlp (dense layers from --layers and --activation) cnn (Conv2D 32 → MaxPooling2D → Conv2D 64 → MaxPooling2D → Dropout 0.5 → Dense, for the 28×28 image data sets), or lstm/gru (each image read row by row: LSTM 128 or GRU 128 → Dense).", HelpName = "mlp|cnn|lstm|gru", DefaultValueFactory = _ => "mlp" };
        var plots = PlotCommand.TrainOption();
        var output = new Option<string>("--out") { Description = "Where to save: a directory for NAME.cortex and NAME-history.csv, or a FILE.cortex with FILE-history.csv beside it (folders are created if missing).", HelpName = "DIR|FILE.cortex", DefaultValueFactory = _ => "." };

        var distributed = new Option<bool>("--distributed") { Description = "Train data-parallel as one rank of an MPI job: start it with mpirun -np N (see docs/distributed.md). Rank 0 prints, saves, and writes OUT-checkpoint.cortex after every epoch." };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint written by --distributed (weights and optimizer state), at the epoch it ends; same data, --batch-size, --validation-split and --seed as the run that wrote it.", HelpName = "CHECKPOINT.cortex" };

        var command = new Command("train", "Train a dense classifier, or on a CSV table a regression or multilabel model (by default the course notes' digit model), and save it.")
        {
            data, label, task, normalize, layers, activation, epochs, batchSize, optimizer, lr, seed, validationSplit, output, modelKind,
            plots, distributed, resume,
        };
        command.SetAction(p => Run(new Settings(
            p.GetValue(data)!, p.GetValue(label), ParseLayers(p.GetValue(layers)!), ParseActivation(p.GetValue(activation)!),
            Positive("--epochs", p.GetValue(epochs)), Positive("--batch-size", p.GetValue(batchSize)),
            CheckOptimizer(p.GetValue(optimizer)!), CheckLearningRate(p.GetValue(lr)), p.GetValue(seed),
            CheckValidationSplit(p.GetValue(validationSplit)), p.GetValue(output)!, CheckModel(p.GetValue(modelKind)!),
            ParseTask(p.GetValue(task)!), p.GetResult(normalize) is null ? null : p.GetValue(normalize) ?? true,
            PlotCommand.CheckFormat(p.GetValue(plots)!), p.GetValue(distributed), p.GetValue(resume)), stdout));
        return command;
    }

    public static int Run(Settings s, TextWriter stdout)
    {
        var clock = Stopwatch.StartNew();
        using var dist = s.Distributed ? Distributed.MpiDataParallel.Initialize() : null;
        if (dist is { IsChief: false }) stdout = TextWriter.Null; // rank 0 alone prints and saves
        CortexRandom.SetGlobalSeed(s.Seed);
        TrainingData data = DataSources.LoadForTraining(s.Data, s.Label, s.Seed, s.Task);
        var (trainX, trainY, testX, testY) = data.Data;
        var (modelPath, historyPath) = OutputPaths(s.Out, data.Name);

        var model = s.Resume != null ? LoadCheckpoint(s.Resume) : BuildModel(s, data);
        if (s.Resume == null)
        {
            var (loss, metrics) = LossAndMetrics(data.Task);
            model.Compile(CreateOptimizer(s.Optimizer, s.LearningRate), loss, metrics);
        }
        stdout.WriteLine(data.Description);
        if (data.TaskLine != null) stdout.WriteLine(data.TaskLine);
        model.Summary(stdout.WriteLine);

        var trainClock = Stopwatch.StartNew();
        var history = s.Distributed || s.Resume != null
            ? FitDataParallel(model, trainX, trainY, s, dist ?? DistributionStrategy.SingleProcess, modelPath, historyPath, stdout)
            : model.Fit(trainX, trainY, epochs: s.Epochs, batchSize: s.BatchSize, validationSplit: s.ValidationSplit,
                callbacks: [new CsvLogger(historyPath), new TerminateOnNaN()], verbose: 1);
        trainClock.Stop();
        CheckConverged(model, history, s, modelPath, historyPath);
        if (dist is { IsChief: false }) return Cli.Ok;

        var results = model.Evaluate(testX, testY, batchSize: Math.Max(s.BatchSize, 256));
        if (data.Task != TaskKind.Classification)
        {
            TableReport.Write(stdout, data.Target!, results, model.Predict(testX, batchSize: Math.Max(s.BatchSize, 256)), testY);
            return Saved(model, data, s, modelPath, historyPath, history, null, null, clock, trainClock, stdout);
        }
        int[] predicted = Classes(model.Predict(testX, batchSize: Math.Max(s.BatchSize, 256)));
        int[] actual = [.. testY.ToArray().Select(v => (int)v)];
        int correct = actual.Where((c, i) => c == predicted[i]).Count();
        stdout.WriteLine();
        stdout.WriteLine($"Test loss: {Format(results["loss"])}");
        stdout.WriteLine($"Test accuracy: {Format(results["accuracy"])} ({correct}/{actual.Length} correct)");
        stdout.WriteLine();
        ConfusionMatrix.Write(stdout, actual, predicted, data.Classes, data.ClassNames);
        return Saved(model, data, s, modelPath, historyPath, history, actual, predicted, clock, trainClock, stdout);
    }

    /// <summary>Saves the model (with a table's target in its metadata), then the plots: the confusion matrix only for
    /// a classifier (<paramref name="actual"/> and <paramref name="predicted"/> null otherwise).</summary>
    private static int Saved(Model model, TrainingData data, Settings s, string modelPath, string historyPath, History history,
        int[]? actual, int[]? predicted, Stopwatch clock, Stopwatch trainClock, TextWriter stdout)
    {
        data.Target?.SaveTo(model); // the task, label columns and class names, for evaluate and predict
        model.Save(modelPath);
        stdout.WriteLine($"Saved the model to {modelPath} and its history to {historyPath}.");
        PlotCommand.WriteTrainingPlots(s.Plots, modelPath, history, actual, predicted, data.Classes, data.ClassNames, stdout);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Trained {s.Epochs} epoch{(s.Epochs == 1 ? "" : "s")} in {trainClock.Elapsed.TotalSeconds:0.0} s; {clock.Elapsed.TotalSeconds:0.0} s in all."));
        return Cli.Ok;
    }

    /// <summary>
    /// <c>--distributed</c> and <c>--resume</c>: the data-parallel Fit (one process alone when not under mpirun with
    /// <c>--distributed</c>), a checkpoint after every epoch, and, resuming, the epoch the checkpoint ends, found from
    /// its optimizer's update count. The shuffles are seeded here from <c>--seed</c>, so a resumed run replays the
    /// interrupted one's row order.
    /// </summary>
    private static History FitDataParallel(Model model, Tensor x, Tensor y, Settings s, DistributionStrategy dist,
        string modelPath, string historyPath, TextWriter stdout)
    {
        (Tensor X, Tensor Y)? validation = null;
        int rows = x.Shape[0];
        if (s.ValidationSplit > 0)
        {
            // As Fit's validationSplit: the last rows, before any shuffling.
            int split = (int)(rows * (1.0 - s.ValidationSplit));
            if (split == 0 || split == rows) throw new UsageException($"--validation-split {s.ValidationSplit.ToString(CultureInfo.InvariantCulture)} leaves no rows for training or validation ({rows} rows).");
            validation = (x.Slice(split, rows - split), y.Slice(split, rows - split));
            (x, y, rows) = (x.Slice(0, split), y.Slice(0, split), split);
        }
        int steps = (rows + s.BatchSize - 1) / s.BatchSize, initialEpoch = 0;
        if (s.Resume != null)
        {
            long updates = model.Optimizer!.Iterations;
            if (updates % steps != 0)
                throw new UsageException($"--resume: the checkpoint '{s.Resume}' has made {updates} updates, not a whole number of epochs of {steps} steps ({rows} training rows, --batch-size {s.BatchSize}); resume with the data, --batch-size and --validation-split of the run that wrote it.");
            initialEpoch = (int)(updates / steps);
            if (initialEpoch >= s.Epochs)
                throw new UsageException($"--resume: the checkpoint '{s.Resume}' has already trained {initialEpoch} epochs; pass --epochs greater than {initialEpoch}.");
            stdout.WriteLine($"Resuming from {s.Resume} at epoch {initialEpoch + 1} of {s.Epochs}.");
        }
        string checkpoint = Path.Combine(Path.GetDirectoryName(modelPath)!, Path.GetFileNameWithoutExtension(modelPath) + "-checkpoint.cortex");
        if (dist.WorldSize > 1) stdout.WriteLine($"Data-parallel on {dist.WorldSize} ranks: each step's {s.BatchSize} rows split across them; checkpoints to {checkpoint}.");
        CortexRandom.SetGlobalSeed(unchecked(s.Seed * 31 + 7)); // the shuffles: the same in the interrupted run and its resumption
        return model.Fit(x, y, dist, epochs: s.Epochs, batchSize: s.BatchSize, initialEpoch: initialEpoch, validationData: validation,
            callbacks: [new CsvLogger(historyPath, append: s.Resume != null), new TerminateOnNaN(), new ModelCheckpoint(checkpoint)], verbose: 1);
    }

    /// <summary>The model of <c>--resume</c>: a compiled model saved by <c>cortex train</c>.</summary>
    private static Model LoadCheckpoint(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"--resume: no such checkpoint: '{path}'.");
        return Model.Load(path) is { Optimizer: not null } model ? model
            : throw new UsageException($"--resume: '{path}' is not a compiled model saved by cortex train.");
    }

    /// <summary>
    /// The model and history paths for <c>--out</c>: a path ending in <c>.cortex</c> is the model file, with the history
    /// beside it as <c>NAME-history.csv</c>; anything else is a directory for <c>DATA.cortex</c> and
    /// <c>DATA-history.csv</c>. The folder is created, and both paths are checked to be writable, before any training,
    /// so that a bad <c>--out</c> costs nothing and overwrites nothing.
    /// </summary>
    internal static (string Model, string History) OutputPaths(string output, string dataName)
    {
        bool isFile = output.EndsWith(".cortex", StringComparison.OrdinalIgnoreCase);
        string directory = isFile ? Path.GetDirectoryName(Path.GetFullPath(output))! : output;
        string modelPath = isFile ? output : Path.Combine(output, dataName + ".cortex");
        string historyPath = Path.Combine(isFile ? Path.GetDirectoryName(output)! : output, Path.GetFileNameWithoutExtension(modelPath) + "-history.csv");
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out: cannot create the directory '{directory}': {e.Message}");
        }
        foreach (string path in (string[])[modelPath, historyPath])
            if (Directory.Exists(path)) throw new UsageException($"--out: cannot write '{path}': it is a directory.");
        // Both files are replaced by creating a file in the folder (the model atomically, the history afresh), so
        // the folder's permission is what decides; probe it with a file of our own rather than touch theirs.
        string probe = Path.Combine(directory, $".cortex-write-test-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out: cannot write to the directory '{directory}': {e.Message}");
        }
        return (modelPath, historyPath);
    }

    /// <summary>
    /// After Fit: a loss that became NaN or infinite, or weights that did, means the run diverged. Its model would
    /// predict NaN (class 0) for everything, so it is not saved — any previous model at the path stays — and the
    /// command fails in one line that names the learning rate. The history, written as training ran, is kept: it
    /// shows the epoch where the loss broke.
    /// </summary>
    private static void CheckConverged(Model model, History history, Settings s, string modelPath, string historyPath)
    {
        var losses = history["loss"];
        int bad = losses.FindIndex(l => !float.IsFinite(l));
        string? problem = bad >= 0 ? $"the loss is {Format(losses[bad])} in epoch {bad + 1}"
            : NonFiniteWeight(model) is { } w ? $"the weight '{w.Name}' is not finite"
            : null;
        if (problem == null) return;
        string rate = s.LearningRate is { } lr ? $"--lr {lr.ToString(CultureInfo.InvariantCulture)}" : $"the default --lr of {s.Optimizer}";
        throw new UsageException($"training diverged: {problem} with --optimizer {s.Optimizer} and {rate}; the model was not saved to {modelPath} (the history is in {historyPath}). Try a smaller --lr.");
    }

    /// <summary>The first weight holding a NaN or an infinity, or null when all are finite.</summary>
    internal static Variable? NonFiniteWeight(Model model) => model.Variables.FirstOrDefault(v => !v.ToArray().All(float.IsFinite));

    private static Model BuildModel(Settings s, TrainingData data)
    {
        int features = data.Data.TrainX.Shape[1];
        if (s.Model != "mlp")
        {
            if (s.Normalize == true) throw new UsageException($"--normalize applies to --model mlp; --model {s.Model} takes the images as they are.");
            int side = (int)Math.Round(Math.Sqrt(features));
            if (data.IsCsv || side * side != features)
                throw new UsageException($"--model {s.Model}: needs square grayscale images (digits or fashion-mnist); '{s.Data}' has {features} features per row.");
            // The model takes the same flat rows as the MLP (so evaluate and predict need nothing new) and reshapes
            // each itself: to a (28, 28, 1) image for the CNN (Dropout(0.5) before the classifier, for longer runs), to
            // 28 steps of 28 pixels for the recurrent models.
            return s.Model switch
            {
                "cnn" => Zoo.FashionCnn(inputShape: [side, side, 1], flatInput: true, classes: data.Classes, name: data.Name),
                "resnet" => Zoo.FashionResNet(inputShape: [side, side, 1], flatInput: true, classes: data.Classes, name: data.Name),
                _ => Zoo.FashionRnn(s.Model, inputShape: [side, side], flatInput: true, classes: data.Classes, name: data.Name),
            };
        }
        Normalization? norm = null;
        if (s.Normalize ?? data.IsCsv)
        {
            // CSV columns come in any units (°C, minutes); the layer standardises them with the training rows'
            // statistics and travels inside the saved model, so evaluate and predict take raw values too.
            norm = new Normalization();
            norm.Adapt(data.Data.TrainX);
        }
        // Logits out, for SparseCategoricalCrossentropy(fromLogits: true); numbers out for a regression; a sigmoid
        // per label for multilabel, as Keras writes Dense(n, activation="sigmoid") with binary cross-entropy.
        var model = data.Task == TaskKind.Multilabel
            ? new Sequential([new Input([features]), .. norm is null ? Array.Empty<Layer>() : [norm],
                .. s.Hidden.Select(units => new Dense(units, s.Activation)), new Dense(data.Classes, ActivationFunction.Sigmoid)], data.Name)
            : Zoo.Mlp(features, s.Hidden, data.Classes, s.Activation, preprocessing: norm, name: data.Name);
        if (data.Task == TaskKind.Regression)
        {
            // The Dense layer learns the labels standardised, and a last Normalization(invert: true), adapted on the
            // training labels, maps them back to their units (as Keras's invert=True does): a price near 200,000
            // would otherwise take thousands of small Adam steps to reach. It is saved with the model, so evaluate
            // and predict work in the labels' units.
            var unscale = new Normalization(invert: true, name: "unscale");
            unscale.Adapt(data.Data.TrainY);
            model.Add(unscale);
        }
        return model;
    }

    /// <summary>The loss and metrics of a task: Keras's choices for each.</summary>
    private static (Loss Loss, string[] Metrics) LossAndMetrics(TaskKind task) => task switch
    {
        TaskKind.Regression => (new MeanSquaredError(), ["mae", "root_mean_squared_error"]),
        TaskKind.Multilabel => (new BinaryCrossentropy(), ["binary_accuracy"]),
        _ => (new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]),
    };

    private static TaskKind? ParseTask(string name) => name == "auto" ? null
        : Array.IndexOf(Target.TaskNames, name) is int k and >= 0 ? (TaskKind)k
        : throw new UsageException($"--task: unknown task '{name}'; expected one of auto, {string.Join(", ", Target.TaskNames)}.");

    internal static Optimizer CreateOptimizer(string name, float? learningRate)
    {
        if (!Optimizers.Contains(name))
            throw new UsageException($"--optimizer: unknown optimizer '{name}'; expected one of {string.Join(", ", Optimizers)}.");
        var optimizer = Optimizer.Get(name); // Keras's defaults
        if (learningRate is { } rate) optimizer.LearningRate = rate;
        return optimizer;
    }

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
