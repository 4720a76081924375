using System.Reflection;
using System.Text;
using Cortex.Layers;
using Cortex.Metrics;

namespace Cortex.Models;

/// <summary>
/// Subclassed models, as Keras's <c>class MyModel(keras.Model)</c>: a class deriving from <see cref="Model"/> that owns
/// its layers and writes its own forward pass in <see cref="CallCore(Tensor, bool)"/> (or <see cref="CallCore(Tensor[], bool)"/> for several inputs or outputs), and may override <see cref="TrainStep"/>.
/// </summary>
/// <remarks>
/// <para><b>Which layers are the model's.</b> Keras tracks every layer assigned to an attribute. C# has no attribute
/// assignment hook, and reflecting over fields would also pick up layers held only for reference (another model's,
/// a cache) and would depend on field order, which C# does not define for reflection. So layers are registered
/// explicitly, with <see cref="Track{T}(T)"/> (usually in the constructor): the tracked layers, in the order tracked,
/// are <see cref="Layers"/>, their weights are <see cref="TrainableVariables"/> (what Fit and a custom
/// <see cref="TrainStep"/> train), <see cref="Summary"/> lists them and <see cref="Save"/> writes them. As a safety net,
/// Fit refuses a model whose fields hold a layer that was not tracked (its weights would silently never train).</para>
/// </remarks>
public abstract partial class Model
{
    /// <summary>
    /// Starts a subclassed model (your own class deriving from <see cref="Model"/>, as Keras's <c>keras.Model</c>
    /// subclass). Its name is <paramref name="name"/>, or the class name in snake case (<c>MyModel</c> →
    /// <c>my_model</c>, then <c>my_model_1</c>, …). Register the layers it owns with <see cref="Track{T}(T)"/> and write
    /// the forward pass in <see cref="CallCore(Tensor, bool)"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// sealed class TwoLayer : Model
    /// {
    ///     private readonly Dense hidden, output;
    ///     public TwoLayer()
    ///     {
    ///         hidden = Track(new Dense(32, "relu"));
    ///         output = Track(new Dense(10));
    ///     }
    ///     protected override Tensor CallCore(Tensor x, bool training) => output.Call(hidden.Call(x, training), training);
    /// }
    /// </code>
    /// </example>
    protected Model(string? name = null) : this(name, "model")
    {
        if (name == null) Name = SnakeCase(GetType().Name) is { Length: > 0 } stem ? NextName(stem) : Name;
        if (Subclassed && !Overrides(nameof(CallCore), typeof(Tensor)) && !Overrides(nameof(CallCore), typeof(Tensor[])))
            throw new InvalidOperationException($"Model '{Name}' ({GetType().Name}) has no forward pass: override CallCore(Tensor x, bool training), or CallCore(Tensor[] inputs, bool training) for several inputs or outputs.");
    }

    /// <summary>
    /// Starts a subclassed model with several inputs or outputs: it takes <paramref name="inputs"/> tensors and gives
    /// <paramref name="outputs"/>, and writes its forward pass in <see cref="CallCore(Tensor[], bool)"/>. Call, Predict,
    /// Evaluate and Fit then take one tensor per input and one label tensor per output, in order, and Compile takes
    /// one loss per output (or one for all) and loss weights, as for a <see cref="Functional"/>. The outputs are named
    /// <paramref name="outputNames"/>, or <c>output_1</c>, <c>output_2</c>, … — the names tf.keras gives the outputs of
    /// a subclassed model, whose tensors carry no layer to be named after — and their logs are <c>output_1_loss</c>,
    /// <c>output_1_accuracy</c>, ….
    /// </summary>
    /// <param name="inputs">The number of input tensors (at least 1).</param>
    /// <param name="outputs">The number of output tensors (at least 1).</param>
    /// <param name="name">The model's name (null: the class name in snake case).</param>
    /// <param name="outputNames">A name per output (null: <c>output_1</c>, …), as a Keras model returning a dictionary
    /// names them; the logs then say <c>{name}_loss</c>.</param>
    /// <example>
    /// <code>
    /// sealed class TwoTowers : Model
    /// {
    ///     private readonly Dense a, b, cls, reg;
    ///     public TwoTowers() : base(inputs: 2, outputs: 2)
    ///     {
    ///         a = Track(new Dense(16, "relu")); b = Track(new Dense(16, "relu"));
    ///         cls = Track(new Dense(3)); reg = Track(new Dense(1));
    ///     }
    ///     protected override Tensor[] CallCore(Tensor[] x, bool training)
    ///     {
    ///         var h = a.Call(x[0], training) + b.Call(x[1], training);
    ///         return [cls.Call(h, training), reg.Call(h, training)];
    ///     }
    /// }
    /// // model.Fit([xA, xB], [yClass, yValue]) logs loss, output_1_loss, output_2_loss
    /// </code>
    /// </example>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="outputNames"/> does not name each output once.</exception>
    /// <exception cref="InvalidOperationException">The class has several inputs or outputs but does not override
    /// <see cref="CallCore(Tensor[], bool)"/>.</exception>
    protected Model(int inputs, int outputs, string? name = null, IReadOnlyList<string>? outputNames = null) : this(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        if (outputNames != null && (outputNames.Count != outputs || outputNames.Any(string.IsNullOrEmpty) || outputNames.Distinct().Count() != outputs))
            throw new ArgumentException($"Model '{Name}': expected {outputs} distinct, non-empty output names. Received: [{string.Join(", ", outputNames)}]", nameof(outputNames));
        if ((inputs > 1 || outputs > 1) && !Overrides(nameof(CallCore), typeof(Tensor[])))
            throw new InvalidOperationException($"Model '{Name}' ({GetType().Name}) takes {inputs} inputs and gives {outputs} outputs: override CallCore(Tensor[] inputs, bool training), which gets one tensor per input and returns one per output.");
        subclassInputs = inputs;
        subclassOutputNames = outputs == 1 ? [""] : outputNames?.ToArray() ?? [.. Enumerable.Range(1, outputs).Select(k => $"output_{k}")];
    }

    /// <summary>The number of inputs a subclassed model takes (1 for the others but Functional, which has its own).</summary>
    private readonly int subclassInputs = 1;

    /// <summary>A subclassed model's output names (one unnamed output for the others but Functional).</summary>
    private readonly string[] subclassOutputNames = [""];

    /// <summary>Whether the model's class overrides the protected method <paramref name="method"/>(<paramref name="first"/>, bool).</summary>
    private bool Overrides(string method, Type first) =>
        GetType().GetMethod(method, BindingFlags.Instance | BindingFlags.NonPublic, [first, typeof(bool)])!.DeclaringType != typeof(Model);

    /// <summary>
    /// The forward pass of a subclassed model with several inputs or outputs (<see cref="Model(int, int, string?, IReadOnlyList{string}?)"/>):
    /// one tensor per input, in order, gives one per output. Call, Predict, Evaluate, Fit and the standard
    /// <see cref="TrainStep"/> run it; the default runs <see cref="CallCore(Tensor, bool)"/> on the one input.
    /// </summary>
    /// <param name="inputs">One tensor per input, batch axis first.</param>
    /// <param name="training">Whether training-only behaviour (dropout) is on.</param>
    /// <returns>One tensor per output.</returns>
    protected virtual Tensor[] CallCore(Tensor[] inputs, bool training) => [CallCore(inputs[0], training)];

    /// <summary>A subclassed model's forward pass on one tensor per input, checked to give one tensor per output.</summary>
    private Tensor[] CallSubclass(IReadOnlyList<Tensor> x, bool training)
    {
        var y = CallCore(x as Tensor[] ?? [.. x], training);
        if (y == null || y.Length != OutputNames.Count || y.Contains(null))
            throw new InvalidOperationException($"Model '{Name}': CallCore must return {OutputNames.Count} tensor(s), one per output. Received: {(y == null ? "null" : $"{y.Count(t => t != null)} tensors and {y.Count(t => t == null)} nulls")}");
        return y;
    }

    private static readonly Dictionary<string, int> subclassNames = [];

    /// <summary>Keras's auto-naming for subclassed models: the first <c>my_model</c>, then <c>my_model_1</c>, ….</summary>
    private static string NextName(string stem)
    {
        lock (subclassNames)
        {
            int n = subclassNames.GetValueOrDefault(stem);
            subclassNames[stem] = n + 1;
            return n == 0 ? stem : $"{stem}_{n}";
        }
    }

    private static string SnakeCase(string name)
    {
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick]; // a generic class's arity
        var s = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])))) s.Append('_');
            s.Append(char.ToLowerInvariant(c));
        }
        return s.ToString();
    }

    /// <summary>Whether this is a user's subclass of <see cref="Model"/> (defined outside Cortex), rather than a
    /// <see cref="Sequential"/> or a <see cref="Functional"/>.</summary>
    internal bool Subclassed => GetType().Assembly != typeof(Model).Assembly;

    /// <summary>
    /// Registers <paramref name="layer"/> as one of this model's layers and returns it, so that a field is assigned and
    /// tracked in one line: its weights are trained by Fit, listed by <see cref="Summary"/>, saved and loaded. Track the
    /// layers in the order the data meets them: <see cref="InputShape"/> is the first one's.
    /// </summary>
    /// <example><code>hidden = Track(new Dense(64, "relu"));</code></example>
    /// <exception cref="ArgumentException">The layer is already tracked, or another tracked layer has its name.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the model.</exception>
    protected T Track<T>(T layer) where T : Layer
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var use = Use("Track", exclusive: true);
        if (layers.Contains(layer)) throw new ArgumentException($"Model '{Name}': layer '{layer.Name}' is already tracked.", nameof(layer));
        if (layers.FirstOrDefault(l => l.Name == layer.Name) is { } same)
            throw new ArgumentException($"Model '{Name}': the name \"{layer.Name}\" is used by two tracked layers ({same.GetType().Name} and {layer.GetType().Name}). All layer names should be unique.", nameof(layer));
        layers.Add(layer);
        return layer;
    }

    /// <summary>
    /// Registers every layer of <paramref name="block"/> (a <see cref="Sequential"/>, a <see cref="Functional"/>, or
    /// another subclassed model, e.g. a GAN's generator) as this model's, in its order, and returns the block: its
    /// weights are then trained, summarised and saved with this model's. The block's layers are those it has now;
    /// layers added to it later are not tracked.
    /// </summary>
    /// <example><code>encoder = TrackModel(new Sequential(new Dense(32, "relu"), new Dense(8)));</code></example>
    /// <exception cref="ArgumentException">A layer is already tracked, or has the name of a tracked layer.</exception>
    protected TModel TrackModel<TModel>(TModel block) where TModel : Model
    {
        ArgumentNullException.ThrowIfNull(block);
        foreach (var l in block.Layers) Track(l);
        return block;
    }

    /// <summary>
    /// Builds the model for inputs of <paramref name="inputShape"/> (batch axis included; its size is ignored). For a
    /// subclassed model, as Keras's <c>Model.build</c>, this runs the forward pass once on one sample of zeros, which
    /// builds every layer it calls; if that throws, the model stays unbuilt.
    /// </summary>
    /// <exception cref="ArgumentException">The shape does not fit the model (the message names the layer).</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the model.</exception>
    public virtual void Build(int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        using var use = Use("Build", exclusive: true);
        var sample = Tensor.Zeros([1, .. inputShape.Length > 0 ? inputShape.AsSpan(1) : []]);
        RollBackBuildOnFailure(() => CallCore(sample, false));
        if (Subclassed) subclassInputShapes = [[-1, .. sample.ShapeRef.AsSpan(1)]];
    }

    /// <summary>
    /// Builds a model with several inputs for one shape per input (batch axis included; its size is ignored), as
    /// Keras's <c>build</c> with a list of shapes: a subclassed model runs its forward pass once on one sample of zeros
    /// per input, which builds every layer it calls (if that throws, the model stays unbuilt); a
    /// <see cref="Functional"/>, built when it was made, checks that the shapes fit its inputs.
    /// </summary>
    /// <example><code>towers.Build([[-1, 4], [-1, 3]]);   // then Summary() shows every layer's shape</code></example>
    /// <exception cref="ArgumentException">Not one shape per input, or a shape does not fit the model.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the model.</exception>
    public void Build(IReadOnlyList<int[]> inputShapes)
    {
        ArgumentNullException.ThrowIfNull(inputShapes);
        if (inputShapes.Count != InputCount || inputShapes.Contains(null!))
            throw new ArgumentException($"Build: model '{Name}' takes {InputCount} input(s): expected one shape for each. Received: {inputShapes.Count} shapes", nameof(inputShapes));
        if (this is Functional graph)
        {
            for (int k = 0; k < inputShapes.Count; k++)
                if (!inputShapes[k].AsSpan(Math.Min(1, inputShapes[k].Length)).SequenceEqual(graph.Inputs[k].ShapeRef.AsSpan(1)) || inputShapes[k].Length != graph.Inputs[k].ShapeRef.Length)
                    throw new ArgumentException($"Build: model '{Name}''s input {k} has shape {FormatShape(graph.Inputs[k].ShapeRef)}. Received: {ShapeUtil.Format(inputShapes[k])}", nameof(inputShapes));
            return;
        }
        if (!Subclassed)
        {
            Build(inputShapes[0]);
            return;
        }
        using var use = Use("Build", exclusive: true);
        Tensor[] samples = [.. inputShapes.Select(shape => Tensor.Zeros([1, .. shape.Length > 0 ? shape.AsSpan(1) : []]))];
        RollBackBuildOnFailure(() => CallSubclass(samples, false));
        subclassInputShapes = [.. samples.Select(t => (int[])[-1, .. t.ShapeRef.AsSpan(1)])];
    }

    /// <summary>The input shapes a subclassed model with several inputs was built for (batch axis -1), or null.</summary>
    internal IReadOnlyList<int[]>? SubclassInputShapes => InputCount > 1 ? subclassInputShapes : null;

    /// <summary>The input shapes (one per input, batch axis -1) a subclassed model last ran Fit, Evaluate or Build on.</summary>
    private int[][]? subclassInputShapes;

    /// <summary>A subclassed model's (first) input shape: the one Fit, Evaluate or Build last saw, else the first
    /// tracked layer's (Track the layers in the order the data meets them).</summary>
    private int[]? SubclassInputShape => subclassInputShapes?[0] ?? (layers.Count > 0 ? layers[0].BuildInputShape : null);

    /// <summary>The output shapes of a subclassed model with several inputs or outputs: its forward pass on one sample
    /// of zeros per input shape Fit or Evaluate last saw.</summary>
    private int[][] SubclassOutputShapes()
    {
        var shapes = subclassInputShapes ?? throw new InvalidOperationException($"Model '{Name}': its input shapes are not known yet: Fit or Evaluate it first.");
        var y = CallSubclass([.. shapes.Select(s => Tensor.Zeros([1, .. s.AsSpan(1)]))], false);
        return [.. y.Select(t => (int[])[-1, .. t.ShapeRef.AsSpan(1)])];
    }

    /// <summary>The output shape of a subclassed model: its forward pass on one sample of zeros of the input shape.</summary>
    private int[] SubclassOutputShape()
    {
        if (InputCount != 1 || OutputNames.Count != 1) return SubclassOutputShapes()[0];
        int[] shape = InputShape ?? throw new InvalidOperationException($"Model '{Name}': its input shape is not known yet: Build(inputShape) or Fit it first.");
        var y = CallCore(Tensor.Zeros([1, .. shape.AsSpan(1)]), false);
        return [-1, .. y.ShapeRef.AsSpan(1)];
    }

    /// <summary>A subclassed model's summary rows: its tracked layers, each with the output shape for the input shape
    /// it was built for ("?" before it is built).</summary>
    private IEnumerable<SummaryRow> SubclassSummaryRows() => layers.Select(l => new SummaryRow(l, SubclassLayerOutput(l), null));

    /// <summary>A tracked layer's output shape as the summary prints it: from the input shape it was built for; "?"
    /// unbuilt; "multiple" for a layer built for several inputs (a merge), whose single build shape does not say its output.</summary>
    private static string SubclassLayerOutput(Layer layer)
    {
        if (!layer.Built || layer.BuildInputShape is not { } shape) return "?";
        try { return FormatShape(layer.ComputeOutputShape(shape)); }
        catch (ArgumentException) { return "multiple"; }
    }

    /// <summary>Refuses, before Fit's first update, a subclassed model with a field or property holding a layer it did
    /// not <see cref="Track{T}(T)"/>: that layer's weights would silently never train, nor be saved.</summary>
    private void RequireTrackedLayers()
    {
        if (!Subclassed) return;
        const BindingFlags All = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        for (var type = GetType(); type != null && type != typeof(Model); type = type.BaseType)
            foreach (var field in type.GetFields(All))
            {
                object? value = field.GetValue(this);
                if (value is Model block && block.Layers.FirstOrDefault(l => !layers.Contains(l)) is { } missing)
                    throw new InvalidOperationException(
                        $"Model '{Name}': field '{field.Name}' holds model '{block.Name}', whose layer '{missing.Name}' the model does not track, so Fit would never train its weights. Register it in the constructor: {field.Name} = TrackModel(…);");
                if (value is Layer layer && !layers.Contains(layer))
                    throw new InvalidOperationException(
                        $"Model '{Name}': field '{field.Name}' holds {layer.GetType().Name} '{layer.Name}', which the model does not track, so Fit would never train its weights. Register it in the constructor: {field.Name} = Track(new {layer.GetType().Name}(…));");
            }
    }

    /// <summary>The Fit running a custom <see cref="TrainStep"/> (set for the step's duration), which the base
    /// implementation runs the standard step of.</summary>
    private Trainer? activeTrainer;

    /// <summary>Whether the model's class overrides <see cref="TrainStep"/> (Fit then calls it for every batch).</summary>
    internal bool OverridesTrainStep =>
        GetType().GetMethod(nameof(TrainStep), BindingFlags.Instance | BindingFlags.NonPublic, [typeof(Tensor[]), typeof(Tensor[]), typeof(Tensor)])!
            .DeclaringType != typeof(Model);

    /// <summary>Runs the model's <see cref="TrainStep"/> for <paramref name="trainer"/>'s batch.</summary>
    internal IReadOnlyDictionary<string, float> RunTrainStep(Trainer trainer, Tensor[] x, Tensor[] y, Tensor? sampleWeight)
    {
        activeTrainer = trainer;
        try { return TrainStep(x, y, sampleWeight); }
        finally { activeTrainer = null; }
    }

    /// <summary>
    /// One training step on one batch, as Keras 3's <c>train_step</c>: override it for custom training logic (a GAN's
    /// alternating updates, a loss that is not the compiled one), and <c>Fit</c> calls it for every batch — shuffling,
    /// epochs, callbacks, the progress bar and <see cref="History"/> stay Fit's. Return the logs to show: the progress
    /// bar prints them after each batch, callbacks receive them, and the last batch's become the epoch's entry in the
    /// history (as in Keras: use <see cref="Mean"/> trackers, listed in <see cref="Metrics"/> so that each epoch
    /// resets them, for running averages). The base implementation is the standard step (forward on a
    /// <see cref="GradientTape"/>, compiled losses and regularisation, optimizer update, compiled metrics) and returns
    /// its logs, so an override may call it. Overriding makes Fit take the tape path (<see cref="TrainingPath"/> says so);
    /// models that do not override keep the fused step.
    /// </summary>
    /// <param name="x">The batch's inputs, one tensor per input.</param>
    /// <param name="y">The batch's labels, one tensor per output.</param>
    /// <param name="sampleWeight">The batch's sample weights, or null.</param>
    /// <example>
    /// <code>
    /// protected override IReadOnlyDictionary&lt;string, float&gt; TrainStep(Tensor[] x, Tensor[] y, Tensor? sampleWeight)
    /// {
    ///     Tensor loss;
    ///     Tensor[] grads;
    ///     using (var tape = new GradientTape())
    ///     {
    ///         var pred = Call(x[0], training: true);
    ///         loss = ComputeLoss(y, [pred], sampleWeight) + 0.01f * pred.Square().Mean();   // a custom term
    ///         grads = tape.Gradient(loss, [.. TrainableVariables]);
    ///     }
    ///     Optimizer!.ApplyGradients(grads, TrainableVariables);
    ///     lossTracker.UpdateState(loss.Item(), x[0].Shape[0]);
    ///     return new Dictionary&lt;string, float&gt; { ["loss"] = lossTracker.Result() };
    /// }
    /// </code>
    /// </example>
    /// <exception cref="InvalidOperationException">The base implementation is called outside Fit.</exception>
    protected virtual IReadOnlyDictionary<string, float> TrainStep(Tensor[] x, Tensor[] y, Tensor? sampleWeight)
    {
        var trainer = activeTrainer ?? throw new InvalidOperationException($"Model '{Name}': the base TrainStep runs inside Fit, which calls it for every batch.");
        return trainer.StandardStep(x, y, sampleWeight);
    }

    /// <summary>
    /// The metrics a custom <see cref="TrainStep"/> updates, which Fit resets at the start of every epoch (Keras's
    /// overridden <c>metrics</c> property). Empty by default.
    /// </summary>
    /// <example><code>private readonly Mean lossTracker = new("loss");
    /// protected override IEnumerable&lt;Metric&gt; Metrics => [lossTracker];</code></example>
    protected virtual IEnumerable<Metric> Metrics => [];

    /// <summary>The metrics Fit resets at every epoch for a custom <see cref="TrainStep"/>.</summary>
    internal IEnumerable<Metric> StepMetrics => Metrics;

    /// <summary>
    /// The compiled loss for a batch, as Keras 3's <c>compute_loss</c>: each output's loss (weighted by its loss weight)
    /// plus the layers' regularisation penalties, as a scalar tensor recorded by any active <see cref="GradientTape"/>.
    /// For use in a custom <see cref="TrainStep"/>.
    /// </summary>
    /// <param name="y">The labels, one tensor per output.</param>
    /// <param name="yPred">The predictions, one tensor per output.</param>
    /// <param name="sampleWeight">A weight per row, or null.</param>
    /// <exception cref="InvalidOperationException">The model is not compiled.</exception>
    /// <exception cref="ArgumentException">The number of label or prediction tensors is not the number of outputs.</exception>
    protected Tensor ComputeLoss(Tensor[] y, Tensor[] yPred, Tensor? sampleWeight = null)
    {
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(yPred);
        RequireCompiled("ComputeLoss");
        int outputs = OutputNames.Count;
        if (y.Length != outputs || yPred.Length != outputs)
            throw new ArgumentException($"ComputeLoss: model '{Name}' has {outputs} output(s): expected {outputs} label and prediction tensor(s). Received: {y.Length} and {yPred.Length}");
        Tensor? total = null;
        for (int k = 0; k < outputs; k++)
        {
            var loss = (Losses.Count == 1 ? Losses[0] : Losses[k]).Call(y[k], yPred[k], sampleWeight);
            if (LossWeights is { } w) loss *= w[k];
            total = total == null ? loss : total + loss;
        }
        foreach (var r in RegularizationLosses()) total = total! + r;
        return total!;
    }
}
