using System.Numerics.Tensors;
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
        return [inputShape[0], f];
    }
}

/// <summary>
/// Randomly sets a fraction <c>rate</c> of inputs to 0 during training and scales the rest by 1/(1 − rate), so
/// inference (where it does nothing) sees the same expected values.
/// </summary>
/// <example><code>var drop = new Dropout(rate: 0.5f, seed: 42);</code></example>
public sealed class Dropout : Layer
{
    private readonly CortexRandom rng;

    /// <summary>Creates the layer.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is outside [0, 1).</exception>
    public Dropout(float rate, int? seed = null, string? name = null) : base(name)
    {
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentOutOfRangeException(nameof(rate), $"Dropout: rate must be in [0, 1). Received: rate={rate}");
        Rate = rate;
        Seed = seed;
        rng = CortexRandom.FromSeedOrGlobal(seed);
    }

    /// <summary>The fraction of inputs dropped.</summary>
    public float Rate { get; }

    /// <summary>The seed, if one was given.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training)
    {
        if (!training || Rate == 0f) return inputs;
        var mask = Tensor.Uninitialized(inputs.ShapeRef);
        FillMask(mask.Span, inputs.Rank == 0 ? 1 : inputs.ShapeRef[0]);
        return inputs * mask;
    }

    /// <inheritdoc/>
    internal override CortexRandom? Generator => rng;

    /// <inheritdoc/>
    private protected override bool PassesMask => true;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int width = context.InputWidth;
        stage = new DropoutStage(this) { Width = width, Mask = new float[context.Batch * width] };
        return true;
    }

    private float[] globalMask = []; // data-parallel training: the whole global batch's mask, of which a rank keeps its rows

    /// <summary>Draws the next mask for <paramref name="rows"/> rows: 1/(1 − rate) where a unit is kept, 0 where it is
    /// dropped. In data-parallel training (<see cref="Layer.TrainingShard"/>) it draws the global batch's mask and keeps
    /// this rank's rows, so every rank's generator advances alike and the masks do not depend on the number of ranks.</summary>
    internal void FillMask(Span<float> mask, int rows)
    {
        if (TrainingShard is not { } shard || rows == 0)
        {
            rng.FillKeepMask(mask, Rate, 1f / (1f - Rate));
            return;
        }
        int width = mask.Length / rows, total = shard.GlobalRows * width;
        if (globalMask.Length < total) globalMask = new float[total];
        rng.FillKeepMask(globalMask.AsSpan(0, total), Rate, 1f / (1f - Rate));
        globalMask.AsSpan(shard.First * width, mask.Length).CopyTo(mask);
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

    /// <summary>Creates the input declaration.</summary>
    /// <exception cref="ArgumentException">A dimension is not positive.</exception>
    public Input(int[] shape, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(d => d <= 0)) throw new ArgumentException($"Input: every dimension must be positive. Received: shape {ShapeUtil.Format(shape)}");
        SampleShape = (int[])shape.Clone();
        Output = new Node(this, [], [-1, .. SampleShape], Name).Output;
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
        if (s.Length != SampleShape.Length + 1 || !s.AsSpan(1).SequenceEqual(SampleShape))
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

internal sealed class DropoutStage(Dropout layer) : Stage
{
    public float[] Mask = [];

    public override void Forward(float[] input, int rows)
    {
        int n = rows * Width;
        layer.FillMask(Mask.AsSpan(0, n), rows);
        TensorPrimitives.Multiply(input.AsSpan(0, n), Mask.AsSpan(0, n), Output.AsSpan(0, n));
    }

    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        int n = rows * Width;
        if (inputGrad != null) TensorPrimitives.Multiply(OutputGrad.AsSpan(0, n), Mask.AsSpan(0, n), inputGrad.AsSpan(0, n));
    }
}
