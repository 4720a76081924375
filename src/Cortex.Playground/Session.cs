using System.Diagnostics;
using System.Text.Json;
using Cortex.Callbacks;
using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Regularizers;

namespace Cortex.Playground;

/// <summary>
/// One browser tab's playground: its settings, data and Cortex model, the epochs run so far, and the latest state
/// published to the tab's event stream. Everything that touches the model holds <see cref="gate"/>, so a request
/// (step, reset, download) waits at most one training slice.
/// </summary>
public sealed class Session
{
    /// <summary>Resolution of the output heatmap and of each neuron's small heatmap.</summary>
    public const int OutputGrid = 50, NeuronGrid = 25;
    private const int MaxHistory = 400;

    private static readonly (float, float)[] OutputPositions = PlaygroundData.Grid(OutputGrid);
    private static readonly (float, float)[] NeuronPositions = PlaygroundData.Grid(NeuronGrid);
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly object gate = new();
    private readonly TrainingScheduler scheduler;
    private Settings settings;
    private Point[] points = [];
    private Tensor xTrain = null!, yTrain = null!, xTest = null!, yTest = null!, gridOutput = null!, gridNeurons = null!;
    private Sequential model = null!;
    private int epoch, resets, trainCount;
    private bool diverged; // the loss became NaN or infinite: training stops until a reset or a new network
    private readonly List<float[]> history = [];
    private CancellationTokenSource? loop;
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Session(string id, Settings settings, TrainingScheduler scheduler)
    {
        Id = id;
        this.settings = settings;
        this.scheduler = scheduler;
        lock (gate)
        {
            MakeData();
            MakeModel(keepWeights: false);
            PublishLocked();
        }
    }

    public string Id { get; }

    /// <summary>When a request or an open stream last showed that the tab is alive (UTC ticks).</summary>
    public long LastSeen { get; private set; } = DateTime.UtcNow.Ticks;

    /// <summary>Event streams open now.</summary>
    public int Subscribers;

    public bool Playing => loop != null;

    /// <summary>Whether the loss became NaN or infinite; training stays stopped until a reset or a new network.</summary>
    public bool Diverged { get { lock (gate) return diverged; } }

    public Settings Settings { get { lock (gate) return settings; } }

    /// <summary>Epochs trained since the last reset.</summary>
    public int Epoch { get { lock (gate) return epoch; } }

    /// <summary>The latest state as JSON (the <c>state</c> event) and its version.</summary>
    public (string Json, long Version) State { get; private set; }

    /// <summary>The data points as JSON (the <c>points</c> event) and the state version that introduced them.</summary>
    public (string Json, long Version) PointsState { get; private set; }

    /// <summary>Completes at the next publication.</summary>
    public Task Changed => changed.Task;

    public void Touch() => LastSeen = DateTime.UtcNow.Ticks;

    /// <summary>Applies new settings: new data or a new network resets training; rate, optimizer, batch size and
    /// regularisation take effect from the next epoch, keeping the weights (as in the TensorFlow Playground).</summary>
    public void Update(Settings next)
    {
        lock (gate)
        {
            var old = settings;
            settings = next;
            if (!next.SameData(old)) MakeData();
            if (next.NeedsReset(old)) { ClearTraining(); MakeModel(keepWeights: false); }
            else if (next.Regularization != old.Regularization || next.RegularizationRate != old.RegularizationRate) MakeModel(keepWeights: true);
            else Compile();
            PublishLocked();
        }
    }

    /// <summary>New random weights (and a fresh optimizer), epoch 0; the data stays.</summary>
    public void Reset()
    {
        Pause();
        lock (gate)
        {
            resets++;
            ClearTraining();
            MakeModel(keepWeights: false);
            PublishLocked();
        }
    }

    /// <summary>Starts training in the background; does nothing while the network has <see cref="Diverged"/>.</summary>
    /// <returns>Whether training was running when the call returned: false only for a network that has diverged. A
    /// network that diverges in its first slice may have stopped again by the time the caller reads
    /// <see cref="Playing"/>, so the answer to "play" is this value, not a later read.</returns>
    public bool Play()
    {
        lock (gate)
        {
            if (diverged) return false;
            if (loop != null) return true;
            loop = new CancellationTokenSource();
            var token = loop.Token;
            _ = Task.Run(() => RunAsync(token));
            PublishLocked();
            return true;
        }
    }

    public void Pause()
    {
        lock (gate)
        {
            if (loop == null) return;
            loop.Cancel();
            loop = null;
            PublishLocked();
        }
    }

    /// <summary>Pauses and trains exactly one epoch.</summary>
    public void Step()
    {
        Pause();
        lock (gate)
        {
            TrainEpochs(maxEpochs: 1, sliceMs: double.MaxValue);
            PublishLocked();
        }
    }

    /// <summary>The trained model in Cortex's file format, saved through a temporary file this method names.</summary>
    public byte[] SaveModel()
    {
        string path = Path.Combine(Path.GetTempPath(), $"cortex-playground-{Guid.NewGuid():N}.cortex");
        try
        {
            lock (gate) model.Save(path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            try { File.Delete(path); } catch (IOException) { }
        }
    }

    /// <summary>The trained model as ONNX (Cortex.Onnx), for ONNX Runtime or any other ONNX consumer.</summary>
    public byte[] SaveOnnx()
    {
        lock (gate) return Cortex.Onnx.OnnxExporter.ToBytes(model);
    }

    /// <summary>The C# program that builds and trains this network with Cortex.</summary>
    public string Code() { lock (gate) return CodeGenerator.Generate(settings, epoch, xTrain.Shape[0], xTest.Shape[0]); }

    /// <summary>Stops training for good (the store drops the session).</summary>
    public void Close() => Pause();

    // The background loop: train for a slice with a scheduler slot, rest, publish a few times a second.
    private async Task RunAsync(CancellationToken token)
    {
        var sincePublish = Stopwatch.StartNew();
        try
        {
            while (!token.IsCancellationRequested)
            {
                await scheduler.WaitAsync(token);
                try
                {
                    lock (gate)
                    {
                        if (token.IsCancellationRequested) break;
                        TrainEpochs(maxEpochs: int.MaxValue, sliceMs: scheduler.SliceMs);
                        if (diverged)
                        {
                            // Not cancelled, so the loop is this one: stop it and show the NaN at once.
                            loop = null;
                            PublishLocked();
                            break;
                        }
                        if (sincePublish.ElapsedMilliseconds >= scheduler.PublishIntervalMs)
                        {
                            PublishLocked();
                            sincePublish.Restart();
                        }
                    }
                }
                finally { scheduler.Release(); }
                await Task.Delay(scheduler.RestMs, token);
            }
        }
        catch (OperationCanceledException) { }
    }

    private sealed class SliceLimit(Session session, int maxEpochs, double sliceMs) : Callback
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private int done;

        public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
        {
            session.epoch++;
            if (++done >= maxEpochs || clock.Elapsed.TotalMilliseconds >= sliceMs) Model!.StopTraining = true;
        }
    }

    /// <summary>
    /// Runs whole epochs (one pass over the training points each) until the slice's time or count is used, or the
    /// loss stops being finite (TerminateOnNaN ends the slice at that batch; Fit refuses to start from weights that are
    /// already NaN). Either marks the network <see cref="Diverged"/>; nothing trains it again until it is rebuilt.
    /// </summary>
    private void TrainEpochs(int maxEpochs, double sliceMs)
    {
        if (diverged) return;
        try
        {
            var h = model.Fit(xTrain, yTrain, epochs: int.MaxValue, batchSize: settings.BatchSize, shuffle: true, verbose: 0,
                callbacks: [new SliceLimit(this, maxEpochs, sliceMs), new TerminateOnNaN()]);
            diverged = h["loss"].Exists(l => !float.IsFinite(l));
        }
        catch (NotFiniteNumberException)
        {
            diverged = true; // the last update of the previous slice made the weights NaN
        }
    }

    private void ClearTraining()
    {
        epoch = 0;
        history.Clear();
        diverged = false;
    }

    private void MakeData()
    {
        var (pts, tc) = PlaygroundData.Generate(settings);
        points = pts;
        trainCount = tc;
        bool classification = settings.Problem == "classification";
        yTrain = Labels(pts[..tc], classification);
        yTest = Labels(pts[tc..], classification);
        PointsState = (JsonSerializer.Serialize(new
        {
            trainCount,
            // x1, x2, label triples, train points first
            points = pts.SelectMany(p => new[] { MathF.Round(p.X1, 3), MathF.Round(p.X2, 3), MathF.Round(p.Label, 3) }),
        }), State.Version + 1);
    }

    // Binary cross-entropy wants 0/1 targets; the playground's classes are ±1.
    private static Tensor Labels(Point[] pts, bool classification) =>
        Tensor.FromArray([.. pts.Select(p => classification ? (p.Label > 0 ? 1f : 0f) : p.Label)], pts.Length, 1);

    /// <summary>Builds the network for the settings; with <paramref name="keepWeights"/> it carries the current weights over.</summary>
    private void MakeModel(bool keepWeights)
    {
        // The features (and so the input size) may have changed, or the data.
        if (!keepWeights)
        {
            xTrain = PlaygroundData.FeatureMatrix(settings.Features, [.. points[..trainCount].Select(p => (p.X1, p.X2))]);
            xTest = PlaygroundData.FeatureMatrix(settings.Features, [.. points[trainCount..].Select(p => (p.X1, p.X2))]);
            gridOutput = PlaygroundData.FeatureMatrix(settings.Features, OutputPositions);
            gridNeurons = PlaygroundData.FeatureMatrix(settings.Features, NeuronPositions);
        }
        var old = keepWeights ? model.GetWeights() : null;
        model = BuildModel(settings, InitSeed);
        if (old != null) model.SetWeights(old);
        Compile();
    }

    // Deterministic (unlike HashCode.Combine, which is salted per process): the same link and reset count give the same start.
    private int InitSeed => (int)(((uint)settings.Seed * 2654435761u + (uint)resets * 40503u) & int.MaxValue);

    /// <summary>The network the playground trains: Input → hidden Dense layers → one output neuron (sigmoid for
    /// classification, linear for regression). Weights start uniform in ±0.5 and biases at 0.1, as in the TensorFlow Playground.</summary>
    public static Sequential BuildModel(Settings s, int seed)
    {
        var layers = new List<Layer> { new Input([s.Features.Length]) };
        Regularizer? Reg() => s.Regularization switch
        {
            "l1" => new L1(s.RegularizationRate),
            "l2" => new L2(s.RegularizationRate),
            _ => null,
        };
        for (int i = 0; i <= s.Layers.Length; i++)
        {
            bool output = i == s.Layers.Length;
            layers.Add(new Dense(output ? 1 : s.Layers[i],
                activation: output ? (s.Problem == "classification" ? "sigmoid" : "linear") : s.Activation,
                kernelInitializer: new RandomUniform(-0.5f, 0.5f, seed: seed + i),
                biasInitializer: new Constant(0.1f),
                kernelRegularizer: Reg()));
        }
        return new Sequential(layers, "playground");
    }

    private void Compile()
    {
        Optimizer opt = settings.Optimizer == "adam" ? new Adam(settings.LearningRate) : new SGD(settings.LearningRate);
        Loss loss = settings.Problem == "classification" ? new BinaryCrossentropy() : new MeanSquaredError();
        model.Compile(opt, loss, settings.Problem == "classification" ? ["accuracy"] : []);
    }

    /// <summary>Computes the state the page draws and wakes the event streams.</summary>
    private void PublishLocked()
    {
        bool classification = settings.Problem == "classification";
        var (trainLoss, trainAcc) = LossAndAccuracy(xTrain, yTrain, classification);
        var (testLoss, testAcc) = LossAndAccuracy(xTest, yTest, classification);
        diverged |= !float.IsFinite(trainLoss); // weights the last update made NaN, which no batch loss has shown yet
        if (history.Count == 0 || history[^1][0] != epoch) history.Add([epoch, trainLoss, testLoss]);
        if (history.Count > MaxHistory) // keep the chart's whole span in bounded memory: drop every other point
            for (int i = history.Count - 2; i > 0; i -= 2) history.RemoveAt(i);

        // Output heatmap: p in [0, 1] for classification, the prediction clipped to [−1, 1] for regression.
        var output = model.Call(gridOutput).AsSpan();
        var outputBytes = new byte[output.Length];
        for (int i = 0; i < output.Length; i++)
            outputBytes[i] = classification ? PlaygroundData.Quantize(2 * output[i] - 1) : PlaygroundData.Quantize(output[i]);

        // Each neuron's activation over a coarser grid, and the weights of every link.
        var neurons = new List<string[]>();
        var weights = new List<object>();
        Tensor a = gridNeurons;
        foreach (var layer in model.Layers)
        {
            if (layer is not Dense dense) continue;
            a = dense.Call(a);
            var w = dense.GetWeights();
            int inputs = w[0].Shape[0], units = w[0].Shape[1];
            var k = w[0].ToArray();
            weights.Add(new
            {
                kernel = Enumerable.Range(0, inputs).Select(i => Enumerable.Range(0, units).Select(j => Finite(k[i * units + j])).ToArray()).ToArray(),
                bias = w[1].ToArray().Select(Finite).ToArray(),
            });
            if (layer == model.Layers[^1]) break;
            var values = a.AsSpan();
            var perNeuron = new string[units];
            var bytes = new byte[NeuronGrid * NeuronGrid];
            for (int j = 0; j < units; j++)
            {
                for (int i = 0; i < bytes.Length; i++) bytes[i] = PlaygroundData.Quantize(values[i * units + j]);
                perNeuron[j] = Convert.ToBase64String(bytes);
            }
            neurons.Add(perNeuron);
        }

        long version = State.Version + 1;
        var state = new
        {
            version,
            pointsVersion = PointsState.Version,
            epoch,
            playing = loop != null,
            trainLoss = Finite(trainLoss),
            testLoss = Finite(testLoss),
            trainAccuracy = classification ? Finite(trainAcc) : (float?)null,
            testAccuracy = classification ? Finite(testAcc) : (float?)null,
            diverged,
            history = history.Select(h => h.Select(Finite).ToArray()),
            outputGrid = OutputGrid,
            output = Convert.ToBase64String(outputBytes),
            neuronGrid = NeuronGrid,
            neurons,
            weights,
        };
        State = (JsonSerializer.Serialize(state, Json), version);
        var previous = changed;
        changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }

    /// <summary>Data loss without the regularisation penalty (what the TensorFlow Playground shows), and accuracy.</summary>
    private (float Loss, float Accuracy) LossAndAccuracy(Tensor x, Tensor y, bool classification)
    {
        var p = model.Call(x).AsSpan();
        var t = y.AsSpan();
        if (p.Length == 0) return (0, 0);
        double sum = 0;
        int correct = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (classification)
            {
                double q = Math.Clamp(p[i], 1e-7, 1 - 1e-7); // Keras's epsilon
                sum -= t[i] * Math.Log(q) + (1 - t[i]) * Math.Log(1 - q);
                if ((p[i] >= 0.5f) == (t[i] > 0.5f)) correct++;
            }
            else sum += (p[i] - t[i]) * (double)(p[i] - t[i]);
        }
        return ((float)(sum / p.Length), (float)correct / p.Length);
    }

    private static float? Finite(float v) => float.IsFinite(v) ? MathF.Round(v, 5) : null;
}
