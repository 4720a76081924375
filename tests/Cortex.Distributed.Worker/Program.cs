// Trains the digits MLP or a small CNN for the distributed tests, alone (--plain) or as one rank of an mpirun job,
// and writes the final weights (rank 0): the tensor count, then each tensor's length and little-endian floats. Arguments: --model mlp|cnn --optimizer adam|sgdm
// --rows N --epochs E --batch B --out FILE [--plain] [--checkpoint PATTERN] [--resume FILE --initial-epoch K]
// [--slow-ms MS] (sleep after every step, so a test can kill a rank mid-epoch) [--pid-dir DIR] [--tape] [--dropout]
// (the CNN with Dropout(0.5) before its classifier).
using Cortex;
using Cortex.Callbacks;
using Cortex.Data;
using Cortex.Distributed;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

var opts = new Dictionary<string, string>();
for (int i = 0; i < args.Length; i++)
    opts[args[i].TrimStart('-')] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
string Opt(string key, string fallback) => opts.TryGetValue(key, out var v) ? v : fallback;

string kind = Opt("model", "mlp");
int rows = int.Parse(Opt("rows", "8000")), epochs = int.Parse(Opt("epochs", "1")), batch = int.Parse(Opt("batch", "64"));
int slowMs = int.Parse(Opt("slow-ms", "0")), initialEpoch = int.Parse(Opt("initial-epoch", "0"));
bool plain = opts.ContainsKey("plain");
Trainer.ForceTapePath = opts.ContainsKey("tape"); // the GradientTape step instead of the fused one
if (opts.TryGetValue("pid-dir", out var pidDir)) // where a test finds each rank's process to kill it
    File.WriteAllText(Path.Combine(pidDir, $"rank{Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK")}.pid"), Environment.ProcessId.ToString());

var data = Datasets.Digits.Load(flatten: kind == "mlp");
Tensor x = data.TrainX.Slice(0, rows), y = data.TrainY.Slice(0, rows);

using var dist = plain ? null : MpiDataParallel.Initialize();
Model model;
if (opts.TryGetValue("resume", out var checkpoint)) model = Model.Load(checkpoint);
else
{
    CortexRandom.SetGlobalSeed(1);
    var built = kind == "mlp" ? Zoo.DigitsMlp()
        : new Sequential([new Input([28, 28, 1]), new Conv2D(8, 3, activation: "relu"), new MaxPooling2D(2), new Flatten(),
            .. opts.ContainsKey("dropout") ? [new Dropout(0.5f)] : Array.Empty<Layer>(), new Dense(10)]);
    built.Build(kind == "mlp" ? [-1, 784] : [-1, 28, 28, 1]);
    Optimizer optimizer = Opt("optimizer", "adam") == "adam" ? new Adam(1e-3f) : new SGD(0.01f, momentum: 0.9f);
    built.Compile(optimizer, new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
    model = built;
}

var callbacks = new List<Callback>();
if (opts.TryGetValue("checkpoint", out var pattern)) callbacks.Add(new ModelCheckpoint(pattern));
if (slowMs > 0) callbacks.Add(new Slow(slowMs));
CortexRandom.SetGlobalSeed(2); // the shuffles: drawn by Fit, alike in every run
var history = dist == null
    ? model.Fit(x, y, epochs: epochs, batchSize: batch, callbacks: callbacks, verbose: 0)
    : model.Fit(x, y, dist, epochs: epochs, batchSize: batch, initialEpoch: initialEpoch, callbacks: callbacks, verbose: 0);

if (dist == null || dist.IsChief)
{
    using var file = new BinaryWriter(File.Create(Opt("out", "weights.bin")));
    var weights = model.GetWeights();
    file.Write(weights.Length);
    foreach (var w in weights)
    {
        file.Write(w.Size);
        foreach (float v in w.AsSpan()) file.Write(v);
    }
    Console.WriteLine($"ranks={dist?.WorldSize ?? 0} path={model.TrainingPath} loss={history["loss"][^1]:R} accuracy={history["accuracy"][^1]:R}");
}

/// <summary>Sleeps after every step, so that a test can kill a rank in the middle of an epoch.</summary>
sealed class Slow(int milliseconds) : Callback
{
    public override void OnTrainBatchEnd(int batch) => Thread.Sleep(milliseconds);
}
