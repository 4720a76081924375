using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Metrics;
using Cortex.Optimizers;

namespace Cortex.Models;

/// <summary>
/// A trainable stack of layers with Keras's workflow: <see cref="Compile(Optimizer, Loss, IEnumerable{string})"/>, <see cref="Fit"/>,
/// <see cref="Evaluate"/>, <see cref="Predict"/>, <see cref="Summary"/>, <see cref="Save"/> and <see cref="Load"/>.
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(new Dense(25, "relu"), new Dense(15, "relu"), new Dense(10));
/// model.Compile(optimizer: new Adam(1e-3f), loss: new SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"]);
/// model.Fit(xTrain, yTrain, epochs: 20);
/// Tensor logits = model.Predict(xTest);
/// </code>
/// </example>
/// <remarks>
/// <para><b>Threads.</b> Separate models train and predict on separate threads at the same time. One model may be read
/// by several threads at once — <see cref="Call"/>, <see cref="Predict"/>, <see cref="Evaluate"/>,
/// <see cref="GetWeights"/>, <see cref="Save"/> — but while a thread changes it (<see cref="Fit"/>,
/// <see cref="SetWeights"/>, <see cref="Compile(Optimizer, Loss, IEnumerable{string})"/>, <see cref="Sequential.Add"/>,
/// <see cref="Sequential.Pop"/>, <see cref="Build"/>, or a first call that builds it), any use from another thread throws
/// an <see cref="InvalidOperationException"/> naming the model and the operation, rather than computing with
/// half-updated weights. The changing thread itself may use the model freely: Fit's callbacks may call Predict,
/// Evaluate, Save or SetWeights. A change waits for the reads already running on other threads to finish.</para>
/// <para>Layers, variables and the optimizer are not guarded themselves: calling a layer of the model, assigning a
/// variable or setting <see cref="Layer.Trainable"/> from another thread while the model trains is a race.</para>
/// </remarks>
public abstract partial class Model
{
    private static int modelCount;
    private protected readonly List<Layer> layers = [];

    /// <summary>Names the model (<c>sequential</c>, <c>sequential_1</c>, … when null).</summary>
    protected Model(string? name, string stem)
    {
        int n = Interlocked.Increment(ref modelCount) - 1;
        Name = name ?? (n == 0 ? stem : $"{stem}_{n}");
    }

    /// <summary>The model's name.</summary>
    public string Name { get; }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Layer> Layers => layers;

    /// <summary>The optimizer set by Compile.</summary>
    public Optimizer? Optimizer { get; private set; }

    /// <summary>
    /// How the last <see cref="Fit"/> trained: <c>"fused"</c> (every layer ran its allocation-free stage) or
    /// <c>"tape: …"</c> with the reason, e.g. <c>"tape: Dense 'dense_2' has a regularizer"</c>; null before any Fit.
    /// Both paths give the same results; the fused one is faster and allocates nothing per step.
    /// </summary>
    /// <example><code>model.Fit(x, y); Console.WriteLine(model.TrainingPath);   // fused</code></example>
    public string? TrainingPath { get; internal set; }

    /// <summary>The loss set by Compile.</summary>
    public Loss? Loss { get; private set; }

    /// <summary>The metric names given to Compile.</summary>
    public IReadOnlyList<string> MetricNames { get; private set; } = [];

    /// <summary>Set by a callback to end <see cref="Fit"/>: after the current batch when set at a batch (as TerminateOnNaN
    /// does), after the current epoch when set at its end (as EarlyStopping does).</summary>
    public bool StopTraining { get; set; }

    /// <summary>Whether every layer has its weights.</summary>
    public bool Built
    {
        get
        {
            // A loop rather than LINQ: every Call asks, and a boxed enumerator per single-sample Predict is garbage.
            foreach (var l in layers)
                if (!l.Built) return false;
            return layers.Count > 0;
        }
    }

    /// <summary>
    /// Why the model is not a chain of layers each feeding the next (null when it is): the fused training step, which
    /// runs layers as a list of stages, applies only to chains, and <see cref="TrainingPath"/> gives this reason otherwise.
    /// </summary>
    internal virtual string? NotAChain => null;

    /// <summary>The shape the model was built for (batch axis as -1), or null.</summary>
    public int[]? InputShape => layers.Count > 0 ? layers[0].BuildInputShape : null;

    /// <summary>All weights an optimizer updates, layer by layer.</summary>
    public IReadOnlyList<Variable> TrainableVariables => [.. layers.SelectMany(l => l.TrainableWeights)];

    /// <summary>All weights an optimizer leaves alone.</summary>
    public IReadOnlyList<Variable> NonTrainableVariables => [.. layers.SelectMany(l => l.NonTrainableWeights)];

    /// <summary>Every weight, layer by layer (each layer's in its <see cref="Layer.Weights"/> order).</summary>
    public IReadOnlyList<Variable> Variables => [.. layers.SelectMany(l => l.Weights)];

    /// <summary>Configures training: the optimizer, the loss, and metrics by name (<c>"accuracy"</c>, <c>"mse"</c>, …).</summary>
    /// <exception cref="ArgumentException">A metric name is unknown (the message lists the valid ones).</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public void Compile(Optimizer optimizer, Loss loss, IEnumerable<string>? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(loss);
        string[] names = metrics?.ToArray() ?? [];
        foreach (var m in names) Metric.Get(m, loss); // validate now, not mid-training
        using var use = Use("Compile", exclusive: true);
        Optimizer = optimizer;
        Loss = loss;
        MetricNames = names;
    }

    /// <summary>Configures training with Keras names: <c>Compile("adam", "sparse_categorical_crossentropy", ["accuracy"])</c>.</summary>
    public void Compile(string optimizer, string loss, IEnumerable<string>? metrics = null) =>
        Compile(Optimizer.Get(optimizer), Loss.Get(loss), metrics);

    /// <summary>
    /// The forward pass on all of <paramref name="x"/> at once, like calling <c>model(X)</c> in Keras. The first call
    /// builds the model for <paramref name="x"/>'s shape; if it throws, the model stays unbuilt.
    /// </summary>
    /// <remarks>Safe to call from several threads at once, and from Fit's callbacks; see the remarks on <see cref="Model"/>.</remarks>
    /// <exception cref="ArgumentException">The input's shape does not fit the model (the message names the layer).</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public Tensor Call(Tensor x, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var use = UseToRead("Call");
        return Forward(x, training);
    }

    /// <summary>
    /// The forward pass for code that already holds the model (Predict, Evaluate, Fit's checks): it does not enter the
    /// model again, so a Predict that was running when another thread's Fit began finishes its batches rather than
    /// throwing halfway. The first pass builds the model, and unbuilds it again if it throws.
    /// </summary>
    private Tensor Forward(Tensor x, bool training = false) => Built ? CallCore(x, training) : BuildAndCall(x, training);

    // Apart from Forward so that Forward captures nothing: a lambda there would allocate its closure on every call.
    private Tensor BuildAndCall(Tensor x, bool training) => RollBackBuildOnFailure(() => CallCore(x, training));

    /// <summary>The forward pass behind <see cref="Call"/>, which has checked that the thread may use the model.</summary>
    protected abstract Tensor CallCore(Tensor x, bool training);

    /// <summary>Builds every layer for inputs of <paramref name="inputShape"/> (batch axis included; its size is ignored).</summary>
    /// <exception cref="InvalidOperationException">Another thread is using the model.</exception>
    public abstract void Build(int[] inputShape);

    /// <summary>The regularisation penalties of all layers (added to the loss in training and evaluation).</summary>
    public IEnumerable<Tensor> RegularizationLosses() => layers.SelectMany(l => l.RegularizationLosses());

    /// <summary>Copies of every weight, layer by layer.</summary>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public Tensor[] GetWeights()
    {
        using var use = Use("GetWeights", exclusive: false);
        return [.. Variables.Select(v => v.Value())];
    }

    /// <summary>Replaces every weight, in <see cref="GetWeights"/> order; nothing changes unless all shapes match.</summary>
    /// <exception cref="ArgumentException">The count or a shape differs.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public void SetWeights(IReadOnlyList<Tensor> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        using var use = Use("SetWeights", exclusive: true);
        var vars = Variables;
        if (weights.Count != vars.Count)
            throw new ArgumentException($"Model '{Name}' has {vars.Count} weights. Received: {weights.Count}");
        for (int i = 0; i < vars.Count; i++)
            if (!ShapeUtil.SameShape(vars[i].ShapeRef, weights[i].ShapeRef))
                throw new ArgumentException($"Model '{Name}' weight '{vars[i].Name}' has shape {ShapeUtil.Format(vars[i].ShapeRef)}. Received: shape {ShapeUtil.Format(weights[i].ShapeRef)}");
        for (int i = 0; i < vars.Count; i++) vars[i].Assign(weights[i]);
    }

    /// <summary>Runs the model in batches and returns the stacked outputs (no training-only behaviour).</summary>
    /// <remarks>Safe to call from several threads at once, and from Fit's callbacks; from another thread while Fit
    /// trains the model it throws (see the remarks on <see cref="Model"/>).</remarks>
    /// <exception cref="ArgumentException">The input's shape does not fit the model (the message names the layer).</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public Tensor Predict(Tensor x, int batchSize = 32, int verbose = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckBatchSize(batchSize);
        using var use = UseToRead("Predict");
        int n = x.Rank == 0 ? 0 : x.ShapeRef[0];
        if (n <= batchSize) return Forward(x);
        Tensor? result = null;
        int outRow = 0;
        var progress = new ProgressBar(verbose, (n + batchSize - 1) / batchSize);
        for (int start = 0, step = 0; start < n; start += batchSize, step++)
        {
            var yb = Forward(x.Slice(start, Math.Min(batchSize, n - start)));
            if (result == null)
            {
                int[] shape = yb.Shape;
                shape[0] = n;
                result = Tensor.Uninitialized(shape);
                outRow = yb.Size / yb.ShapeRef[0];
            }
            yb.AsSpan().CopyTo(result.Span.Slice(start * outRow));
            progress.Update(step + 1, null);
        }
        progress.Finish(null);
        return result!;
    }

    /// <summary>The loss (and compiled metrics) on <paramref name="x"/>, <paramref name="y"/>, computed in batches.</summary>
    /// <returns>Keys <c>loss</c> and each metric's name.</returns>
    /// <remarks>Safe to call from several threads at once, and from Fit's callbacks; from another thread while Fit
    /// trains the model it throws (see the remarks on <see cref="Model"/>). If it throws on an unbuilt model, the model
    /// stays unbuilt.</remarks>
    /// <exception cref="InvalidOperationException">The model is not compiled, or another thread is training or changing it.</exception>
    public Dictionary<string, float> Evaluate(Tensor x, Tensor y, int batchSize = 32, int verbose = 0)
    {
        using var use = UseToRead("Evaluate");
        RequireCompiled("Evaluate");
        CheckXY("Evaluate", x, y);
        CheckBatchSize(batchSize);
        RollBackBuildOnFailure(() =>
        {
            EnsureBuiltFor(x);
            CheckLabels("Evaluate", y);
            return true;
        });
        return EvaluateCore(x, y, batchSize, verbose, prefix: "");
    }

    private Dictionary<string, float> EvaluateCore(Tensor x, Tensor y, int batchSize, int verbose, string prefix)
    {
        var lossMean = new RunningMean();
        var metrics = MetricNames.Select(m => Metric.Get(m, Loss)).ToList();
        int n = x.ShapeRef[0];
        int steps = (n + batchSize - 1) / batchSize;
        var progress = new ProgressBar(verbose, steps);
        float reg = RegularizationLosses().Aggregate(0f, (s, t) => s + t.Item());
        for (int start = 0, step = 0; start < n; start += batchSize, step++)
        {
            int len = Math.Min(batchSize, n - start);
            Tensor xb = x.Slice(start, len), yb = y.Slice(start, len);
            Tensor pred = Forward(xb);
            float loss = Loss!.Call(yb, pred).Item() + reg;
            lossMean.UpdateState(loss, len);
            foreach (var m in metrics) m.UpdateState(yb, pred);
            progress.Update(step + 1, () => Logs(lossMean, metrics, ""));
        }
        var logs = Logs(lossMean, metrics, prefix);
        progress.Finish(logs);
        return logs;
    }

    internal static Dictionary<string, float> Logs(RunningMean loss, List<Metric> metrics, string prefix)
    {
        var logs = new Dictionary<string, float> { [prefix + "loss"] = loss.Result() };
        foreach (var m in metrics) logs[prefix + m.Name] = m.Result();
        return logs;
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> passes over the data in shuffled mini-batches of <paramref name="batchSize"/>.
    /// Every input check happens before the first update, so a call that throws leaves the model as it was — an unbuilt
    /// model stays unbuilt.
    /// </summary>
    /// <remarks>
    /// Fit holds the model for its whole run: its callbacks (and its own validation) may call Predict, Evaluate, Save,
    /// GetWeights or SetWeights on it, but any use from another thread — a second Fit included — throws an
    /// <see cref="InvalidOperationException"/> naming the model, instead of seeing weights halfway through an update.
    /// Fit first waits for Predict or Evaluate calls already running on other threads. Separate models train on
    /// separate threads concurrently. See the remarks on <see cref="Model"/>.
    /// </remarks>
    /// <param name="x">Inputs, samples along the first axis.</param>
    /// <param name="y">Targets with as many rows as <paramref name="x"/> (class indices for sparse losses).</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Samples per gradient step (Keras default 32).</param>
    /// <param name="shuffle">Reshuffle the training rows before each epoch.</param>
    /// <param name="validationSplit">Fraction of rows, taken from the end before shuffling, held out for validation.</param>
    /// <param name="validationData">Explicit validation inputs and targets (overrides <paramref name="validationSplit"/>).</param>
    /// <param name="callbacks">Hooks run at epoch and batch boundaries.</param>
    /// <param name="verbose">0 silent, 1 progress bar, 2 one line per epoch.</param>
    /// <param name="cancellationToken">Stops training between batches; the model keeps the updates made so far.</param>
    /// <returns>Per-epoch loss and metrics (<c>val_</c>-prefixed for validation).</returns>
    /// <exception cref="InvalidOperationException">The model is not compiled, or another thread is training or changing it.</exception>
    /// <exception cref="ArgumentException">Bad data: row counts differ, NaN in the inputs, a label out of range, a shape the model does not take.</exception>
    public History Fit(Tensor x, Tensor y, int epochs = 1, int batchSize = 32, bool shuffle = true,
        float validationSplit = 0f, (Tensor X, Tensor Y)? validationData = null, IEnumerable<Callback>? callbacks = null,
        int verbose = 1, CancellationToken cancellationToken = default)
    {
        using var use = Use("Fit", exclusive: true);
        var (xTrain, yTrain, xVal, yVal) = RollBackBuildOnFailure(() => PrepareFit(x, y, epochs, batchSize, validationSplit, validationData));

        var history = new History();
        var cbs = new List<Callback>(callbacks ?? []) { history };
        foreach (var cb in cbs) cb.SetModel(this);
        StopTraining = false;
        var trainer = new Trainer(this, xTrain, yTrain, batchSize, shuffle);
        foreach (var cb in cbs) cb.OnTrainBegin();
        for (int epoch = 0; epoch < epochs && !StopTraining && !cancellationToken.IsCancellationRequested; epoch++)
        {
            foreach (var cb in cbs) cb.OnEpochBegin(epoch);
            if (verbose == 1) Console.WriteLine($"Epoch {epoch + 1}/{epochs}");
            var logs = trainer.RunEpoch(verbose, cbs, cancellationToken);
            if (xVal != null) foreach (var kv in EvaluateCore(xVal, yVal!, batchSize, 0, "val_")) logs[kv.Key] = kv.Value;
            trainer.Progress?.Finish(logs);
            foreach (var cb in cbs) cb.OnEpochEnd(epoch, logs);
        }
        foreach (var cb in cbs) cb.OnTrainEnd();
        return history;
    }

    /// <summary>Fit's checks, all before the first update: arguments, data, the build for the data, labels and the
    /// loss on one row. Returns the training and validation data.</summary>
    private (Tensor X, Tensor Y, Tensor? XVal, Tensor? YVal) PrepareFit(Tensor x, Tensor y, int epochs, int batchSize,
        float validationSplit, (Tensor X, Tensor Y)? validationData)
    {
        RequireCompiled("Fit");
        CheckXY("Fit", x, y);
        CheckBatchSize(batchSize);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), $"Fit: epochs must be non-negative. Received: {epochs}");
        if (!(validationSplit >= 0f && validationSplit < 1f))
            throw new ArgumentOutOfRangeException(nameof(validationSplit), $"Fit: validationSplit must be in [0, 1). Received: {validationSplit}");
        CheckFinite("Fit", "x", x);
        CheckFinite("Fit", "y", y);

        // Keras takes the validation rows from the end, before any shuffling.
        Tensor xTrain = x, yTrain = y;
        Tensor? xVal = null, yVal = null;
        if (validationData is { } vd)
        {
            CheckXY("Fit (validationData)", vd.X, vd.Y);
            (xVal, yVal) = vd;
        }
        else if (validationSplit > 0)
        {
            int n = x.ShapeRef[0];
            int split = (int)(n * (1.0 - validationSplit));
            if (split == 0 || split == n)
                throw new ArgumentException($"Fit: validationSplit={validationSplit} leaves no rows for training or validation ({n} rows).");
            xTrain = x.Slice(0, split); yTrain = y.Slice(0, split);
            xVal = x.Slice(split, n - split); yVal = y.Slice(split, n - split);
        }
        EnsureBuiltFor(xTrain);
        CheckAllRows(xTrain);
        CheckLabels("Fit", yTrain);
        if (xVal != null)
        {
            Forward(xVal.Slice(0, Math.Min(1, xVal.ShapeRef[0])));
            CheckAllRows(xVal);
            CheckLabels("Fit (validation)", yVal!);
        }
        Loss!.Call(yTrain.Slice(0, 1), Forward(xTrain.Slice(0, 1))); // label/prediction shape mismatches surface here, before any update
        return (xTrain, yTrain, xVal, yVal);
    }

    private void RequireCompiled(string op)
    {
        if (Optimizer == null || Loss == null)
            throw new InvalidOperationException($"Model '{Name}': you must call Compile(optimizer, loss) before {op}().");
    }

    private static void CheckBatchSize(int batchSize)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batchSize must be positive. Received: {batchSize}");
    }

    private static void CheckXY(string op, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Rank == 0 || y.Rank == 0)
            throw new ArgumentException($"{op}: x and y need a sample axis. Received: x shape {ShapeUtil.Format(x.ShapeRef)}, y shape {ShapeUtil.Format(y.ShapeRef)}");
        if (x.ShapeRef[0] != y.ShapeRef[0])
            throw new ArgumentException($"{op}: x and y must have the same number of rows. Received: x has {x.ShapeRef[0]} rows (shape {ShapeUtil.Format(x.ShapeRef)}), y has {y.ShapeRef[0]} rows (shape {ShapeUtil.Format(y.ShapeRef)})");
        if (x.ShapeRef[0] == 0) throw new ArgumentException($"{op}: x has no rows.");
        if (x.Size == 0 || y.Size == 0)
            throw new ArgumentException($"{op}: every sample needs at least one value in x and in y. Received: x shape {ShapeUtil.Format(x.ShapeRef)}, y shape {ShapeUtil.Format(y.ShapeRef)}");
    }

    private static void CheckFinite(string op, string what, Tensor t)
    {
        ReadOnlySpan<float> s = t.AsSpan();
        // A NaN or ±inf anywhere makes the sum non-finite, so one SIMD pass clears the common case; only a
        // non-finite sum (or an overflow of huge finite values) pays for the scan that finds the row.
        if (float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Sum(s))) return;
        int perRow = Math.Max(1, t.Size / t.ShapeRef[0]);
        for (int k = 0; k < s.Length; k++)
            if (!float.IsFinite(s[k]))
                throw new ArgumentException($"{op}: {what} contains {(float.IsNaN(s[k]) ? "NaN" : "infinity")} at row {k / perRow} (column {k % perRow}); clean or impute the data first.");
    }

    /// <summary>The first layer's input check on every row, not only the one the build saw (an Embedding's indices), so
    /// that a bad row deep in the data fails Fit before the first update rather than in the middle of an epoch.</summary>
    private protected virtual void CheckAllRows(Tensor x)
    {
        foreach (var layer in layers)
        {
            layer.CheckData(x);
            if (layer is not Input) break;
        }
    }

    /// <summary>Builds the model from the data's shape (or checks the data fits the built model) with one sample.</summary>
    private void EnsureBuiltFor(Tensor x) => Forward(x.Slice(0, Math.Min(1, x.ShapeRef[0])));

    /// <summary>For sparse cross-entropy, every label must be a class index the output layer can produce; for binary
    /// and categorical cross-entropy, 0, 1 or a probability.</summary>
    private void CheckLabels(string op, Tensor y)
    {
        if (Loss is BinaryCrossentropy) BinaryCrossentropy.CheckLabels(op, y);
        if (Loss is CategoricalCrossentropy) CategoricalCrossentropy.CheckLabels(op, y);
        if (Loss is not SparseCategoricalCrossentropy) return;
        var outShape = OutputShape();
        int classes = outShape[^1];
        ReadOnlySpan<float> s = y.AsSpan();
        for (int i = 0; i < s.Length; i++)
        {
            float v = s[i];
            if (!(v >= 0 && v < classes) || v != MathF.Floor(v))
                throw new ArgumentException($"{op}: label {v} at row {i / Math.Max(1, y.Size / y.ShapeRef[0])} is not a class index in [0, {classes}) (the model outputs {classes} classes).");
        }
    }

    /// <summary>The output shape for the built input shape (batch axis -1).</summary>
    public virtual int[] OutputShape()
    {
        if (!Built) throw new InvalidOperationException($"Model '{Name}' is not built yet: call it on data, Fit it, or Build(inputShape).");
        int[] shape = InputShape!;
        foreach (var l in layers) shape = l.ComputeOutputShape(shape);
        return shape;
    }
}
