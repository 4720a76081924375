using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Metrics;
using Cortex.Optimizers;

namespace Cortex.Models;

/// <summary>
/// A trainable stack of layers with Keras's workflow: <see cref="Compile(Optimizer, Loss, IEnumerable{string}, IEnumerable{string})"/>, <see cref="Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/>,
/// <see cref="Evaluate(Tensor, Tensor, int, int, Tensor)"/>, <see cref="Predict(Tensor, int, int)"/>, <see cref="Summary"/>, <see cref="Save"/> and <see cref="Load"/>.
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
/// by several threads at once — <see cref="Call(Tensor, bool)"/>, <see cref="Predict(Tensor, int, int)"/>, <see cref="Evaluate(Tensor, Tensor, int, int, Tensor)"/>,
/// <see cref="GetWeights"/>, <see cref="Save"/> — but while a thread changes it (<see cref="Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/>,
/// <see cref="SetWeights"/>, <see cref="Compile(Optimizer, Loss, IEnumerable{string}, IEnumerable{string})"/>, <see cref="Sequential.Add"/>,
/// <see cref="Sequential.Pop"/>, <see cref="Build(int[])"/>, or a first call that builds it), any use from another thread throws
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

    /// <summary>The layer named <paramref name="name"/>, as Keras's <c>model.get_layer(name)</c> (e.g. to read a shared
    /// layer's weights in a graph).</summary>
    /// <example><code>var dense = (Dense)model.GetLayer("dense_1");</code></example>
    /// <exception cref="ArgumentException">No layer has that name (the message lists the layers).</exception>
    public Layer GetLayer(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var l in layers)
            if (l.Name == name) return l;
        throw new ArgumentException($"No such layer: {name}. Existing layers are: [{string.Join(", ", layers.Select(l => l.Name))}].", nameof(name));
    }

    /// <summary>The optimizer set by Compile.</summary>
    public Optimizer? Optimizer { get; private set; }

    /// <summary>
    /// How the last <see cref="Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/> trained: <c>"fused"</c> (every layer ran its allocation-free stage) or
    /// <c>"tape: …"</c> with the reason, e.g. <c>"tape: Dense 'dense_2' has a regularizer"</c>; null before any Fit.
    /// Both paths give the same results; the fused one is faster and allocates nothing per step.
    /// </summary>
    /// <example><code>model.Fit(x, y); Console.WriteLine(model.TrainingPath);   // fused</code></example>
    public string? TrainingPath { get; internal set; }

    /// <summary>The loss set by Compile (with one loss per output, the first output's).</summary>
    public Loss? Loss => Losses.Count > 0 ? Losses[0] : null;

    /// <summary>The losses set by Compile: one for every output, or one per output.</summary>
    public IReadOnlyList<Loss> Losses { get; private set; } = [];

    /// <summary>The weight of each output's loss in the total that training minimises, or null for all 1.</summary>
    public IReadOnlyList<float>? LossWeights { get; private set; }

    /// <summary>The number of input tensors the model takes (1 but for a <see cref="Functional"/> or a subclassed model
    /// with several).</summary>
    internal virtual int InputCount => subclassInputs;

    /// <summary>The names of the outputs, which prefix their losses and metrics in the logs when there are several
    /// (Keras's <c>dense_1_loss</c>); one output is unnamed.</summary>
    internal virtual IReadOnlyList<string> OutputNames => subclassOutputNames;

    /// <summary>The forward pass on one tensor per input, giving one per output.</summary>
    private protected virtual Tensor[] CallAll(IReadOnlyList<Tensor> x, bool training) =>
        Subclassed ? CallSubclass(x, training) : [CallCore(x[0], training)];

    /// <summary><see cref="CallAll"/> that also gives each output's mask (Keras's <c>_keras_mask</c>), null where an
    /// output carries none (a <see cref="Functional"/> does not track masks to its outputs yet).</summary>
    private protected virtual Tensor[] CallAllMasked(IReadOnlyList<Tensor> x, bool training, out Tensor?[] masks)
    {
        masks = new Tensor?[OutputNames.Count];
        return CallAll(x, training);
    }

    /// <summary>The forward pass of Fit's and Evaluate's batches (the model is built) with the outputs' masks, which
    /// weigh the loss and the metrics as in Keras: masked steps of a sequence output count for nothing.</summary>
    internal Tensor[] ForwardMasked(IReadOnlyList<Tensor> x, bool training, out Tensor?[] masks) => CallAllMasked(x, training, out masks);

    /// <summary>Whether an output carries a mask for <paramref name="x"/> (a forward on its first row).</summary>
    internal bool OutputsMasked(Tensor[] x)
    {
        ForwardMasked(Rows(x, 0, 1), false, out var masks);
        return masks.Any(m => m != null);
    }

    /// <summary>The metric names given to Compile.</summary>
    public IReadOnlyList<string> MetricNames { get; private set; } = [];

    /// <summary>Set by a callback to end <see cref="Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/>: after the current batch when set at a batch (as TerminateOnNaN
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
    internal virtual string? NotAChain => Subclassed ? "the model is subclassed (its own CallCore)" : null;

    /// <summary>
    /// The layer calls the fused training step runs, in forward order, each with the positions (in this list) of the
    /// calls whose outputs it reads, -1 for the model's input; the last call makes the output. A model of layers is
    /// their chain; null, with the reason, when the model cannot run as stages (subclassed, or a graph the step does
    /// not take).
    /// </summary>
    internal virtual (Layer Layer, int[] From)[]? StageGraph(out string reason)
    {
        reason = NotAChain ?? "";
        if (reason.Length > 0) return null;
        var graph = new (Layer, int[])[layers.Count];
        for (int i = 0; i < graph.Length; i++) graph[i] = (layers[i], [i - 1]);
        return graph;
    }

    /// <summary>The shape the model was built for (batch axis as -1), or null.</summary>
    public int[]? InputShape => Subclassed ? SubclassInputShape : layers.Count > 0 ? layers[0].BuildInputShape : null;

    /// <summary>All weights an optimizer updates, layer by layer.</summary>
    public IReadOnlyList<Variable> TrainableVariables => [.. layers.SelectMany(l => l.TrainableWeights)];

    /// <summary>All weights an optimizer leaves alone.</summary>
    public IReadOnlyList<Variable> NonTrainableVariables => [.. layers.SelectMany(l => l.NonTrainableWeights)];

    /// <summary>Every weight, layer by layer (each layer's in its <see cref="Layer.Weights"/> order).</summary>
    public IReadOnlyList<Variable> Variables => [.. layers.SelectMany(l => l.Weights)];

    /// <summary>Configures training: the optimizer, the loss, and metrics by name (<c>"accuracy"</c>, <c>"mse"</c>, …).
    /// <paramref name="weightedMetrics"/> are metrics that, as Keras's <c>weighted_metrics</c>, receive Fit's and
    /// Evaluate's <c>sampleWeight</c> (or <c>classWeight</c>); plain <paramref name="metrics"/> stay unweighted. Both get
    /// a sequence output's mask. A weighted metric whose name a plain one already has logs as <c>weighted_{name}</c>.</summary>
    /// <example><code>model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"], weightedMetrics: ["accuracy"]);
    /// // logs: loss, accuracy, weighted_accuracy</code></example>
    /// <exception cref="ArgumentException">A metric name is unknown (the message lists the valid ones), or the loss has
    /// reduction <c>"none"</c>.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public void Compile(Optimizer optimizer, Loss loss, IEnumerable<string>? metrics = null, IEnumerable<string>? weightedMetrics = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        Compile(optimizer, [loss], null, metrics, weightedMetrics);
    }

    /// <summary>
    /// Configures training with an optimizer alone, as Keras's <c>compile(optimizer=...)</c> without a loss: for a model
    /// whose own <see cref="TrainStep"/> computes its loss (an autoencoder's reconstruction, a GAN's two losses), which
    /// Fit then runs with or without labels. Evaluate, and Fit of a model without its own TrainStep, need a loss.
    /// </summary>
    /// <example><code>autoencoder.Compile(new Adam(1e-3f));
    /// autoencoder.Fit(images, epochs: 10);   // no labels: its TrainStep reconstructs x</code></example>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public void Compile(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        using var use = Use("Compile", exclusive: true);
        Optimizer = optimizer;
        Losses = [];
        LossWeights = null;
        MetricNames = [];
        WeightedMetricNames = [];
    }

    /// <summary>
    /// Configures training of a model with several outputs: one loss for all outputs or one per output, each output's
    /// loss weighted by <paramref name="lossWeights"/> (all 1 when null) in the total, and metrics (by name) computed
    /// for every output. The logs then hold <c>loss</c> (the weighted total), and per output <c>{output}_loss</c> and
    /// <c>{output}_{metric}</c>, where <c>{output}</c> is the name of the layer that makes it, as Keras names them.
    /// </summary>
    /// <example><code>model.Compile(new Adam(), loss: [new SparseCategoricalCrossentropy(fromLogits: true), new MeanSquaredError()], lossWeights: [1f, 0.5f]);</code></example>
    /// <exception cref="ArgumentException">The number of losses is neither 1 nor the number of outputs, the number of
    /// weights is not the number of outputs, a weight is negative or not finite, or a metric name is unknown.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public void Compile(Optimizer optimizer, IReadOnlyList<Loss> loss, IReadOnlyList<float>? lossWeights = null, IEnumerable<string>? metrics = null,
        IEnumerable<string>? weightedMetrics = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(loss);
        int outputs = OutputNames.Count;
        if (loss.Count != 1 && loss.Count != outputs)
            throw new ArgumentException($"Model '{Name}' has {outputs} outputs: expected 1 loss or {outputs}. Received: {loss.Count}", nameof(loss));
        foreach (var l in loss) RequireScalarLoss(l ?? throw new ArgumentNullException(nameof(loss)));
        if (lossWeights != null && (lossWeights.Count != outputs || lossWeights.Any(w => !(w >= 0 && float.IsFinite(w)))))
            throw new ArgumentException($"Model '{Name}' has {outputs} outputs: expected {outputs} finite, non-negative loss weights. Received: [{string.Join(", ", lossWeights)}]", nameof(lossWeights));
        string[] names = metrics?.ToArray() ?? [], weighted = weightedMetrics?.ToArray() ?? [];
        foreach (var m in names.Concat(weighted))
            foreach (var l in loss) Metric.Get(m, l); // validate now, not mid-training
        using var use = Use("Compile", exclusive: true);
        Optimizer = optimizer;
        Losses = [.. loss];
        LossWeights = lossWeights?.ToArray();
        MetricNames = names;
        WeightedMetricNames = weighted;
    }

    /// <summary>The weighted metric names given to Compile (Keras's <c>weighted_metrics</c>).</summary>
    public IReadOnlyList<string> WeightedMetricNames { get; private set; } = [];

    /// <summary>Training minimises one number: a loss with <c>reduction: "none"</c> (per-sample losses) is refused here,
    /// where Keras would fail or sum silently later; such a loss is for custom loops (<see cref="Loss.Call(Tensor, Tensor, Tensor)"/>).</summary>
    private static void RequireScalarLoss(Loss loss)
    {
        if (loss.Reduction == "none")
            throw new ArgumentException($"Compile: {loss.GetType().Name} has reduction \"none\", which gives one loss per sample, but training needs one number. Expected reduction \"sum_over_batch_size\" (the default), \"mean\", \"sum\" or \"mean_with_sample_weight\". Received: reduction=\"none\"", nameof(loss));
    }

    /// <summary>One output's part in training and evaluation: its loss, its weight (null: 1), its own metric objects
    /// (plain, then weighted: <see cref="Metrics"/> holds both, the weighted ones from <see cref="FirstWeighted"/> on),
    /// running loss, and the prefix of its log keys (empty for a model with one output).</summary>
    internal sealed class Head(Loss loss, float? weight, string prefix, List<Metric> metrics, int firstWeighted, string[] keys)
    {
        public Loss Loss { get; } = loss;
        public float? Weight { get; } = weight;
        public string Prefix { get; } = prefix;
        public List<Metric> Metrics { get; } = metrics;
        public int FirstWeighted { get; } = firstWeighted;
        /// <summary>Each metric's log key (without prefixes): its name, <c>weighted_</c> before a weighted one whose name a plain one has.</summary>
        public string[] Keys { get; } = keys;
        public RunningMean LossMean { get; } = new();

        /// <summary>Adds a batch to every metric: the plain ones get the output's mask, the weighted ones the sample
        /// weights times the mask (Keras's weighted_metrics).</summary>
        public void UpdateMetrics(Tensor yTrue, Tensor yPred, Tensor? sampleWeight, Tensor? mask)
        {
            Tensor? both = sampleWeight == null ? mask : mask == null ? sampleWeight
                : sampleWeight.Reshape([.. sampleWeight.ShapeRef, .. Enumerable.Repeat(1, mask.Rank - sampleWeight.Rank)]) * mask;
            for (int i = 0; i < Metrics.Count; i++) Metrics[i].UpdateState(yTrue, yPred, i < FirstWeighted ? mask : both);
        }
    }

    /// <summary>Fresh heads for a Fit or an Evaluate, one per output (the model is compiled).</summary>
    internal Head[] MakeHeads()
    {
        var names = OutputNames;
        if (Losses.Count == 0) return []; // compiled without a loss, for a custom TrainStep
        var heads = new Head[names.Count];
        for (int i = 0; i < heads.Length; i++)
        {
            var loss = Losses.Count == 1 ? Losses[0] : Losses[i];
            List<Metric> metrics = [.. MetricNames.Concat(WeightedMetricNames).Select(m => Metric.Get(m, loss))];
            string[] keys = [.. metrics.Select((m, k) => k >= MetricNames.Count && metrics.Take(MetricNames.Count).Any(p => p.Name == m.Name) ? "weighted_" + m.Name : m.Name)];
            heads[i] = new Head(loss, LossWeights?[i], names.Count == 1 ? "" : names[i] + "_", metrics, MetricNames.Count, keys);
        }
        return heads;
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

    /// <summary>The forward pass of a model with several inputs or outputs: one tensor per input, in the order the
    /// model lists them, gives one per output.</summary>
    /// <remarks>Safe to call from several threads at once, and from Fit's callbacks; see the remarks on <see cref="Model"/>.</remarks>
    /// <example><code>Tensor[] outputs = model.Call([images, metadata]);</code></example>
    /// <exception cref="ArgumentException">The number of inputs or a shape does not fit the model.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public Tensor[] Call(Tensor[] x, bool training = false)
    {
        CheckInputs("Call", x);
        using var use = UseToRead("Call");
        return ForwardAll(x, training);
    }

    /// <summary><see cref="Forward"/> for one tensor per input, giving one per output.</summary>
    private Tensor[] ForwardAll(IReadOnlyList<Tensor> x, bool training = false) =>
        Built ? CallAll(x, training) : RollBackBuildOnFailure(() => CallAll(x, training));

    /// <summary>Checks there is one tensor per input, none null, all with the same number of rows.</summary>
    private void CheckInputs(string op, Tensor[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Length != InputCount)
            throw new ArgumentException($"{op}: model '{Name}' takes {InputCount} input(s). Received: {x.Length} tensors", nameof(x));
        foreach (var t in x) ArgumentNullException.ThrowIfNull(t, nameof(x));
        if (x.Any(t => t.Rank == 0 || t.ShapeRef[0] != x[0].ShapeRef[0]))
            throw new ArgumentException($"{op}: every input needs a sample axis and the same number of rows. Received: shapes {string.Join(", ", x.Select(t => ShapeUtil.Format(t.ShapeRef)))}", nameof(x));
    }

    /// <summary>
    /// The forward pass behind <see cref="Call(Tensor, bool)"/>, which has checked that the thread may use the model. A
    /// subclassed model with one input and one output overrides this one; one with several overrides
    /// <see cref="CallCore(Tensor[], bool)"/> instead (the default here runs that one on <c>[x]</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The model takes several inputs or gives several outputs: pass an array.</exception>
    protected virtual Tensor CallCore(Tensor x, bool training)
    {
        if (InputCount != 1 || OutputNames.Count != 1)
            throw new InvalidOperationException($"Model '{Name}' has {InputCount} inputs and {OutputNames.Count} outputs: pass one tensor per input, as an array, to Call, Predict, Evaluate or Fit (which then return one per output).");
        return CallSubclass([x], training)[0];
    }

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
        if (verbose == 0 && TryPredictOnStages(x, batchSize) is { } fast) return fast;
        return n <= batchSize ? Forward(x) : PredictBatches([x], batchSize, verbose)[0];
    }

    /// <summary>The bytes of buffers Predict's stages may keep beyond <see cref="StageRowsMin"/> rows (the model holds
    /// them between calls): 16 MiB. They run as many rows at once as fit (the MLP's 1,000 rows in one run, reading the
    /// input in place; the CNN's in ~500-row runs), up to the batch size asked for.</summary>
    private const long StageBytesMax = 16L << 20;

    /// <summary>The rows Predict's stages take at once whatever their buffers cost, up to the batch size asked for (a
    /// recurrent layer keeps every step's gates: 256 rows of the LSTM's are ~22 MiB, and fewer rows ran slower).</summary>
    private const int StageRowsMin = 256;

    /// <summary>Predict's forward-only stages (see <see cref="TryPredictOnStages"/>): taken by a call while it runs, so
    /// a concurrent Predict finds none and calls the layers instead (one set of buffers per model).</summary>
    private FusedTrainStep? inferenceStep;

    /// <summary>The sample shape whose stages could not be made (the layers' calls serve it; not retried until a change).</summary>
    private int[]? inferenceRefused;

    /// <summary>The sample shape of the stages made last (so a Predict that finds them taken knows another call has them).</summary>
    private int[]? inferenceSample;

    /// <summary>Makes Predict on this thread call the layers even where its stages apply (tests compare the two).</summary>
    [ThreadStatic] internal static bool ForceLayerPredict;

    /// <summary>Whether the last Predict ran on stages (kept since; tests check which path they exercised).</summary>
    internal bool PredictsOnStages => Volatile.Read(ref inferenceStep) != null;

    /// <summary>Forgets Predict's stages: called when the model changes.</summary>
    private void ForgetInference()
    {
        inferenceStep = null;
        inferenceRefused = null;
        inferenceSample = null;
    }

    /// <summary>
    /// Predict on the fused step's stages run forward in inference mode, on buffers kept between calls: no tape, no
    /// tensor per layer, nothing allocated but the result, the convolutions' bias and activation fused as in training.
    /// For a built model with one input and one output whose layers all have stages (else null: the layers' calls
    /// run). Each row's result does not depend on the other rows' values, so this gives the bits the layers' calls give
    /// for the same batch size (how many rows run together can choose a convolution's algorithm: see Winograd).
    /// </summary>
    private Tensor? TryPredictOnStages(Tensor x, int batchSize)
    {
        if (ForceLayerPredict || x.Rank < 2 || x.ShapeRef[0] == 0) return null;
        int n = x.ShapeRef[0];
        ReadOnlySpan<int> sample = x.ShapeRef.AsSpan(1);
        int rows = Math.Min(batchSize, n);
        var step = Interlocked.Exchange(ref inferenceStep, null);
        if (step != null && step.InputSample.AsSpan().SequenceEqual(sample)) rows = Math.Min(rows, step.RowsMax);
        // Kept stages exist only for a built one-input, one-output model and are forgotten at any change, so a call they
        // fit checks nothing else (and allocates nothing but its result).
        if (step == null || step.Batch < rows || !step.InputSample.AsSpan().SequenceEqual(sample))
        {
            if (Subclassed || InputCount != 1 || OutputNames.Count != 1 || !Built
                || InputShape is not { } expected || !expected.AsSpan(1).SequenceEqual(sample) // the layers' calls check
                || inferenceRefused != null && inferenceRefused.AsSpan().SequenceEqual(sample))
            {
                Keep(step); // stages for another shape or batch stay for the calls they fit
                return null;
            }
            if (step == null && Volatile.Read(ref inferenceSample) is { } made && made.AsSpan().SequenceEqual(sample))
                return null; // another thread's Predict has the stages: this one calls the layers rather than make a second set
            int[] shape = sample.ToArray();
            FusedTrainStep? fresh;
            try
            {
                // Stages for one row and for two, to learn what a row's buffers cost; then for as many rows as fit.
                long before = GC.GetAllocatedBytesForCurrentThread();
                fresh = FusedTrainStep.TryCreateInference(this, shape, 1, out _);
                long one = GC.GetAllocatedBytesForCurrentThread() - before;
                var two = fresh == null || rows < 2 ? null : FusedTrainStep.TryCreateInference(this, shape, 2, out _);
                if (two != null)
                {
                    long perRow = GC.GetAllocatedBytesForCurrentThread() - before - 2 * one;
                    int fit = (int)Math.Clamp(StageBytesMax / Math.Max(perRow, 1), StageRowsMin, int.MaxValue);
                    int batch = Math.Min(Math.Max(rows, step?.Batch ?? 0), fit);
                    fresh = batch == 2 ? two : FusedTrainStep.TryCreateInference(this, shape, batch, out _);
                    if (fresh != null) fresh.RowsMax = fit;
                }
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { fresh = null; } // the layers' calls will say it
            if (fresh == null)
            {
                inferenceRefused = shape;
                Keep(step);
                return null;
            }
            step = fresh;
            inferenceSample = shape;
        }
        try { return step.Predict(x, n); }
        finally { Keep(step); }
    }

    /// <summary>Puts stages a Predict took back for the next one (nothing when it took none).</summary>
    private void Keep(FusedTrainStep? step)
    {
        if (step != null) Volatile.Write(ref inferenceStep, step);
    }

    /// <summary>Predict for a model with several inputs or outputs: one tensor per input gives one per output, each
    /// stacked over the batches.</summary>
    /// <example><code>Tensor[] predictions = model.Predict([xA, xB]);   // one per output</code></example>
    /// <exception cref="ArgumentException">The number of inputs or a shape does not fit the model.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public Tensor[] Predict(Tensor[] x, int batchSize = 32, int verbose = 0)
    {
        CheckInputs("Predict", x);
        CheckBatchSize(batchSize);
        using var use = UseToRead("Predict");
        return x[0].ShapeRef[0] <= batchSize ? ForwardAll(x) : PredictBatches(x, batchSize, verbose);
    }

    private Tensor[] PredictBatches(Tensor[] x, int batchSize, int verbose)
    {
        int n = x[0].ShapeRef[0];
        Tensor[]? result = null;
        var progress = new ProgressBar(verbose, (n + batchSize - 1) / batchSize);
        for (int start = 0, step = 0; start < n; start += batchSize, step++)
        {
            var yb = ForwardAll(Rows(x, start, Math.Min(batchSize, n - start)));
            result ??= [.. yb.Select(t => Tensor.Uninitialized([n, .. t.ShapeRef.AsSpan(1)]))];
            for (int k = 0; k < yb.Length; k++)
                yb[k].AsSpan().CopyTo(result[k].Span.Slice(start * (yb[k].Size / yb[k].ShapeRef[0])));
            progress.Update(step + 1, null);
        }
        progress.Finish(null);
        return result!;
    }

    /// <summary>Rows [start, start + length) of every tensor.</summary>
    private static Tensor[] Rows(Tensor[] t, int start, int length)
    {
        var rows = new Tensor[t.Length];
        for (int i = 0; i < t.Length; i++) rows[i] = t[i].Slice(start, length);
        return rows;
    }

    /// <summary>The loss (and compiled metrics) on <paramref name="x"/>, <paramref name="y"/>, computed in batches.</summary>
    /// <returns>Keys <c>loss</c> and each metric's name.</returns>
    /// <remarks>Safe to call from several threads at once, and from Fit's callbacks; from another thread while Fit
    /// trains the model it throws (see the remarks on <see cref="Model"/>). If it throws on an unbuilt model, the model
    /// stays unbuilt.</remarks>
    /// <exception cref="InvalidOperationException">The model is not compiled, or another thread is training or changing it.</exception>
    /// <param name="x">Inputs, samples along the first axis.</param>
    /// <param name="y">Targets with as many rows as <paramref name="x"/>.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="verbose">0 silent, 1 progress bar.</param>
    /// <param name="sampleWeight">Null, or a finite, non-negative weight per row that weighs the loss, as in
    /// <see cref="Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/>; metrics stay unweighted.</param>
    /// <example><code>float loss = model.Evaluate(xTest, yTest, sampleWeight: weights)["loss"];</code></example>
    public Dictionary<string, float> Evaluate(Tensor x, Tensor y, int batchSize = 32, int verbose = 0, Tensor? sampleWeight = null) =>
        Evaluate([x], [y], batchSize, verbose, sampleWeight);

    /// <summary>Evaluate for a model with several inputs or outputs: one tensor per input and one label tensor per
    /// output. The logs hold <c>loss</c> (the weighted total) and, with several outputs, <c>{output}_loss</c> and
    /// <c>{output}_{metric}</c> for each.</summary>
    /// <exception cref="InvalidOperationException">The model is not compiled, or another thread is training or changing it.</exception>
    /// <exception cref="ArgumentException">The number of tensors, their rows or shapes do not fit the model.</exception>
    /// <example><code>var logs = model.Evaluate([xImages, xMeta], [yClass, yScore]);</code></example>
    public Dictionary<string, float> Evaluate(Tensor[] x, Tensor[] y, int batchSize = 32, int verbose = 0, Tensor? sampleWeight = null)
    {
        using var use = UseToRead("Evaluate");
        RequireCompiled("Evaluate");
        CheckXY("Evaluate", x, y);
        CheckBatchSize(batchSize);
        if (sampleWeight != null) CheckSampleWeight("Evaluate", sampleWeight, x[0].ShapeRef[0]);
        RollBackBuildOnFailure(() =>
        {
            EnsureBuiltFor(x);
            CheckLabels("Evaluate", y);
            return true;
        });
        return EvaluateCore(x, y, sampleWeight, batchSize, verbose, prefix: "");
    }

    /// <summary>
    /// Evaluate in data-parallel training: each rank evaluates its slice of the rows (see
    /// <see cref="DistributionStrategy.Shard"/>) and the loss's and metrics' totals and counts are summed over the
    /// ranks, so every rank returns the logs of the whole data set, as one process would compute them.
    /// </summary>
    /// <param name="x">Inputs (every rank passes all of them).</param>
    /// <param name="y">Targets with as many rows as <paramref name="x"/>.</param>
    /// <param name="distribution">The processes evaluating together.</param>
    /// <param name="batchSize">Samples per batch on each rank.</param>
    /// <example><code>var logs = model.Evaluate(xTest, yTest, dist);   // the same on every rank</code></example>
    /// <exception cref="InvalidOperationException">The model is not compiled, or another thread is training or changing it.</exception>
    /// <exception cref="ArgumentException">The rows or shapes do not fit the model.</exception>
    public Dictionary<string, float> Evaluate(Tensor x, Tensor y, DistributionStrategy distribution, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(distribution);
        using var use = UseToRead("Evaluate");
        RequireCompiled("Evaluate");
        CheckXY("Evaluate", [x], [y]);
        CheckBatchSize(batchSize);
        RollBackBuildOnFailure(() =>
        {
            EnsureBuiltFor([x]);
            CheckLabels("Evaluate", [y]);
            return true;
        });
        return EvaluateCore([x], [y], null, batchSize, 0, "", distribution);
    }

    /// <summary>
    /// Predict in data-parallel training: each rank predicts its slice of the rows and the slices are gathered, so
    /// every rank returns the predictions for all of <paramref name="x"/>, in order.
    /// </summary>
    /// <param name="x">Inputs (every rank passes all of them).</param>
    /// <param name="distribution">The processes predicting together.</param>
    /// <param name="batchSize">Samples per batch on each rank.</param>
    /// <example><code>Tensor logits = model.Predict(xTest, dist);</code></example>
    /// <exception cref="ArgumentException">The input's shape does not fit the model.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training or changing the model.</exception>
    public Tensor Predict(Tensor x, DistributionStrategy distribution, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(distribution);
        CheckBatchSize(batchSize);
        if (x.Rank == 0 || x.ShapeRef[0] == 0) throw new ArgumentException($"Predict: x needs at least one row. Received: shape {ShapeUtil.Format(x.ShapeRef)}", nameof(x));
        using var use = UseToRead("Predict");
        int n = x.ShapeRef[0];
        var (start, count) = distribution.Shard(0, n);
        Tensor one = Forward(x.Slice(0, 1)); // the output's shape; a rank with no rows still adds its zeros
        int width = one.Size;
        var all = Tensor.Zeros([n, .. one.ShapeRef.AsSpan(1)]);
        if (count > 0)
        {
            var mine = count <= batchSize ? Forward(x.Slice(start, count)) : PredictBatches([x.Slice(start, count)], batchSize, 0)[0];
            mine.AsSpan().CopyTo(all.Span.Slice(start * width));
        }
        distribution.AllReduceSum(all.Span); // a gather: every row is non-zero on one rank only, and x + 0 is exact
        return all;
    }

    /// <summary>The loss and metrics of <paramref name="x"/>: with a <paramref name="distribution"/>, this rank's slice
    /// of the rows, the totals then summed over the ranks.</summary>
    private Dictionary<string, float> EvaluateCore(Tensor[] x, Tensor[] y, Tensor? weights, int batchSize, int verbose, string prefix,
        DistributionStrategy? distribution = null)
    {
        if (distribution != null)
        {
            var (first, count) = distribution.Shard(0, x[0].ShapeRef[0]);
            (x, y, weights) = (Rows(x, first, count), Rows(y, first, count), weights?.Slice(first, count));
        }
        var lossMean = new RunningMean();
        var heads = MakeHeads();
        int n = x[0].ShapeRef[0];
        int steps = (n + batchSize - 1) / batchSize;
        var progress = new ProgressBar(verbose, steps);
        float reg = RegularizationLosses().Aggregate(0f, (s, t) => s + t.Item());
        for (int start = 0, step = 0; start < n; start += batchSize, step++)
        {
            int len = Math.Min(batchSize, n - start);
            Tensor[] yb = Rows(y, start, len);
            Tensor[] pred = ForwardMasked(Rows(x, start, len), false, out var masks);
            float loss = 0;
            for (int k = 0; k < heads.Length; k++)
            {
                var head = heads[k];
                float value = head.Loss.Call(yb[k], pred[k], weights?.Slice(start, len), masks[k]).Item();
                loss += head.Weight is float w ? value * w : value; // one unweighted output: its loss, bit for bit
                head.LossMean.UpdateState(value, len);
                head.UpdateMetrics(yb[k], pred[k], weights?.Slice(start, len), masks[k]);
            }
            lossMean.UpdateState(loss + reg, len);
            progress.Update(step + 1, () => Logs(lossMean, heads, ""));
        }
        distribution?.SumOverRanks(lossMean, heads);
        var logs = Logs(lossMean, heads, prefix);
        progress.Finish(logs);
        return logs;
    }

    /// <summary>The logs: <c>loss</c>, then per output its loss (when there are several) and its metrics, each key
    /// prefixed with <paramref name="prefix"/> (<c>val_</c>).</summary>
    internal static Dictionary<string, float> Logs(RunningMean loss, Head[] heads, string prefix)
    {
        var logs = new Dictionary<string, float>();
        Fill(logs, loss, heads, prefix);
        return logs;
    }

    /// <summary>Writes the logs into <paramref name="logs"/> (Fit refills one dictionary after every batch).</summary>
    internal static void Fill(Dictionary<string, float> logs, RunningMean loss, Head[] heads, string prefix)
    {
        logs[prefix + "loss"] = loss.Result();
        foreach (var head in heads)
        {
            if (heads.Length > 1) logs[prefix + head.Prefix + "loss"] = head.LossMean.Result();
            for (int i = 0; i < head.Metrics.Count; i++) logs[prefix + head.Prefix + head.Keys[i]] = head.Metrics[i].Result();
        }
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
    /// <param name="sampleWeight">Null, or a non-negative weight per row of <paramref name="x"/> (shape (N,), or (N, steps)
    /// for sequence outputs), as Keras's <c>sample_weight</c>: each row's loss is multiplied by its weight, and the
    /// default reduction divides the weighted sum by the number of losses. With <paramref name="validationSplit"/> the
    /// held-out rows' weights weigh the validation loss. Metrics stay unweighted, as Keras's <c>metrics</c>.</param>
    /// <param name="validationSampleWeight">Null, or a weight per row of <paramref name="validationData"/>, as the third
    /// element of Keras's <c>validation_data=(x, y, sample_weight)</c>: it weighs the validation loss (and weighted metrics).</param>
    /// <param name="classWeight">Null, or a weight per class index, as Keras's <c>class_weight</c> (models with one
    /// output, one label per sample; sequence labels take a (N, steps) <paramref name="sampleWeight"/>): a row weighs <c>classWeight[label]</c> — the label itself for sparse labels, its arg-max for one-hot
    /// rows, its rounded value for (N, 1) binary labels — and 1 for a class the dictionary leaves out. Applies to the
    /// training rows only; it cannot be combined with <paramref name="sampleWeight"/> (Keras refuses both too).</param>
    /// <returns>Per-epoch loss and metrics (<c>val_</c>-prefixed for validation).</returns>
    /// <example><code>// class 3 is rare: make each of its rows count five times
    /// model.Fit(xTrain, yTrain, epochs: 10, classWeight: new Dictionary&lt;int, float&gt; { [3] = 5f });</code></example>
    /// <exception cref="InvalidOperationException">The model is not compiled, or another thread is training or changing it.</exception>
    /// <exception cref="ArgumentException">Bad data: row counts differ, NaN in the inputs, a label out of range, a shape
    /// the model does not take; a sample weight negative or not finite, or not one per row; a class weight for a class the
    /// model cannot output; both <paramref name="sampleWeight"/> and <paramref name="classWeight"/>.</exception>
    public History Fit(Tensor x, Tensor y, int epochs = 1, int batchSize = 32, bool shuffle = true,
        float validationSplit = 0f, (Tensor X, Tensor Y)? validationData = null, IEnumerable<Callback>? callbacks = null,
        int verbose = 1, CancellationToken cancellationToken = default, Tensor? sampleWeight = null,
        IReadOnlyDictionary<int, float>? classWeight = null, Tensor? validationSampleWeight = null) =>
        Fit([x], [y], epochs, batchSize, shuffle, validationSplit, validationData is { } v ? ([v.X], [v.Y]) : null, callbacks, verbose, cancellationToken, sampleWeight, classWeight,
            validationSampleWeight);

    /// <summary>
    /// Fit for a model with several inputs or outputs: one tensor per input (<paramref name="x"/>) and one label tensor
    /// per output (<paramref name="y"/>), all with the same rows; compile it with one loss per output (or one for all)
    /// and loss weights. The history holds <c>loss</c> (the weighted total) and, per output, <c>{output}_loss</c> and
    /// <c>{output}_{metric}</c>, where <c>{output}</c> is the name of the layer that makes it.
    /// </summary>
    /// <remarks><paramref name="sampleWeight"/> (one weight per row) weighs every output's loss; <paramref name="classWeight"/>
    /// applies to models with one output only, as in Keras. See the single-tensor overload for both.</remarks>
    /// <example><code>model.Compile(new Adam(), loss: [new SparseCategoricalCrossentropy(fromLogits: true), new MeanSquaredError()]);
    /// var history = model.Fit([xImages, xMeta], [yClass, yScore], epochs: 10);
    /// Console.WriteLine(history["class_head_loss"][^1]);</code></example>
    /// <exception cref="InvalidOperationException">The model is not compiled, or another thread is training or changing it.</exception>
    /// <exception cref="ArgumentException">Bad data: the number of tensors does not fit the model, row counts differ,
    /// NaN in the inputs, a label out of range, a shape the model does not take.</exception>
    public History Fit(Tensor[] x, Tensor[] y, int epochs = 1, int batchSize = 32, bool shuffle = true,
        float validationSplit = 0f, (Tensor[] X, Tensor[] Y)? validationData = null, IEnumerable<Callback>? callbacks = null,
        int verbose = 1, CancellationToken cancellationToken = default, Tensor? sampleWeight = null,
        IReadOnlyDictionary<int, float>? classWeight = null, Tensor? validationSampleWeight = null)
    {
        using var use = Use("Fit", exclusive: true);
        return FitCore(x, y, epochs, batchSize, shuffle, validationSplit, validationData, callbacks, verbose, cancellationToken, sampleWeight, classWeight, null, 0, validationSampleWeight);
    }

    /// <summary>
    /// Fit without labels, as Keras's <c>fit(x)</c>, for a model that overrides <see cref="TrainStep"/> and does not read
    /// <c>y</c> (an autoencoder, a GAN's step): every batch's rows of <paramref name="x"/> go to TrainStep with an
    /// empty <c>y</c>. The epochs, shuffling, callbacks, progress bar and <see cref="History"/> are Fit's; the history
    /// holds the logs TrainStep returns. A model without its own TrainStep needs labels: it is refused before any work.
    /// </summary>
    /// <param name="x">Inputs, samples along the first axis.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Samples per step (Keras default 32).</param>
    /// <param name="shuffle">Reshuffle the rows before each epoch.</param>
    /// <param name="callbacks">Hooks run at epoch and batch boundaries.</param>
    /// <param name="verbose">0 silent, 1 progress bar, 2 one line per epoch.</param>
    /// <param name="cancellationToken">Stops training between batches.</param>
    /// <returns>Per-epoch logs, as TrainStep returned them for each epoch's last batch.</returns>
    /// <example><code>autoencoder.Compile(new Adam(1e-3f));
    /// var history = autoencoder.Fit(images, epochs: 10);   // TrainStep ignores y</code></example>
    /// <exception cref="InvalidOperationException">The model does not override TrainStep, is not compiled, or another
    /// thread is training or changing it.</exception>
    /// <exception cref="ArgumentException">Bad data: no rows, NaN in the inputs, a shape the model does not take.</exception>
    public History Fit(Tensor x, int epochs = 1, int batchSize = 32, bool shuffle = true, IEnumerable<Callback>? callbacks = null,
        int verbose = 1, CancellationToken cancellationToken = default) =>
        Fit([x], epochs, batchSize, shuffle, callbacks, verbose, cancellationToken);

    /// <summary>Fit without labels for a model with several inputs: one tensor per input; see
    /// <see cref="Fit(Tensor, int, int, bool, IEnumerable{Callback}, int, CancellationToken)"/>.</summary>
    /// <example><code>gan.Fit([noise, images], epochs: 5);</code></example>
    /// <exception cref="InvalidOperationException">The model does not override TrainStep, is not compiled, or another
    /// thread is training or changing it.</exception>
    /// <exception cref="ArgumentException">Bad data: the number of tensors does not fit the model, rows differ, NaN in
    /// the inputs, a shape the model does not take.</exception>
    public History Fit(Tensor[] x, int epochs = 1, int batchSize = 32, bool shuffle = true, IEnumerable<Callback>? callbacks = null,
        int verbose = 1, CancellationToken cancellationToken = default)
    {
        if (!OverridesTrainStep)
            throw new InvalidOperationException($"Fit: model '{Name}' needs labels y unless TrainStep is overridden: the standard step computes the compiled loss from y. Pass Fit(x, y), or override TrainStep with a step that does not read y.");
        using var use = Use("Fit", exclusive: true);
        return FitCore(x, null, epochs, batchSize, shuffle, 0f, null, callbacks, verbose, cancellationToken, null, null, null, 0);
    }

    /// <summary>
    /// Data-parallel training: this process trains one replica of the model under <paramref name="distribution"/>
    /// (e.g. <c>Cortex.Distributed</c>'s <c>MpiDataParallel</c>, one process per rank). Every rank starts from rank 0's
    /// weights, shuffles the rows alike, trains on its fixed slice of each global batch of <paramref name="batchSize"/>
    /// rows, and sums the gradients with the other ranks before each update, weighting each rank's mean gradient by
    /// its share of the batch — so the update is the one a single process makes on the whole batch, and every rank
    /// makes it. Loss and metrics in the logs and the history are global (summed totals and counts, not averaged
    /// averages); rank 0 alone prints progress and runs <see cref="Callback.ChiefOnly"/> callbacks (checkpoints).
    /// </summary>
    /// <remarks>
    /// <para>Results do not depend on the number of ranks, up to float rounding: the gradient sums are taken in a
    /// different order (about 1e-7 relative per step). One rank gives the bits of the plain
    /// <see cref="Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/>.
    /// Dropout draws the global batch's mask on every rank and keeps the rank's rows, so it does not depend on the
    /// number of ranks either (unless a batch has fewer rows than there are ranks: a rank without rows draws nothing).
    /// BatchNormalization's moving statistics are each rank's own (from its slice of the batch).</para>
    /// <para>To resume from a checkpoint saved at the end of epoch <c>k</c> (it holds the optimizer's state), load it,
    /// seed as before, and pass <paramref name="initialEpoch"/> = k: the shuffles of the first k epochs are replayed,
    /// so the run continues to the weights an uninterrupted one reaches.</para>
    /// </remarks>
    /// <param name="x">Inputs, samples along the first axis (every rank passes all of them).</param>
    /// <param name="y">Targets with as many rows as <paramref name="x"/>.</param>
    /// <param name="distribution">The processes training together.</param>
    /// <param name="epochs">The epoch to stop after (as Keras, counted from 0, not from <paramref name="initialEpoch"/>).</param>
    /// <param name="batchSize">Rows per global batch, split across the ranks.</param>
    /// <param name="shuffle">Reshuffle the training rows before each epoch (alike on every rank).</param>
    /// <param name="initialEpoch">The epoch to start at (Keras's <c>initial_epoch</c>), to resume a run.</param>
    /// <param name="validationData">Validation inputs and targets, evaluated by every rank at the end of each epoch.</param>
    /// <param name="callbacks">Hooks run at epoch and batch boundaries.</param>
    /// <param name="verbose">0 silent, 1 progress bar, 2 one line per epoch (rank 0 only).</param>
    /// <param name="cancellationToken">Stops training between batches; cancel it on every rank alike.</param>
    /// <returns>The global per-epoch loss and metrics.</returns>
    /// <example><code>using var dist = MpiDataParallel.Initialize();
    /// CortexRandom.SetGlobalSeed(7);
    /// var model = Zoo.DigitsMlp();   // same seed, same weights, on every rank
    /// model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
    /// model.Fit(x, y, dist, epochs: 5, batchSize: 64);</code></example>
    /// <exception cref="InvalidOperationException">The model is not compiled or is used by another thread, or the
    /// replicas' weights differ (checked every <see cref="DistributionStrategy.CheckReplicasEvery"/> steps).</exception>
    /// <exception cref="ArgumentException">Bad data, as for the plain Fit.</exception>
    public History Fit(Tensor x, Tensor y, DistributionStrategy distribution, int epochs = 1, int batchSize = 32, bool shuffle = true,
        int initialEpoch = 0, (Tensor X, Tensor Y)? validationData = null, IEnumerable<Callback>? callbacks = null, int verbose = 1,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(distribution);
        if (initialEpoch < 0 || initialEpoch > epochs)
            throw new ArgumentOutOfRangeException(nameof(initialEpoch), $"Fit: initialEpoch must be in [0, epochs = {epochs}]. Received: {initialEpoch}");
        using var use = Use("Fit", exclusive: true);
        return FitCore([x], [y], epochs, batchSize, shuffle, 0f, validationData is { } v ? ([v.X], [v.Y]) : null, callbacks,
            distribution.IsChief ? verbose : 0, cancellationToken, null, null, distribution, initialEpoch);
    }

    /// <summary>Fit's loop; <paramref name="y"/> null is Fit without labels (a custom TrainStep then gets none).</summary>
    private History FitCore(Tensor[] x, Tensor[]? y, int epochs, int batchSize, bool shuffle, float validationSplit,
        (Tensor[] X, Tensor[] Y)? validationData, IEnumerable<Callback>? callbacks, int verbose, CancellationToken cancellationToken,
        Tensor? sampleWeight, IReadOnlyDictionary<int, float>? classWeight, DistributionStrategy? distribution, int initialEpoch,
        Tensor? validationSampleWeight = null)
    {
        var (xTrain, yTrain, wTrain, xVal, yVal, wVal) = RollBackBuildOnFailure(() => y == null ? PrepareUnlabeledFit(x, epochs, batchSize) : PrepareFit(x, y, epochs, batchSize, validationSplit, validationData, sampleWeight, classWeight, validationSampleWeight));

        var history = new History();
        var cbs = new List<Callback>((callbacks ?? []).Where(cb => distribution == null || distribution.IsChief || !cb.ChiefOnly)) { history };
        foreach (var cb in cbs) cb.SetModel(this);
        StopTraining = false;
        distribution?.BroadcastVariables(Variables);
        var trainer = new Trainer(this, xTrain, yTrain, wTrain, batchSize, shuffle, distribution);
        trainer.SkipEpochs(initialEpoch);
        foreach (var cb in cbs) cb.OnTrainBegin();
        for (int epoch = initialEpoch; epoch < epochs && !StopTraining && !cancellationToken.IsCancellationRequested; epoch++)
        {
            foreach (var cb in cbs) cb.OnEpochBegin(epoch);
            if (verbose == 1) Console.WriteLine($"Epoch {epoch + 1}/{epochs}");
            var logs = trainer.RunEpoch(verbose, cbs, cancellationToken);
            if (xVal != null) foreach (var kv in EvaluateCore(xVal, yVal!, wVal, batchSize, 0, "val_", distribution)) logs[kv.Key] = kv.Value;
            trainer.Progress?.Finish(logs);
            foreach (var cb in cbs) cb.OnEpochEnd(epoch, logs);
        }
        // As Keras's fit: with useEma the weights become their moving averages when training ends.
        if (Optimizer!.UseEma && epochs > 0) Optimizer.FinalizeVariableValues(TrainableVariables);
        foreach (var cb in cbs) cb.OnTrainEnd();
        return history;
    }

    /// <summary>Fit's checks, all before the first update: arguments, data, the build for the data, labels and the
    /// loss on one row. Returns the training and validation data, with the per-row weights (null: unweighted).</summary>
    private (Tensor[] X, Tensor[] Y, Tensor? W, Tensor[]? XVal, Tensor[]? YVal, Tensor? WVal) PrepareFit(Tensor[] x, Tensor[] y, int epochs, int batchSize,
        float validationSplit, (Tensor[] X, Tensor[] Y)? validationData, Tensor? sampleWeight, IReadOnlyDictionary<int, float>? classWeight,
        Tensor? validationSampleWeight = null)
    {
        RequireCompiled("Fit", needsLoss: !OverridesTrainStep);
        RequireTrackedLayers();
        CheckXY("Fit", x, y);
        CheckBatchSize(batchSize);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), $"Fit: epochs must be non-negative. Received: {epochs}");
        if (!(validationSplit >= 0f && validationSplit < 1f))
            throw new ArgumentOutOfRangeException(nameof(validationSplit), $"Fit: validationSplit must be in [0, 1). Received: {validationSplit}");
        foreach (var t in x) CheckFinite("Fit", "x", t);
        foreach (var t in y) CheckFinite("Fit", "y", t);
        if (sampleWeight != null && classWeight != null)
            throw new ArgumentException("Fit: you cannot use classWeight and sampleWeight at the same time. Received: both", nameof(classWeight));
        if (sampleWeight != null) CheckSampleWeight("Fit", sampleWeight, x[0].ShapeRef[0]);
        if (classWeight != null && y.Length != 1)
            throw new ArgumentException($"Fit: classWeight is only supported for models with a single output. Received: model '{Name}' with {y.Length} outputs", nameof(classWeight));

        // Keras takes the validation rows from the end, before any shuffling.
        Tensor[] xTrain = x, yTrain = y;
        Tensor[]? xVal = null, yVal = null;
        Tensor? wTrain = sampleWeight, wVal = null;
        if (validationData is { } vd)
        {
            CheckXY("Fit (validationData)", vd.X, vd.Y);
            (xVal, yVal) = vd;
            if (validationSampleWeight != null) CheckSampleWeight("Fit (validationData)", validationSampleWeight, vd.X[0].ShapeRef[0]);
            wVal = validationSampleWeight;
        }
        else if (validationSampleWeight != null)
            throw new ArgumentException("Fit: validationSampleWeight weighs the rows of validationData, which was not given.", nameof(validationSampleWeight));
        else if (validationSplit > 0)
        {
            int n = x[0].ShapeRef[0];
            int split = (int)(n * (1.0 - validationSplit));
            if (split == 0 || split == n)
                throw new ArgumentException($"Fit: validationSplit={validationSplit} leaves no rows for training or validation ({n} rows).");
            xTrain = Rows(x, 0, split); yTrain = Rows(y, 0, split);
            xVal = Rows(x, split, n - split); yVal = Rows(y, split, n - split);
            if (sampleWeight != null) (wTrain, wVal) = (sampleWeight.Slice(0, split), sampleWeight.Slice(split, n - split));
        }
        EnsureBuiltFor(xTrain);
        CheckAllRows(xTrain);
        CheckLabels("Fit", yTrain);
        if (classWeight != null) wTrain = ClassWeightsOf(yTrain[0], classWeight, Losses[0], OutputShapeOf(0));
        if (xVal != null)
        {
            EnsureBuiltFor(xVal);
            CheckAllRows(xVal);
            CheckLabels("Fit (validation)", yVal!);
        }
        // Label/prediction shape mismatches surface here, before any update.
        var heads = MakeHeads();
        var pred = ForwardMasked(Rows(xTrain, 0, 1), false, out var masks);
        for (int k = 0; k < heads.Length; k++) heads[k].Loss.Call(yTrain[k].Slice(0, 1), pred[k], wTrain?.Slice(0, 1), masks[k]);
        return (xTrain, yTrain, wTrain, xVal, yVal, wVal);
    }

    /// <summary>Fit's checks without labels (a custom TrainStep's Fit(x)): arguments, the inputs, the build for them.</summary>
    private (Tensor[] X, Tensor[] Y, Tensor? W, Tensor[]? XVal, Tensor[]? YVal, Tensor? WVal) PrepareUnlabeledFit(Tensor[] x, int epochs, int batchSize)
    {
        RequireCompiled("Fit", needsLoss: false);
        RequireTrackedLayers();
        CheckInputs("Fit", x);
        if (x[0].ShapeRef[0] == 0) throw new ArgumentException("Fit: x has no rows.", nameof(x));
        CheckBatchSize(batchSize);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), $"Fit: epochs must be non-negative. Received: {epochs}");
        foreach (var t in x) CheckFinite("Fit", "x", t);
        EnsureBuiltFor(x);
        CheckAllRows(x);
        return (x, [], null, null, null, null);
    }

    /// <summary>Sample weights must have one row per sample (a weight per sample, or per step of a sequence) and be
    /// finite and non-negative.</summary>
    private static void CheckSampleWeight(string op, Tensor w, int rows)
    {
        if (w.Rank == 0 || w.ShapeRef[0] != rows)
            throw new ArgumentException($"{op}: sampleWeight must have one row per sample: expected shape ({rows},) or ({rows}, …). Received: shape {ShapeUtil.Format(w.ShapeRef)}", "sampleWeight");
        ReadOnlySpan<float> s = w.AsSpan();
        int perRow = Math.Max(1, w.Size / rows);
        for (int k = 0; k < s.Length; k++)
            if (!(s[k] >= 0 && float.IsFinite(s[k])))
                throw new ArgumentException($"{op}: sampleWeight must be finite and non-negative. Received: {s[k]} at row {k / perRow}", "sampleWeight");
    }

    /// <summary>Keras's class_weight_to_sample_weights: each row weighs its class's weight (1 when the dictionary has
    /// none); the class is the label (sparse), its arg-max (one-hot) or its rounded value ((N, 1) binary).</summary>
    private static Tensor ClassWeightsOf(Tensor y, IReadOnlyDictionary<int, float> classWeight, Loss loss, int[] outShape)
    {
        // Keras would take the arg-max of a row of sparse sequence labels as its class; refusing is clearer.
        if (y.Rank > 2 || (loss is SparseCategoricalCrossentropy && y.Rank == 2 && y.ShapeRef[1] > 1))
            throw new ArgumentException($"Fit: classWeight takes one label per sample ((N,), (N, 1) or one-hot (N, classes)); for sequence labels pass sampleWeight of shape (N, steps). Received: y shape {ShapeUtil.Format(y.ShapeRef)}", nameof(classWeight));
        int classes = Math.Max(2, outShape[^1]); // a single sigmoid unit outputs the classes 0 and 1
        foreach (var (c, w) in classWeight)
        {
            if (c < 0 || c >= classes)
                throw new ArgumentException($"Fit: classWeight has a weight for class {c}, but the model outputs classes in [0, {classes}). Received: classWeight[{c}] = {w}", nameof(classWeight));
            if (!(w >= 0 && float.IsFinite(w)))
                throw new ArgumentException($"Fit: classWeight must be finite and non-negative. Received: classWeight[{c}] = {w}", nameof(classWeight));
        }
        int n = y.ShapeRef[0], width = y.Size / n;
        ReadOnlySpan<float> s = y.AsSpan();
        var weights = new float[n];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> row = s.Slice(i * width, width);
            int label = width > 1 ? System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row) : (int)MathF.Round(row[0], MidpointRounding.ToEven);
            weights[i] = classWeight.TryGetValue(label, out float w) ? w : 1f;
        }
        return Tensor.FromArray(weights);
    }

    /// <summary>Refuses <paramref name="op"/> on a model not compiled; a model compiled with an optimizer alone
    /// (<see cref="Compile(Optimizer)"/>) passes where <paramref name="needsLoss"/> is false (Fit of a model with its own
    /// <see cref="TrainStep"/>).</summary>
    private void RequireCompiled(string op, bool needsLoss = true)
    {
        if (Optimizer == null)
            throw new InvalidOperationException($"Model '{Name}': you must call Compile(optimizer, loss) before {op}().");
        if (Loss == null && needsLoss)
            throw new InvalidOperationException($"Model '{Name}' was compiled without a loss, which {op}() needs{(op == "Fit" ? " unless the model overrides TrainStep" : "")}: call Compile(optimizer, loss).");
    }

    private static void CheckBatchSize(int batchSize)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batchSize must be positive. Received: {batchSize}");
    }

    /// <summary>One tensor per input and one per output, each checked against the first input as below.</summary>
    private void CheckXY(string op, Tensor[] x, Tensor[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int outputs = OutputNames.Count;
        if (x.Length != InputCount || y.Length != outputs)
            throw new ArgumentException($"{op}: model '{Name}' takes {InputCount} input tensor(s) and {outputs} label tensor(s), one per output. Received: {x.Length} and {y.Length}");
        foreach (var t in x) CheckXY(op, t, y[0]);
        foreach (var t in y) CheckXY(op, x[0], t);
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
    private protected virtual void CheckAllRows(Tensor[] x)
    {
        if (Subclassed) return; // its own CallCore: which layer reads the inputs is not known
        foreach (var layer in layers)
        {
            layer.CheckData(x[0]);
            if (layer is not Input) break;
        }
    }

    /// <summary>Builds the model from the data's shape (or checks the data fits the built model) with one sample.</summary>
    private void EnsureBuiltFor(Tensor[] x)
    {
        ForwardAll(Rows(x, 0, Math.Min(1, x[0].ShapeRef[0])));
        if (Subclassed) subclassInputShapes = [.. x.Select(t => (int[])[-1, .. t.ShapeRef.AsSpan(1)])];
    }

    /// <summary>For sparse cross-entropy, every label must be a class index the output layer can produce (or its
    /// <see cref="SparseCategoricalCrossentropy.IgnoreClass"/>, e.g. −1 or 255 for padding); for binary and categorical
    /// cross-entropy, 0, 1 or a probability.</summary>
    private void CheckLabels(string op, Tensor[] y)
    {
        var names = OutputNames;
        if (Losses.Count == 0) return; // compiled without a loss: the model's own TrainStep reads the labels
        for (int k = 0; k < y.Length; k++)
            CheckLabels(names.Count == 1 ? op : $"{op} (output '{names[k]}')", y[k], Losses.Count == 1 ? Losses[0] : Losses[k], OutputShapeOf(k));
    }

    private static void CheckLabels(string op, Tensor y, Loss loss, int[] outShape)
    {
        if (loss is BinaryCrossentropy) BinaryCrossentropy.CheckLabels(op, y);
        if (loss is CategoricalCrossentropy) CategoricalCrossentropy.CheckLabels(op, y);
        if (loss is not SparseCategoricalCrossentropy sparse) return;
        int classes = outShape[^1];
        float ignored = sparse.IgnoreClass is int c ? c : float.NaN; // NaN equals no label
        ReadOnlySpan<float> s = y.AsSpan();
        for (int i = 0; i < s.Length; i++)
        {
            float v = s[i];
            if ((!(v >= 0 && v < classes) || v != MathF.Floor(v)) && v != ignored)
                throw new ArgumentException($"{op}: label {v} at row {i / Math.Max(1, y.Size / y.ShapeRef[0])} is not a class index in [0, {classes}) (the model outputs {classes} classes){(sparse.IgnoreClass is int k ? $" nor the ignored class {k}" : "")}.");
        }
    }

    /// <summary>The shape of output <paramref name="k"/> (batch axis -1); a model with one output has only <see cref="OutputShape"/>.</summary>
    internal virtual int[] OutputShapeOf(int k) => Subclassed && OutputNames.Count > 1 ? SubclassOutputShapes()[k] : OutputShape();

    /// <summary>The output shape for the built input shape (batch axis -1); for a model with several outputs, the first's.</summary>
    public virtual int[] OutputShape()
    {
        if (!Built) throw new InvalidOperationException($"Model '{Name}' is not built yet: call it on data, Fit it, or Build(inputShape).");
        if (Subclassed) return SubclassOutputShape();
        int[] shape = InputShape!;
        foreach (var l in layers) shape = l.ComputeOutputShape(shape);
        return shape;
    }
}
