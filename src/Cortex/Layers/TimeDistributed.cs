[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.TimeDistributed))]

namespace Cortex.Layers;

/// <summary>
/// Applies one layer to every time step of a sequence, as <c>keras.layers.TimeDistributed</c>: (N, T, …) → (N, T, …′),
/// the same weights at every step. <c>TimeDistributed(new Dense(8))</c> on (N, 10, 16) gives (N, 10, 8).
/// </summary>
/// <remarks>
/// The wrapped layer sees the N·T steps as one batch of N·T samples, so a Dense is one GEMM over all steps rather
/// than T small ones. Its weights are this layer's (listed, saved, trained and frozen with it). In the fused training
/// step it runs the wrapped layer's stage over N·T rows.
/// </remarks>
/// <example>
/// <code>
/// var model = new Sequential(new Input([10, 16]), new TimeDistributed(new Dense(8, "relu")), new Flatten(), new Dense(2));
/// </code>
/// </example>
public sealed class TimeDistributed : Layer
{
    /// <summary>Wraps <paramref name="layer"/>.</summary>
    /// <param name="layer">The layer applied at each time step.</param>
    /// <param name="name">Layer name; <c>time_distributed</c>, … when null.</param>
    public TimeDistributed(Layer layer, string? name = null) : base(name)
    {
        Layer = layer ?? throw new ArgumentNullException(nameof(layer));
        Track(layer);
    }

    /// <summary>The wrapped layer.</summary>
    public Layer Layer { get; }

    /// <summary>(N·T, …): every time step one sample of the wrapped layer.</summary>
    private int[] StepShape(int[] shape)
    {
        if (shape.Length < 3)
            throw new ArgumentException($"TimeDistributed '{Name}' expects input of rank ≥ 3 (batch, time, …). Received: shape {ShapeUtil.Format(shape)}");
        return [shape[0] < 0 ? -1 : shape[0] * shape[1], .. shape[2..]];
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => Layer.EnsureBuilt(StepShape(inputShape));

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => StepShape(inputs.ShapeRef);

    /// <inheritdoc/>
    private protected override bool PassesMask => true;

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training)
    {
        int[] s = inputs.ShapeRef;
        var y = Layer.Call(inputs.Reshape(StepShape(s)), training);
        return y.Reshape([s[0], s[1], .. y.ShapeRef[1..]]);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        var inner = Layer.ComputeOutputShape(StepShape(inputShape));
        return [inputShape[0], inputShape[1], .. inner[1..]];
    }

    /// <inheritdoc/>
    internal override CortexRandom? Generator => Layer.Generator;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        int steps = context.Sample[0];
        if (!Layer.TryCreateStage(context.Nested(context.Batch * steps, context.Sample[1..]), out var inner, out string why))
        {
            reason = $"wraps {Layer.GetType().Name} '{Layer.Name}', which {why}";
            return false;
        }
        reason = "";
        if (inner != null) stage = new StepsStage(inner, steps) { Width = inner.Width * steps };
        return true;
    }

    /// <summary>The wrapped layer's stage over rows·steps rows, on this stage's buffers.</summary>
    private sealed class StepsStage(Stage inner, int steps) : Stage
    {
        public override bool CanRunInPlace => inner.CanRunInPlace;
        public override bool LendsBuffers => inner.LendsBuffers;

        private void Share() => (inner.Output, inner.OutputGrad) = (Output, OutputGrad);

        public override void Forward(float[] input, int rows)
        {
            Share();
            inner.Forward(input, rows * steps);
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            Share();
            inner.Backward(input, inputGrad, rows * steps);
        }

        public override bool TryBackwardAndUpdate(float[] input, int rows, Optimizers.Optimizer optimizer)
        {
            Share();
            return inner.TryBackwardAndUpdate(input, rows * steps, optimizer);
        }
    }
}
