using Cortex.Activations;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Activation))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Flatten))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Dropout))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Input))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Reshape))]

namespace Cortex.Layers;

/// <summary>Applies an activation function: <c>new Activation("relu")</c>.</summary>
/// <example><code>var act = new Activation("softmax"); Tensor p = act.Call(logits);</code></example>
public sealed class Activation(ActivationFunction activation, string? name = null) : Layer(name)
{
    /// <summary>The function applied.</summary>
    [Config(Argument = "activation")]
    public ActivationFunction Function { get; } = activation ?? throw new ArgumentNullException(nameof(activation));

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => Function.Apply(inputs);

    /// <inheritdoc/>
    private protected override bool PassesMask => true;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        reason = Function.DerivativeFromOutput ? "" : $"has the activation '{Function.Name}'";
        if (reason.Length > 0) return false;
        stage = new ActivationStage(Function, context.Sample[^1]) { Width = context.InputWidth };
        return true;
    }
}

/// <summary>Flattens each sample to one axis: (N, 28, 28, 1) → (N, 784).</summary>
/// <example><code>var flat = new Flatten(); Tensor v = flat.Call(images);</code></example>
public sealed class Flatten(string? name = null) : Layer(name)
{
    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason) => RowsUnchanged(out stage, out reason);

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training)
    {
        if (inputs.Rank == 0) throw new ArgumentException($"Flatten '{Name}' expects input with a batch axis. Received: shape ()");
        int n = inputs.ShapeRef[0];
        return inputs.Rank == 2 ? inputs : inputs.Reshape(n, n == 0 ? 0 : inputs.Size / n);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        int f = 1;
        for (int i = 1; i < inputShape.Length; i++) f *= inputShape[i];
        return [inputShape[0], inputShape.Skip(1).Any(d => d < 0) ? -1 : f];   // a size known only when called: unknown
    }
}

/// <summary>
/// Randomly sets a fraction <c>rate</c> of inputs to 0 during training and scales the rest by 1/(1 − rate), so
/// inference (where it does nothing) sees the same expected values. With <c>noiseShape</c>, as Keras's
/// <c>noise_shape</c>, one keep/drop draw covers every axis where the noise shape is 1: <c>noiseShape: [-1, 1, 1, -1]</c>
/// drops whole channels of NHWC images (SpatialDropout2D), <c>[-1, 1, -1]</c> the same features at every time step.
/// </summary>
/// <example><code>var drop = new Dropout(rate: 0.5f, seed: 42);
/// var sameMaskEachStep = new Dropout(0.3f, noiseShape: [-1, 1, -1]);   // (N, T, F): one mask per sample, every step</code></example>
public sealed class Dropout : Layer
{
    private readonly CortexRandom rng;

    /// <summary>Creates the layer.</summary>
    /// <param name="rate">The fraction of inputs dropped, in [0, 1).</param>
    /// <param name="noiseShape">The shape of the keep/drop draws, batch axis first (rank of the input): each entry −1
    /// (Keras's None: the input's size), 1 (one draw shared along that axis) or the input's size; null: one draw per input.</param>
    /// <param name="seed">Seed of the masks; the global seed's next when null.</param>
    /// <param name="name">Layer name.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is outside [0, 1), or an entry of
    /// <paramref name="noiseShape"/> is 0 or below −1.</exception>
    public Dropout(float rate, int[]? noiseShape = null, int? seed = null, string? name = null) : base(name)
    {
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentOutOfRangeException(nameof(rate), $"Dropout: rate must be in [0, 1). Received: rate={rate}");
        if (noiseShape != null && (noiseShape.Length == 0 || noiseShape.Any(d => d == 0 || d < -1)))
            throw new ArgumentOutOfRangeException(nameof(noiseShape), $"Dropout: noiseShape must list, for each axis of the input, -1 (the input's size), 1 or a positive size. Received: noiseShape={ShapeUtil.Format(noiseShape)}");
        Rate = rate;
        NoiseShape = noiseShape == null ? null : (int[])noiseShape.Clone();
        Seed = seed;
        rng = CortexRandom.FromSeedOrGlobal(seed);
    }

    /// <summary>The fraction of inputs dropped.</summary>
    public float Rate { get; }

    /// <summary>The shape of the draws (−1: the input's size), or null for one draw per input.</summary>
    public int[]? NoiseShape { get; }

    /// <summary>The seed, if one was given.</summary>
    public int? Seed { get; }

    /// <summary>The noise shape for inputs of <paramref name="shape"/>, −1 entries resolved; throws when it does not fit.</summary>
    private int[] ResolvedNoise(int[] shape)
    {
        if (NoiseShape == null) return shape;
        bool fits = NoiseShape.Length == shape.Length;
        for (int i = 0; fits && i < shape.Length; i++) fits = NoiseShape[i] is -1 or 1 || NoiseShape[i] == shape[i] || shape[i] < 0;
        if (!fits)
            throw new ArgumentException($"Dropout '{Name}' expects input of rank {NoiseShape.Length} whose sizes match noiseShape={ShapeUtil.Format(NoiseShape)} where it is neither -1 nor 1. Received: shape {Models.Model.FormatShape(shape)}");
        return [.. NoiseShape.Select((d, i) => d == -1 ? shape[i] : d)];
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => ResolvedNoise(inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => ResolvedNoise(inputs.ShapeRef);

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        training && Rate > 0f ? StageOp.Run(this, inputs, training) : inputs;

    /// <inheritdoc/>
    internal override CortexRandom? Generator => rng;

    /// <inheritdoc/>
    private protected override bool PassesMask => true;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] noise = ResolvedNoise([context.Batch, .. context.Sample]);
        int[]? index = KeepMask.DrawIndex(context.Sample, noise[1..]);
        stage = new KeepMaskStage(rng, Rate, index, noise[1..].Aggregate(1, (a, b) => a * b), noise[0] == 1 && context.Batch != 1,
            context.Training, context.Batch) { Width = context.InputWidth };
        return true;
    }
}

/// <summary>
/// Declares the shape of one sample (without the batch axis), as <c>keras.Input(shape=(784,))</c>. Placed first in a
/// <see cref="Models.Sequential"/>, it lets the model build (and <c>Summary()</c> show shapes) before any data is seen.
/// </summary>
/// <example><code>var model = new Sequential(new Input(shape: [784]), new Dense(25, "relu"));</code></example>
public sealed class Input : Layer
{
    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason) => RowsUnchanged(out stage, out reason);

    /// <summary>Creates the input declaration; −1 marks a dimension known only when the model is called (Keras's
    /// <c>None</c>): <c>new Input([-1, 8])</c> takes sequences of any length, <c>new Input([-1, -1, 3])</c> images of any size.</summary>
    /// <exception cref="ArgumentException">A dimension is neither positive nor −1.</exception>
    public Input(int[] shape, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(d => d <= 0 && d != -1))
            throw new ArgumentException($"Input: every dimension must be positive, or -1 (None) for one known only when called. Received: shape {ShapeUtil.Format(shape)}");
        SampleShape = (int[])shape.Clone();
        Output = new Node(this, [], [[-1, .. SampleShape]], Name).Output;
    }

    /// <summary>The symbolic tensor this input stands for in a <see cref="Models.Functional"/> model (an Input converts
    /// to it implicitly).</summary>
    public SymbolicTensor Output { get; }

    /// <inheritdoc/>
    protected override string DefaultName => "input_layer";

    /// <summary>The shape of one sample.</summary>
    [Config(Argument = "shape")]
    public int[] SampleShape { get; }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = inputs.ShapeRef;
        bool fits = s.Length == SampleShape.Length + 1;
        for (int i = 0; fits && i < SampleShape.Length; i++) fits = SampleShape[i] == -1 || SampleShape[i] == s[i + 1];
        if (!fits)
            throw new ArgumentException($"Input '{Name}' expects shape {ShapeUtil.Format([-1, .. SampleShape]).Replace("-1", "None")}. Received: shape {ShapeUtil.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => inputs;
}

/// <summary>
/// Gives each sample a new shape, the batch axis untouched, as <c>keras.layers.Reshape</c>: <c>new Reshape([28, 28, 1])</c>
/// turns (N, 784) into (N, 28, 28, 1). One dimension may be −1 (inferred).
/// </summary>
/// <example><code>var model = new Sequential(new Input([784]), new Reshape([28, 28, 1]), new Conv2D(32, 3, activation: "relu"));</code></example>
public sealed class Reshape : Layer
{
    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason) => RowsUnchanged(out stage, out reason);

    /// <summary>Creates the layer.</summary>
    /// <exception cref="ArgumentException">A dimension is zero or below −1, or more than one is −1.</exception>
    public Reshape(int[] targetShape, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(targetShape);
        if (targetShape.Any(d => d == 0 || d < -1) || targetShape.Count(d => d == -1) > 1)
            throw new ArgumentException($"Reshape: the target shape must hold positive sizes and at most one -1. Received: targetShape={ShapeUtil.Format(targetShape)}", nameof(targetShape));
        TargetShape = (int[])targetShape.Clone();
    }

    /// <summary>The shape of each sample after the layer (may hold one −1).</summary>
    public int[] TargetShape { get; }

    private int[] SampleShape(int[] inputShape)
    {
        if (inputShape.Length == 0) throw new ArgumentException($"Reshape '{Name}' expects input with a batch axis. Received: shape ()");
        int count = 1;
        for (int i = 1; i < inputShape.Length; i++) count *= inputShape[i];
        int known = 1;
        foreach (int d in TargetShape) if (d != -1) known *= d;
        var result = (int[])TargetShape.Clone();
        int free = Array.IndexOf(result, -1);
        if (free >= 0 && known > 0 && count % known == 0) result[free] = count / known;
        int total = 1;
        foreach (int d in result) total *= d;
        if (total != count || result.Any(d => d < 0))
            throw new ArgumentException($"Reshape '{Name}' cannot reshape samples of shape {ShapeUtil.Format(inputShape[1..])} ({count} values) to {ShapeUtil.Format(TargetShape)}. Received: shape {Models.Model.FormatShape(inputShape)}");
        return result;
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => SampleShape(inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => SampleShape(inputs.ShapeRef);

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => inputs.Reshape([inputs.ShapeRef[0], .. SampleShape(inputs.ShapeRef)]);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) => [inputShape[0], .. SampleShape(inputShape)];
}

/// <summary>An Activation layer. After a BatchNormalization it works in place on that stage's buffers (whose
/// backward reads neither its output nor, once this has run, the gradient before the activation), saving a copy
/// each way. Its rows are the sample's last axis, as on the tape (softmax after a Conv2D normalises each pixel's
/// channels, not the whole image).</summary>
internal sealed class ActivationStage(ActivationFunction function, int rowLength) : Stage
{
    public override bool CanRunInPlace => true;

    public override void Forward(float[] input, int rows)
    {
        if (input != Output) input.AsSpan(0, rows * Width).CopyTo(Output);
        function.ApplyInPlace(Output.AsSpan(0, rows * Width), rowLength);
    }

    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        Span<float> g = OutputGrad.AsSpan(0, rows * Width);
        function.BackwardInPlace(g, Output.AsSpan(0, rows * Width), rowLength);
        if (inputGrad != null && inputGrad != OutputGrad) g.CopyTo(inputGrad);
    }
}
