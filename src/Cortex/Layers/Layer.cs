using Cortex.Initializers;
using Cortex.Regularizers;
using Cortex.Saving;

namespace Cortex.Layers;

/// <summary>
/// The base of every layer, with Keras's contract: the constructor validates and stores configuration;
/// <see cref="Build(int[])"/> creates the weights from the first input's shape; <see cref="Call(Tensor, bool, Tensor?)"/> computes;
/// <see cref="ComputeOutputShape(int[])"/>; <see cref="GetConfig"/> for saving. A layer is callable on its own.
/// </summary>
/// <example>
/// <code>
/// var layer = new Dense(units: 3, activation: "sigmoid");
/// Tensor a1 = layer.Call(Tensor.FromArray(new float[,] { { 200, 17 } }));   // builds, then computes: shape (1, 3)
/// </code>
/// </example>
public abstract class Layer
{
    private static readonly Dictionary<string, int> NameCounts = [];
    private readonly List<Variable> weights = [];
    private readonly List<(Variable Weight, Regularizer Regularizer)> regularized = [];
    private readonly List<Layer> sublayers = [];

    // Floats AddWeight may still allocate on this thread, or null for no limit (see LimitWeights).
    [ThreadStatic] private static long? weightsLeft;

    /// <summary>Names the layer: the given name, or the snake_case type name with a counter (<c>dense</c>, <c>dense_1</c>, …).</summary>
    protected Layer(string? name)
    {
        Name = name ?? UniqueName(DefaultName);
    }

    /// <summary>The snake_case stem for automatic names, e.g. <c>dense</c>.</summary>
    protected virtual string DefaultName => ToSnakeCase(GetType().Name);

    /// <summary>The layer's name, unique within the process unless given explicitly.</summary>
    public string Name { get; }

    /// <summary>Whether <see cref="Build(int[])"/> has run (weights exist).</summary>
    public bool Built { get; private set; }

    /// <summary>The input shape the layer was built for (the batch axis as -1), or null before building.</summary>
    public int[]? BuildInputShape { get; private set; }

    /// <summary>Whether an optimizer updates this layer's trainable weights.</summary>
    [Config]
    public bool Trainable { get; set; } = true;

    /// <summary>All weights: trainable then non-trainable, in creation order within each group (a wrapper's own, then
    /// those of the layers it wraps).</summary>
    public IReadOnlyList<Variable> Weights => [.. TrainableWeights, .. NonTrainableWeights];

    /// <summary>The weights an optimizer updates.</summary>
    public IReadOnlyList<Variable> TrainableWeights =>
        Trainable ? [.. weights.Where(w => w.Trainable), .. sublayers.SelectMany(l => l.TrainableWeights)] : [];

    /// <summary>The weights an optimizer leaves alone (e.g. a Normalization layer's mean and variance).</summary>
    public IReadOnlyList<Variable> NonTrainableWeights => Trainable
        ? [.. weights.Where(w => !w.Trainable), .. sublayers.SelectMany(l => l.NonTrainableWeights)]
        : [.. weights, .. sublayers.SelectMany(l => l.Weights)];

    /// <summary>
    /// Makes <paramref name="inner"/> part of this layer, as Keras tracks a wrapper's layers: its weights are listed
    /// with this layer's (and saved, counted, trained or frozen with it), its penalties added to this layer's.
    /// </summary>
    private protected void Track(Layer inner) => sublayers.Add(inner);

    /// <summary>Creates the weights for inputs of <paramref name="inputShape"/> (batch axis included). Called once, on first use.</summary>
    protected virtual void Build(int[] inputShape) { }

    /// <summary>The computation, on inputs the base class has already checked.</summary>
    protected abstract Tensor CallCore(Tensor inputs, bool training);

    /// <summary>The output shape for inputs of <paramref name="inputShape"/> (batch axis included, -1 when unknown).</summary>
    public virtual int[] ComputeOutputShape(int[] inputShape) => inputShape;

    /// <summary>An image layer's output shape for a channels-last input, whatever its <c>dataFormat</c> (the shape its
    /// channels-last stage works in); other layers' <see cref="ComputeOutputShape(int[])"/>.</summary>
    internal virtual int[] ChannelsLastOutputShape(int[] inputShape) => ComputeOutputShape(inputShape);

    /// <summary>Checks an input before computing; throws with the layer's name, the expected and the received shape.</summary>
    protected virtual void CheckInput(Tensor inputs) { }

    /// <summary>
    /// Runs the layer on <paramref name="inputs"/>, building it first if needed. <paramref name="training"/> switches
    /// training-only behaviour (dropout). <paramref name="mask"/> (batch, timesteps), when given, marks the time steps
    /// that hold data (1) or padding (0), as Keras's <c>layer(inputs, mask=mask)</c>: the recurrent layers leave their
    /// state unchanged over masked steps, <see cref="GlobalAveragePooling1D"/> averages the unmasked steps only; other
    /// layers ignore it.
    /// </summary>
    /// <exception cref="ArgumentException">The input's shape does not fit the layer, or the mask's shape is not the
    /// input's without its last axis ((batch, timesteps) for sequences); the message names the layer and both shapes.</exception>
    /// <example><code>Tensor h = new LSTM(8).Call(x, mask: Tensor.FromArray(new float[,] { { 1, 1, 0 } }));   // x: (1, 3, features)</code></example>
    public Tensor Call(Tensor inputs, bool training = false, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        EnsureBuilt(inputs.ShapeRef);
        CheckInput(inputs);
        if (mask == null) return CallCore(inputs, training);
        CheckMask(inputs, mask);
        return CallCore(inputs, mask, training);
    }

    /// <summary>Throws unless <paramref name="mask"/> has the shape of <paramref name="inputs"/> without its last axis
    /// (Keras's masks: (batch, timesteps) for sequences of features).</summary>
    private void CheckMask(Tensor inputs, Tensor mask)
    {
        int[] x = inputs.ShapeRef, m = mask.ShapeRef;
        if (x.Length < 2 || !ShapeUtil.SameShape(m, x[..^1]))
            throw new ArgumentException($"{GetType().Name} '{Name}' expects a mask of shape {ShapeUtil.Format(x.Length < 2 ? x : x[..^1])} (the input's shape without its last axis) for input of shape {ShapeUtil.Format(x)}. Received: mask of shape {ShapeUtil.Format(m)}");
    }

    /// <summary>The computation with a (checked) mask; layers that ignore masks run <see cref="CallCore(Tensor, bool)"/>.</summary>
    private protected virtual Tensor CallCore(Tensor inputs, Tensor mask, bool training) => CallCore(inputs, training);

    /// <summary>Whether a mask reaching this layer goes on, unchanged, to the next one (Keras's <c>supports_masking</c>
    /// of a layer that keeps the time axis: Dropout, Activation, TimeDistributed, …).</summary>
    private protected virtual bool PassesMask => false;

    /// <summary>
    /// The mask of this layer's output, as Keras's <c>compute_mask(inputs, previous_mask)</c>: what
    /// <see cref="Models.Sequential"/> gives the next layer. A layer that makes a mask (<see cref="Masking"/>,
    /// <see cref="Embedding"/> with <c>maskZero</c>) returns its own; one that keeps the time axis passes
    /// <paramref name="mask"/> on; the rest (and a recurrent layer returning only its last state) return null.
    /// </summary>
    /// <example><code>Tensor? m = new Masking().ComputeMask(x, null);   // x: (N, T, F) → m: (N, T)</code></example>
    public virtual Tensor? ComputeMask(Tensor inputs, Tensor? mask) => PassesMask ? mask : null;

    /// <summary>The fused step's counterpart of <see cref="ComputeMask(Tensor, Tensor?)"/>: the buffer (rows × timesteps)
    /// that holds, once <paramref name="stage"/> has run forward, the mask of this layer's output; the one reaching the
    /// layer is <see cref="StageContext.Mask"/>.</summary>
    internal virtual float[]? StageMask(StageContext context, Stage? stage) => PassesMask ? context.Mask : null;

    /// <summary>
    /// Runs a layer that takes several inputs (a merge layer such as <see cref="Add"/>) on <paramref name="inputs"/>,
    /// building it first if needed; one input is the same as <see cref="Call(Tensor, bool, Tensor?)"/>.
    /// </summary>
    /// <example><code>Tensor sum = new Add().Call(a, b);</code></example>
    /// <exception cref="ArgumentException">No inputs, or a count or shape the layer does not take (the message names the layer).</exception>
    public Tensor Call(params Tensor[] inputs) => Call(inputs, training: false);

    /// <summary>Runs the layer on several inputs; <paramref name="training"/> as in <see cref="Call(Tensor, bool, Tensor?)"/>.</summary>
    /// <exception cref="ArgumentException">No inputs, or a count or shape the layer does not take (the message names the layer).</exception>
    public Tensor Call(IReadOnlyList<Tensor> inputs, bool training)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException($"{GetType().Name} '{Name}' needs at least one input.", nameof(inputs));
        if (inputs.Count == 1) return Call(inputs[0], training);
        if (States != null) return CallWithState(inputs[0], [.. inputs.Skip(1)], training)[0]; // the rest are initial states
        int[][] shapes = new int[inputs.Count][];
        for (int i = 0; i < shapes.Length; i++) shapes[i] = (inputs[i] ?? throw new ArgumentNullException(nameof(inputs))).ShapeRef;
        EnsureBuilt(shapes);
        return CallCore(inputs, training);
    }

    /// <summary>
    /// Calls the layer on symbolic tensors, as Keras's Functional API does: builds the layer for their shapes, checks
    /// them (the layer's own message for a shape it does not take), and returns the output tensor, which records the
    /// call (a <see cref="Node"/>: this layer and its inputs). Calling one layer on several tensors shares its weights.
    /// </summary>
    /// <example>
    /// <code>
    /// var inputs = new Input([784]);
    /// SymbolicTensor x = new Dense(64, "relu").Call(inputs);   // shape (None, 64)
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">No inputs, or a shape or count the layer does not take; an unbuilt layer
    /// stays unbuilt.</exception>
    /// <exception cref="InvalidOperationException">The layer is an <see cref="Input"/>, which is not called.</exception>
    public SymbolicTensor Call(params SymbolicTensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (this is Input) throw new InvalidOperationException($"Input '{Name}' is not called: use it (its Output) as the tensor other layers are called on.");
        if (inputs.Length == 0) throw new ArgumentException($"{GetType().Name} '{Name}' needs at least one input.", nameof(inputs));
        int[][] shapes = new int[inputs.Length][];
        for (int i = 0; i < shapes.Length; i++) shapes[i] = (inputs[i] ?? throw new ArgumentNullException(nameof(inputs))).Shape;
        bool wasBuilt = Built;
        int[] outShape;
        try
        {
            if (shapes.Length == 1 || States != null)
            {
                EnsureBuilt(shapes[0]);
                CheckSymbolic(shapes[0]);
                if (shapes.Length > 1) CheckStates(shapes[0][0], shapes[1..]);
                outShape = ComputeOutputShape(shapes[0]);
            }
            else
            {
                EnsureBuilt(shapes);
                outShape = ComputeOutputShape(shapes);
            }
        }
        catch (ArgumentException e) when (e.GetType() == typeof(ArgumentException))
        {
            if (!wasBuilt) Unbuild();
            // The layer's own message, and where its inputs came from: in a graph, the layers that made them.
            throw new ArgumentException($"{e.Message.TrimEnd('.')}. {GetType().Name} '{Name}' was called on: " +
                string.Join(", ", inputs.Select(t => $"{Models.Model.FormatShape(t.ShapeRef)} from {t.Layer.GetType().Name} '{t.Layer.Name}'")) + ".", e);
        }
        catch
        {
            if (!wasBuilt) Unbuild();
            throw;
        }
        int call = Interlocked.Increment(ref symbolicCalls) - 1;
        int[][] outShapes = ReturnsState ? [outShape, .. States!.Select(st => new[] { -1, st.Units })] : [outShape];
        return new Node(this, [.. inputs], outShapes, call == 0 ? Name : $"{Name}_{call}").Output;
    }

    private int symbolicCalls;

    /// <summary>The states a recurrent layer carries from step to step, in Keras's order, with their widths
    /// (<c>[h, c]</c> for an LSTM; a Bidirectional's forward states then its backward states); null for a layer without
    /// states, which takes no initial states.</summary>
    internal virtual IReadOnlyList<(string Name, int Units)>? States => null;

    /// <summary>Whether a call returns its final states after its output (Keras's <c>return_state</c>).</summary>
    internal virtual bool ReturnsState => false;

    /// <summary>
    /// Calls a recurrent layer (<see cref="SimpleRNN"/>, <see cref="LSTM"/>, <see cref="GRU"/>,
    /// <see cref="Bidirectional"/>) starting from <paramref name="initialState"/> instead of zeros, as Keras's
    /// <c>layer(x, initial_state=[h0, c0])</c>, and returns what Keras returns as an array: <c>[output, states…]</c>
    /// when the layer has <c>returnState: true</c> (an LSTM's <c>[output, h, c]</c>; a Bidirectional's
    /// <c>[output, forward states…, backward states…]</c>), otherwise <c>[output]</c>. Each initial state is
    /// (batch, units), an LSTM's <c>[h, c]</c>, a Bidirectional's forward states then its backward states. Under a
    /// <see cref="GradientTape"/> the gradients reach the initial states too. (<see cref="Call(Tensor, bool, Tensor?)"/>
    /// on a layer with <c>returnState</c> returns the output alone.)
    /// </summary>
    /// <param name="inputs">The sequence (batch, timesteps, features).</param>
    /// <param name="initialState">The states the first step starts from; null or empty: zeros.</param>
    /// <param name="training">Training mode (dropout).</param>
    /// <param name="mask">(batch, timesteps): 1 for a step with data, 0 for padding; a masked step carries the
    /// states over, the initial states included.</param>
    /// <example>
    /// <code>
    /// var lstm = new LSTM(8, returnState: true);
    /// Tensor[] outs = lstm.CallWithState(x, [h0, c0]);   // x (2, 5, 3), h0 and c0 (2, 8)
    /// Tensor y = outs[0], h = outs[1], c = outs[2];     // each (2, 8)
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">The layer is not recurrent, the number of initial states or a state's shape
    /// is not what the layer carries (the message names the layer and each expected shape), or the input or mask does
    /// not fit.</exception>
    public Tensor[] CallWithState(Tensor inputs, IReadOnlyList<Tensor>? initialState = null, bool training = false, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var states = States ?? throw NotRecurrent(initialState?.Count ?? 0);
        EnsureBuilt(inputs.ShapeRef);
        CheckInput(inputs);
        if (mask != null) CheckMask(inputs, mask);
        if (initialState is { Count: 0 }) initialState = null;
        if (initialState != null)
            CheckStates(inputs.ShapeRef[0], [.. initialState.Select(t => (t ?? throw new ArgumentNullException(nameof(initialState))).ShapeRef)]);
        return StageOp.Run(this, inputs, training, mask, initialState, ReturnsState);
    }

    /// <summary>
    /// The symbolic form of <see cref="CallWithState(Tensor, IReadOnlyList{Tensor}?, bool, Tensor?)"/> for the
    /// Functional API: one call (one <see cref="Node"/>) whose inputs are the sequence and the initial states, and
    /// whose outputs are <c>[output, states…]</c> with <c>returnState: true</c>, else <c>[output]</c>. Keras's
    /// sequence-to-sequence pattern:
    /// </summary>
    /// <example>
    /// <code>
    /// var source = new Input([10, 16]);
    /// SymbolicTensor[] encoded = new LSTM(64, returnState: true).CallWithState(source);   // [output, h, c]
    /// var target = new Input([12, 16]);
    /// SymbolicTensor decoded = new LSTM(64, returnSequences: true).CallWithState(target, encoded[1..])[0];
    /// var model = new Functional([source, target], [new Dense(16).Call(decoded)]);
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">As the eager form; the message also names the layers that made the inputs.</exception>
    public SymbolicTensor[] CallWithState(SymbolicTensor inputs, IReadOnlyList<SymbolicTensor>? initialState = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (States == null) throw NotRecurrent(initialState?.Count ?? 0);
        return [.. Call([inputs, .. initialState ?? []]).Node.Outputs];
    }

    /// <summary>Runs this layer as a graph's node does: on its inputs (a recurrent layer's: the sequence, then its
    /// initial states), returning all its outputs.</summary>
    internal Tensor[] CallNode(Tensor[] args, bool training) =>
        States != null && (args.Length > 1 || ReturnsState) ? CallWithState(args[0], args[1..], training) : [Call(args, training)];

    private ArgumentException NotRecurrent(int given) =>
        new($"{GetType().Name} '{Name}' takes no initial states: only the recurrent layers (SimpleRNN, LSTM, GRU) and Bidirectional carry states. Received: {given} initial state(s)");

    /// <summary>Throws unless <paramref name="shapes"/> are this layer's states for a batch of <paramref name="batch"/>
    /// rows (-1: any): their number and each one's shape (batch, units).</summary>
    private void CheckStates(int batch, int[][] shapes)
    {
        var states = States!;
        string b = batch < 0 ? "batch" : batch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string Expected((string Name, int Units) st) => $"{st.Name} ({b}, {st.Units})";
        string Format(int[] shape) => batch < 0 ? Models.Model.FormatShape(shape) : ShapeUtil.Format(shape); // symbolic: (None, 5)
        if (shapes.Length != states.Count)
            throw new ArgumentException($"{GetType().Name} '{Name}' expects {states.Count} initial state(s): {string.Join(", ", states.Select(Expected))}. " +
                $"Received: {shapes.Length} initial state(s){(shapes.Length > 0 ? " of shapes " + string.Join(", ", shapes.Select(Format)) : "")}");
        for (int k = 0; k < shapes.Length; k++)
        {
            int[] s = shapes[k];
            if (s.Length != 2 || s[1] != states[k].Units || (batch >= 0 && s[0] >= 0 && s[0] != batch))
                throw new ArgumentException($"{GetType().Name} '{Name}': initial state {k} ({states[k].Name}) must have shape ({b}, {states[k].Units}) (batch, units). " +
                    $"Received: shape {Format(s)}");
        }
    }

    /// <summary>
    /// Runs <see cref="CheckInput"/> for a symbolic shape on a batch of no rows: the checks read shapes (an Embedding's
    /// index check reads no values then), and nothing is allocated for a sample however large. The message shows the
    /// batch axis as Keras does, <c>(None, 5)</c>.
    /// </summary>
    internal void CheckSymbolic(int[] shape)
    {
        if (shape.Length == 0) throw new ArgumentException($"{GetType().Name} '{Name}' expects input with a batch axis. Received: shape ()");
        // A size known only when called (−1) is probed as 1: the checks read the known sizes (channels, features).
        var probe = Tensor.Zeros([0, .. shape.AsSpan(1).ToArray().Select(d => d < 0 ? 1 : d)]);
        string rows = ShapeUtil.Format(probe.ShapeRef);
        try { CheckInput(probe); }
        catch (ArgumentException e) when (e.Message.Contains(rows))
        {
            throw new ArgumentException(e.Message.Replace(rows, Models.Model.FormatShape(shape)), e);
        }
    }

    /// <summary>
    /// The computation on several inputs (a merge layer's), on inputs the base class has built the layer for. The
    /// default refuses more than one input, so single-input layers need not know this exists.
    /// </summary>
    protected virtual Tensor CallCore(IReadOnlyList<Tensor> inputs, bool training) =>
        inputs.Count == 1 ? CallCore(inputs[0], training)
            : throw new ArgumentException($"{GetType().Name} '{Name}' takes one input. Received: {inputs.Count} inputs");

    /// <summary>The output shape for several inputs (batch axes included, -1 when unknown); throws, naming the layer,
    /// for shapes it does not take. The default takes one input.</summary>
    public virtual int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes)
    {
        ArgumentNullException.ThrowIfNull(inputShapes);
        return inputShapes.Count == 1 ? ComputeOutputShape(inputShapes[0])
            : throw new ArgumentException($"{GetType().Name} '{Name}' takes one input. Received: {inputShapes.Count} inputs");
    }

    /// <summary>Creates the weights for several inputs (batch axes included). The default builds for the first.</summary>
    protected virtual void Build(IReadOnlyList<int[]> inputShapes) => Build(inputShapes[0]);

    /// <summary>Builds the layer for several inputs unless already built (<see cref="BuildInputShape"/> is the first's).</summary>
    internal void EnsureBuilt(IReadOnlyList<int[]> inputShapes)
    {
        if (Built) return;
        var shapes = inputShapes.Select(s => s.Length > 0 ? [-1, .. s.AsSpan(1)] : (int[])s.Clone()).ToArray();
        Build(shapes);
        BuildInputShape = shapes[0];
        Built = true;
    }

    /// <summary>Runs <see cref="CheckInput"/> on data the layer will receive (a built layer).</summary>
    internal void CheckData(Tensor inputs) => CheckInput(inputs);

    /// <summary>Builds the layer for inputs of <paramref name="inputShape"/> unless already built.</summary>
    public void EnsureBuilt(int[] inputShape)
    {
        if (Built) return;
        var shape = (int[])inputShape.Clone();
        if (shape.Length > 0) shape[0] = -1;
        Build(shape);
        BuildInputShape = shape;
        Built = true;
    }

    /// <summary>Creates a weight variable named <c>layer/name</c>.</summary>
    protected Variable AddWeight(string name, int[] shape, Initializer initializer, bool trainable = true, Regularizer? regularizer = null,
        Constraints.Constraint? constraint = null)
    {
        if (weightsLeft is long left) weightsLeft = left - Reserve(name, shape, left);
        var v = new Variable(initializer.Call(shape), $"{Name}/{name}", trainable) { Constraint = constraint };
        weights.Add(v);
        if (regularizer != null) regularized.Add((v, regularizer));
        return v;
    }

    /// <summary>
    /// Caps the floats that building layers may allocate for weights on this thread until the scope is disposed, so
    /// that an architecture read from untrusted data (a model file that claims a 250,000,000-input Dense layer) fails
    /// before its weights are allocated rather than after. Past the cap, building throws an
    /// <see cref="InvalidDataException"/> naming the layer, the weight and its shape.
    /// </summary>
    internal static WeightLimit LimitWeights(long floats) => new(floats);

    /// <summary>The scope of <see cref="LimitWeights"/>; disposing it restores the limit in force before.</summary>
    internal readonly struct WeightLimit : IDisposable
    {
        private readonly long? outer;

        internal WeightLimit(long floats)
        {
            outer = weightsLeft;
            weightsLeft = floats;
        }

        /// <summary>Restores the outer limit.</summary>
        public void Dispose() => weightsLeft = outer;
    }

    // The size of a weight about to be allocated, checked against the floats left before anything is allocated.
    private long Reserve(string name, int[] shape, long left)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new InvalidDataException($"Layer '{Name}' weight '{name}' would have shape {ShapeUtil.Format(shape)}: expected non-negative dimensions.");
            if (d != 0 && n > left / d) // n·d > left, tested without forming n·d (which could overflow)
                throw new InvalidDataException($"Layer '{Name}' weight '{name}' has shape {ShapeUtil.Format(shape)}: more than the {left:N0} floats left for weights.");
            n *= d;
        }
        return n;
    }

    /// <summary>Whether a trained weight of this layer carries a regularizer (whose penalty the fused step does not add).</summary>
    internal bool HasRegularizer => Trainable && (regularized.Count > 0 || sublayers.Any(l => l.HasRegularizer));

    /// <summary>The regularisation penalties of this layer's weights (added to the loss during training).</summary>
    public IEnumerable<Tensor> RegularizationLosses()
    {
        if (!Trainable) yield break;
        foreach (var (w, r) in regularized) yield return r.Call(w);
        foreach (var inner in sublayers)
            foreach (var penalty in inner.RegularizationLosses()) yield return penalty;
    }

    /// <summary>Copies of the weights, in <see cref="Weights"/> order (for Dense: kernel (inputs, units), then bias).</summary>
    public Tensor[] GetWeights() => [.. Weights.Select(w => w.Value())];

    /// <summary>Replaces the weights, in <see cref="Weights"/> order. Nothing changes unless every shape matches.</summary>
    /// <exception cref="InvalidOperationException">The layer is not built yet.</exception>
    /// <exception cref="ArgumentException">The count or a shape differs; the message names the layer and both.</exception>
    public void SetWeights(params Tensor[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var ws = Weights;
        if (!Built && values.Length > 0 && TryBuildFromWeights(values)) ws = Weights;
        if (!Built)
            throw new InvalidOperationException($"Layer '{Name}' has no weights yet: call it on an input (or build it) before SetWeights.");
        if (values.Length != ws.Count)
            throw new ArgumentException($"Layer '{Name}' expects {ws.Count} weights ({string.Join(", ", ws.Select(w => ShapeUtil.Format(w.ShapeRef)))}). Received: {values.Length}");
        for (int i = 0; i < ws.Count; i++)
            if (!ShapeUtil.SameShape(ws[i].ShapeRef, values[i].ShapeRef))
                throw new ArgumentException($"Layer '{Name}' weight '{ws[i].Name}' has shape {ShapeUtil.Format(ws[i].ShapeRef)}. Received: shape {ShapeUtil.Format(values[i].ShapeRef)}");
        for (int i = 0; i < ws.Count; i++) ws[i].Assign(values[i]);
    }

    /// <summary>The generator a layer draws from while training (Dropout's masks), or null. Its position is part of the
    /// model's state: a saved model continues the stream where it was.</summary>
    internal virtual CortexRandom? Generator => null;

    /// <summary>
    /// In data-parallel training, the part of the step's global batch this thread trains on (its first row and the
    /// global batch's row count), set by the trainer around each step; null otherwise. A layer that draws random
    /// numbers per row (Dropout, SpatialDropout2D, GaussianNoise) draws them for the whole global batch, as one process would, and keeps its rows' part,
    /// so that training does not depend on the number of ranks.
    /// </summary>
    [ThreadStatic] internal static (int First, int GlobalRows)? TrainingShard;

    /// <summary>
    /// Returns a layer to its unbuilt state (no weights, no build shape), so that a Fit whose input checks fail leaves a
    /// model that was unbuilt unbuilt. Typed weight properties (<c>Dense.Kernel</c>) are replaced at the next build.
    /// </summary>
    internal void Unbuild()
    {
        weights.Clear();
        regularized.Clear();
        foreach (var inner in sublayers) inner.Unbuild();
        BuildInputShape = null;
        Built = false;
    }

    /// <summary>Lets a layer build itself from the shapes of weights being set (Dense infers its input size).</summary>
    protected virtual bool TryBuildFromWeights(Tensor[] values) => false;

    /// <summary>
    /// This layer's <see cref="Stage"/> for the fused training step: true with a stage; true with none for a layer
    /// that leaves each sample's row of floats as it is (Input, Flatten, Reshape); false, with the reason, when the
    /// layer (or this use of it) has no stage, and the model trains on the tape.
    /// </summary>
    internal virtual bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        reason = "has no fused stage";
        return false;
    }

    /// <summary>For layers that only relabel a sample's shape: no stage, rows as they are.</summary>
    private protected static bool RowsUnchanged(out Stage? stage, out string reason)
    {
        stage = null;
        reason = "";
        return true;
    }

    /// <summary>The number of scalar weights.</summary>
    public int CountParams() => weights.Sum(w => w.Size) + sublayers.Sum(l => l.CountParams());

    /// <summary>
    /// The constructor's named arguments, Keras-named (<c>units</c>, <c>use_bias</c>, <c>name</c>, …), with
    /// <c>trainable</c>: what saving stores and loading passes back to the constructor. Each layer declares them once,
    /// by its constructor and the properties of the same names (see <see cref="ConfigRegistry"/>).
    /// </summary>
    /// <example><code>new Dense(3, "relu").GetConfig()   // {name: "dense", units: 3, activation: "relu", activation_alpha: 0, use_bias: true, …, trainable: true}</code></example>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({GetType().Name})";

    private static string UniqueName(string stem)
    {
        lock (NameCounts)
        {
            NameCounts.TryGetValue(stem, out int n);
            NameCounts[stem] = n + 1;
            return n == 0 ? stem : $"{stem}_{n}";
        }
    }

    internal static string ToSnakeCase(string name)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1]))))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
