using System.Diagnostics;
using System.Runtime.CompilerServices;
using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex;

/// <summary>
/// Compiles, on a background thread from the moment a program first uses Cortex, the code that a first training
/// step and a first <c>Predict</c> reach, so that the JIT's work overlaps what the program does before it trains
/// (typically loading its data) instead of lengthening the first epoch.
/// </summary>
/// <remarks>
/// <para>
/// A fresh process compiles some 700 methods in its first <c>Fit</c> (the kernels for this CPU's vector width, the
/// fused step, the optimizer, the loss), about 0.2 s of JIT, and the first steps run in unoptimised code until the
/// runtime has recompiled the hot ones. For a small network that is as long as the epoch itself. The warm-up trains
/// tiny models the way a user's first models train (Dense and Conv2D stages, Adam and SGD, the usual losses, Predict
/// on one row and on a batch) on made-up data, so that by the time the user's <c>Fit</c> starts, the code it runs is
/// compiled and optimised. docs/benchmarks.md ("Cold start with the background warm-up") has the measurements.
/// </para>
/// <para>
/// It changes no result: its models use their own seeds and names (the global seed, the generator behind it and the
/// layer-name counters are untouched), run their products on their own thread (the GEMM workers stay free), and stop
/// between two steps as soon as any other model starts to train, evaluate or predict. It runs once per process, only
/// where there are at least two cores and code is compiled at run time (not under Native AOT), and any error
/// inside it is swallowed: it can change how long things take, never what they compute or whether they succeed.
/// </para>
/// <para>
/// Switch it off with the environment variable <c>CORTEX_WARMUP=0</c>, or in the project file with
/// <c>&lt;RuntimeHostConfigurationOption Include="Cortex.WarmUp" Value="false" /&gt;</c>.
/// </para>
/// </remarks>
internal static class WarmUp
{
    /// <summary>The AppContext switch that turns the warm-up off when false.</summary>
    internal const string Switch = "Cortex.WarmUp";

    /// <summary>The environment variable that turns the warm-up off when "0" or "false".</summary>
    internal const string Variable = "CORTEX_WARMUP";

    private static readonly CancellationTokenSource Stop = new();
    private static int started;

    /// <summary>True while the background warm-up runs (a cheap check for <see cref="UserWorkStarting"/>).</summary>
    private static volatile bool running;

    /// <summary>Marks the warm-up's own thread, whose models must not stop it.</summary>
    [ThreadStatic] private static bool onThisThread;

    /// <summary>The phases the last warm-up finished, in order (tests read them).</summary>
    internal static IReadOnlyList<string> Finished { get; private set; } = [];

    /// <summary>How long the last warm-up ran.</summary>
    internal static TimeSpan Elapsed { get; private set; }

    /// <summary>What stopped the last warm-up early, if anything threw (tests read it; users never see it).</summary>
    internal static Exception? LastError { get; private set; }

#pragma warning disable CA2255 // A library's module initializer: the earliest moment a program touches Cortex, which is the point.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnLoad()
    {
        if (!Enabled(Environment.GetEnvironmentVariable(Variable), AppContext.TryGetSwitch(Switch, out bool on) ? on : null,
                Environment.ProcessorCount, RuntimeFeature.IsDynamicCodeCompiled))
            return;
        Begin();
    }

    /// <summary>Whether the warm-up should run: not when the variable says "0"/"false", the switch is false, the
    /// process has one core (the warm-up would take it from the program it is meant to overlap), or nothing is compiled
    /// at run time (Native AOT: the code is compiled already).</summary>
    internal static bool Enabled(string? variable, bool? appSwitch, int processors, bool jit)
    {
        if (!jit) return false;
        if (variable is { } v && (v.Trim() == "0" || v.Trim().Equals("false", StringComparison.OrdinalIgnoreCase))) return false;
        if (appSwitch == false) return false;
        return processors >= 2;
    }

    /// <summary>Starts the warm-up on a background thread, once per process.</summary>
    private static void Begin()
    {
        if (Interlocked.Exchange(ref started, 1) != 0) return;
        running = true;
        // No execution context: the thread must not inherit the caller's seeded generator (an async-local) and so draw
        // numbers that the caller's own program would otherwise have drawn.
        using (ExecutionContext.SuppressFlow())
        {
            var thread = new Thread(() =>
            {
                try { Run(Stop.Token); }
                finally { running = false; }
            }) { IsBackground = true, Name = "Cortex warm-up", Priority = ThreadPriority.BelowNormal };
            thread.Start();
        }
    }

    /// <summary>
    /// Called when a model (not one of the warm-up's) starts to train, evaluate, predict or be called: the warm-up
    /// stops after its current step, leaving the cores to the program.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void UserWorkStarting(string operation)
    {
        if (running && !onThisThread && operation is "Fit" or "Predict" or "Evaluate" or "Call") Stop.Cancel();
    }

    /// <summary>
    /// Runs the warm-up's phases on the calling thread until <paramref name="stop"/> is cancelled; returns the phases
    /// finished. Never throws.
    /// </summary>
    internal static IReadOnlyList<string> Run(CancellationToken stop)
    {
        // In a copy of the caller's execution context, which ExecutionContext.Run restores afterwards: the seed set
        // here (Fit draws its shuffling generator's seed from the global one even when it does not shuffle) is the
        // warm-up's own, and the caller's seeded generator, if any, is neither read nor replaced.
        IReadOnlyList<string> finished = [];
        if (ExecutionContext.Capture() is { } context)
            ExecutionContext.Run(context, _ => finished = RunIsolated(stop), null);
        else
            finished = RunIsolated(stop);
        return finished;
    }

    private static IReadOnlyList<string> RunIsolated(CancellationToken stop)
    {
        CortexRandom.SetGlobalSeed(0);
        LastError = null;
        var finished = new List<string>();
        var clock = Stopwatch.StartNew();
        bool serial = GemmThreads.SerialOnThisThread, nested = onThisThread;
        onThisThread = true;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            foreach (var phase in Phases)
            {
                if (stop.IsCancellationRequested) break;
                Train(phase, stop);
                if (stop.IsCancellationRequested) break;
                finished.Add(phase.Name);
            }
        }
        catch (Exception e)
        {
            LastError = e;
            // Whatever went wrong here will go wrong, with a proper message, in the program's own call; the warm-up
            // must never be the one to report it, nor take the process down from a background thread.
        }
        finally
        {
            GemmThreads.SerialOnThisThread = serial;
            onThisThread = nested;
            Finished = finished;
            Elapsed = clock.Elapsed;
        }
        return finished;
    }

    /// <summary>One phase: a model, its made-up data, how it is compiled and how long it trains.</summary>
    internal sealed record Phase(string Name, Func<Sequential> Model, Func<(Tensor X, Tensor Y)> Data, Func<Optimizer> Optimizer,
        Func<Loss> Loss, int Epochs, bool Predict, int Batch = 32);

    /// <summary>The phases, most useful first: the step and Predict of a Dense network as the course's first models
    /// build them (4 epochs of 8 steps: enough calls for the runtime to optimise what they run), then the other usual
    /// heads and optimizers, then the course's convolutional network (Keras's MNIST convnet, whose channel counts
    /// choose the convolution kernels' vector paths) for one step of 8 images (its buffers grow with the batch, and
    /// they are the warm-up's largest).</summary>
    internal static readonly Phase[] Phases =
    [
        new("dense logits, adam", () => Mlp(784, 64, 10, null), () => Classes(256, 784, 10), () => new Adam(1e-3f),
            () => new SparseCategoricalCrossentropy(fromLogits: true), Epochs: 4, Predict: true),
        new("dense softmax, adam", () => Mlp(784, 32, 10, "softmax"), () => Classes(64, 784, 10), () => new Adam(1e-3f),
            () => new SparseCategoricalCrossentropy(), Epochs: 1, Predict: false),
        new("dense sigmoid, sgd", () => Mlp(20, 16, 1, "sigmoid"), () => Classes(64, 20, 2), () => new SGD(0.01f),
            () => new BinaryCrossentropy(), Epochs: 1, Predict: false),
        new("conv2d, adam", Cnn, () => Classes(8, 28 * 28, 10, [28, 28, 1]), () => new Adam(1e-3f),
            () => new SparseCategoricalCrossentropy(fromLogits: true), Epochs: 1, Predict: true, Batch: 8),
    ];

    /// <summary>The start of every name the warm-up gives (so that it never takes a default name's number).</summary>
    internal const string Prefix = "cortex_warm_up";

    private static Sequential Mlp(int inputs, int hidden, int outputs, string? outputActivation) =>
        new([
            new Input([inputs], name: $"{Prefix}_input"),
            new Dense(hidden, "relu", kernelInitializer: new GlorotUniform(seed: 1), name: $"{Prefix}_dense"),
            new Dense(outputs, outputActivation is null ? null : ActivationFunction.Get(outputActivation), kernelInitializer: new GlorotUniform(seed: 2), name: $"{Prefix}_dense_1")],
            Prefix);

    private static Sequential Cnn() =>
        new([
            new Input([28, 28, 1], name: $"{Prefix}_input"),
            new Conv2D(32, 3, activation: "relu", kernelInitializer: new GlorotUniform(seed: 1), name: $"{Prefix}_conv2d"),
            new MaxPooling2D(2, name: $"{Prefix}_max_pooling2d"),
            new Conv2D(64, 3, activation: "relu", kernelInitializer: new GlorotUniform(seed: 2), name: $"{Prefix}_conv2d_1"),
            new MaxPooling2D(2, name: $"{Prefix}_max_pooling2d_1"),
            new Flatten(name: $"{Prefix}_flatten"),
            new Dropout(0.5f, seed: 4, name: $"{Prefix}_dropout"),
            new Dense(10, kernelInitializer: new GlorotUniform(seed: 3), name: $"{Prefix}_dense")],
            Prefix);

    /// <summary>Made-up rows in [0, 1) and labels below <paramref name="classes"/> (0/1 in an (N, 1) column for 2).</summary>
    private static (Tensor X, Tensor Y) Classes(int rows, int features, int classes, int[]? sample = null)
    {
        var random = new CortexRandom(12345);
        var x = new float[rows * features];
        for (int i = 0; i < x.Length; i++) x[i] = random.NextFloat();
        var y = new float[rows];
        for (int i = 0; i < rows; i++) y[i] = random.NextInt(classes);
        return (Tensor.FromArray(x, [rows, .. sample ?? [features]]), classes == 2 ? Tensor.FromArray(y, rows, 1) : Tensor.FromArray(y, rows));
    }

    private static void Train(Phase phase, CancellationToken stop)
    {
        var model = phase.Model();
        var (x, y) = phase.Data();
        model.Compile(phase.Optimizer(), phase.Loss(), ["accuracy"]);
        model.Fit(x, y, epochs: phase.Epochs, batchSize: phase.Batch, shuffle: false, verbose: 0, cancellationToken: stop);
        if (!phase.Predict || stop.IsCancellationRequested) return;
        // Single rows take Predict's one-row path; enough calls for the runtime to optimise it, then one batch.
        var one = x.Slice(0, 1);
        for (int i = 0; i < 40 && !stop.IsCancellationRequested; i++) model.Predict(one, verbose: 0);
        if (!stop.IsCancellationRequested) model.Predict(x, batchSize: x.ShapeRef[0], verbose: 0);
    }
}
