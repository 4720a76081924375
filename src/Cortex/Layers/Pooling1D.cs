using System.Numerics.Tensors;
using Cortex.Kernels;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.MaxPooling1D))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.AveragePooling1D))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.GlobalMaxPooling1D))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.GlobalAveragePooling1D))]

namespace Cortex.Layers;

/// <summary>
/// The 1-D poolings over (batch, steps, channels): each is <see cref="PoolStage"/> — the 2-D pooling kernels on the
/// sequence viewed as (N, 1, L, C) — with a window of some steps (<see cref="Pooling1D"/>) or of all of them
/// (<see cref="GlobalPooling1D"/>). The stage is both the tape op (<see cref="StageOp"/>) and the fused step's stage.
/// </summary>
/// <example><code>SequencePooling pool = new MaxPooling1D(2);   // or AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D</code></example>
public abstract class SequencePooling : Layer
{
    /// <summary>Stores the name and the data format.</summary>
    private protected SequencePooling(string? name, string dataFormat) : base(name) => DataFormat = ChannelsFirst.Check(GetType().Name, dataFormat);

    /// <summary><c>"channels_last"</c> (N, steps, channels) or <c>"channels_first"</c> (N, channels, steps).</summary>
    public string DataFormat { get; }

    private protected bool First => DataFormat == "channels_first";

    private protected string Label => $"{GetType().Name} '{Name}'";

    /// <summary>The window over (N, 1, L, C) for an input of this shape (checked).</summary>
    private protected abstract Window2D Window(int[] shape);

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => Window(First ? ChannelsFirst.Last(inputShape) : inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => Window(First ? ChannelsFirst.Last(inputs.ShapeRef) : inputs.ShapeRef);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) =>
        First ? ChannelsFirst.First(ChannelsLastOutputShape(ChannelsFirst.Last(inputShape))) : ChannelsLastOutputShape(inputShape);

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        if (First && !context.ChannelsLastView)
            return ChannelsFirst.TryCreateStage(this, context, inner => (TryCreateStage(inner, out var s, out var r) ? s : null, r), out stage, out reason);
        stage = null;
        reason = context.Sample.Length != 2 ? $"gets samples of shape {ShapeUtil.Format(context.Sample)}, not sequences" : "";
        if (reason.Length > 0) return false;
        stage = new PoolStage(this is MaxPooling1D or GlobalMaxPooling1D, Window([context.Batch, .. context.Sample]), context.InputWidth)
        {
            Width = context.OutputWidth(this),
        };
        return true;
    }
}

/// <summary>The shared configuration of <see cref="MaxPooling1D"/> and <see cref="AveragePooling1D"/>.</summary>
/// <example><code>Pooling1D pool = new AveragePooling1D(poolSize: 3, strides: 1, padding: "same");   // (N, L, C) → (N, L, C)</code></example>
public abstract class Pooling1D : SequencePooling
{
    /// <summary>Validates and stores the window; strides default to the pool size, as Keras.</summary>
    private protected Pooling1D(int poolSize, int? strides, string padding, string? name, string dataFormat) : base(name, dataFormat)
    {
        string type = GetType().Name;
        PoolSize = SequenceLayers.Positive(type, nameof(poolSize), poolSize);
        Strides = SequenceLayers.Positive(type, nameof(strides), strides ?? PoolSize);
        Padding = SequenceLayers.Padding(type, padding, causal: false);
    }

    /// <summary>Window length in steps.</summary>
    public int PoolSize { get; }
    /// <summary>Step between windows (the pool size unless given).</summary>
    public int Strides { get; }
    /// <summary><c>"valid"</c> or <c>"same"</c>.</summary>
    public string Padding { get; }

    private protected override Window2D Window(int[] shape) => SequenceLayers.Window(Label, shape, PoolSize, Strides, 1, Padding, "pool size");

    /// <inheritdoc/>
    internal override int[] ChannelsLastOutputShape(int[] inputShape) => [inputShape[0], Window(inputShape).OW, inputShape[2]];
}

/// <summary>
/// The maximum of each window of steps, per channel, as <c>keras.layers.MaxPooling1D</c>: (N, 100, 16) → (N, 50, 16)
/// with the default window of 2. With <c>"same"</c> padding the padding never wins the max.
/// </summary>
/// <example><code>var pool = new MaxPooling1D(poolSize: 3); Tensor p = pool.Call(features);   // (N, 30, 8) → (N, 10, 8)</code></example>
public sealed class MaxPooling1D : Pooling1D
{
    /// <summary>Creates the layer.</summary>
    /// <param name="poolSize">Window length (default 2).</param>
    /// <param name="strides">Step between windows (default: the pool size).</param>
    /// <param name="padding"><c>"valid"</c> or <c>"same"</c>.</param>
    /// <param name="name">Layer name.</param>
    /// <exception cref="ArgumentOutOfRangeException">The size or stride is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same".</exception>
    /// <param name="dataFormat"><c>"channels_last"</c> (default) or <c>"channels_first"</c>.</param>
    public MaxPooling1D(int poolSize = 2, int? strides = null, string padding = "valid", string? name = null, string dataFormat = "channels_last")
        : base(poolSize, strides, padding, name, dataFormat) { }
}

/// <summary>
/// The mean of each window of steps, per channel, as <c>keras.layers.AveragePooling1D</c>. With <c>"same"</c> padding
/// a border window averages only the steps it covers (the padding is not counted), as Keras.
/// </summary>
/// <example><code>var pool = new AveragePooling1D(poolSize: 2); Tensor p = pool.Call(features);   // (N, 30, 8) → (N, 15, 8)</code></example>
public sealed class AveragePooling1D : Pooling1D
{
    /// <summary>Creates the layer.</summary>
    /// <param name="poolSize">Window length (default 2).</param>
    /// <param name="strides">Step between windows (default: the pool size).</param>
    /// <param name="padding"><c>"valid"</c> or <c>"same"</c>.</param>
    /// <param name="name">Layer name.</param>
    /// <exception cref="ArgumentOutOfRangeException">The size or stride is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same".</exception>
    /// <param name="dataFormat"><c>"channels_last"</c> (default) or <c>"channels_first"</c>.</param>
    public AveragePooling1D(int poolSize = 2, int? strides = null, string padding = "valid", string? name = null, string dataFormat = "channels_last")
        : base(poolSize, strides, padding, name, dataFormat) { }
}

/// <summary>The shared configuration of <see cref="GlobalMaxPooling1D"/> and <see cref="GlobalAveragePooling1D"/>: a
/// window of all the steps.</summary>
/// <example><code>GlobalPooling1D pool = new GlobalMaxPooling1D(keepDims: true);   // (N, L, C) → (N, 1, C)</code></example>
public abstract class GlobalPooling1D : SequencePooling
{
    /// <summary>Stores the configuration.</summary>
    private protected GlobalPooling1D(bool keepDims, string? name, string dataFormat) : base(name, dataFormat) => KeepDims = keepDims;

    /// <summary>Whether the output keeps the steps axis as size 1: (N, 1, C) rather than (N, C).</summary>
    [Config(Key = "keepdims")]
    public bool KeepDims { get; }

    private protected override Window2D Window(int[] shape)
    {
        SequenceLayers.RequireRank3(Label, shape);
        int steps = shape[1];
        if (steps < 0) return Window2D.Create(Math.Max(shape[0], 0), 1, 1, shape[2], 1, 1, 1, 1, 1, 1, same: false)!.Value with { W = -1 };   // known when called
        if (steps == 0)
            throw new ArgumentException($"{Label} expects at least one step to pool. Received: shape {ImageLayers.Format(shape)}");
        return Window2D.Create(Math.Max(shape[0], 0), 1, steps, shape[2], 1, steps, 1, steps, 1, 1, same: false)!.Value;
    }

    internal override int[] ChannelsLastOutputShape(int[] inputShape)
    {
        SequenceLayers.RequireRank3(Label, inputShape);
        return KeepDims ? [inputShape[0], 1, inputShape[2]] : [inputShape[0], inputShape[2]];
    }
}

/// <summary>
/// The maximum over the steps, per channel: (N, L, C) → (N, C), as <c>keras.layers.GlobalMaxPooling1D</c> (with
/// <c>keepDims</c>, (N, 1, C)). The gradient goes to the first step that holds each maximum.
/// </summary>
/// <example><code>var model = new Sequential(new Input([100, 8]), new Conv1D(16, 5, activation: "relu"), new GlobalMaxPooling1D(), new Dense(2));</code></example>
public sealed class GlobalMaxPooling1D : GlobalPooling1D
{
    /// <summary>Creates the layer.</summary>
    /// <param name="keepDims">Whether to keep the steps axis as size 1.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="dataFormat"><c>"channels_last"</c> (default) or <c>"channels_first"</c>.</param>
    public GlobalMaxPooling1D(bool keepDims = false, string? name = null, string dataFormat = "channels_last") : base(keepDims, name, dataFormat) { }
}

/// <summary>
/// The mean over the steps, per channel: (N, L, C) → (N, C), as <c>keras.layers.GlobalAveragePooling1D</c> (with
/// <c>keepDims</c>, (N, 1, C)). Given a mask (from <see cref="Masking"/> or <see cref="Embedding"/> with
/// <c>maskZero</c>), the mean of the unmasked steps only. (GlobalMaxPooling1D ignores masks, as Keras 3's does.)
/// </summary>
/// <example><code>var model = new Sequential(new Input([20]), new Embedding(1000, 16), new GlobalAveragePooling1D(), new Dense(1, "sigmoid"));</code></example>
public sealed class GlobalAveragePooling1D : GlobalPooling1D
{
    /// <summary>Creates the layer.</summary>
    /// <param name="keepDims">Whether to keep the steps axis as size 1.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="dataFormat"><c>"channels_last"</c> (default) or <c>"channels_first"</c>.</param>
    public GlobalAveragePooling1D(bool keepDims = false, string? name = null, string dataFormat = "channels_last") : base(keepDims, name, dataFormat) { }

    /// <inheritdoc/>
    private protected override Tensor CallCore(Tensor inputs, Tensor mask, bool training) => StageOp.Run(this, inputs, training, mask);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        if (First && context.Mask != null && !context.ChannelsLastView)
        {
            stage = null;
            reason = "gets a masked sequence with dataFormat \"channels_first\"; masks are supported channels last";
            return false;
        }
        if (context.Mask == null || context.Sample.Length != 2) return base.TryCreateStage(context, out stage, out reason);
        reason = "";
        stage = new MaskedMeanStage(context.Mask, context.Sample[0], context.Sample[1]) { Width = context.OutputWidth(this) };
        return true;
    }

    /// <summary>
    /// The mean over the unmasked steps, as Keras: Σ_t m_t·x_t / Σ_t m_t (a row whose steps are all masked gives NaN,
    /// as Keras's 0/0); the gradient of step t is m_t / Σ m times the output's.
    /// </summary>
    private sealed class MaskedMeanStage(float[] mask, int steps, int channels) : Stage
    {
        public override void Forward(float[] input, int rows)
        {
            for (int n = 0; n < rows; n++)
            {
                Span<float> y = Output.AsSpan(n * channels, channels);
                y.Clear();
                float count = 0f;
                for (int t = 0; t < steps; t++)
                {
                    float m = mask[n * steps + t];
                    count += m;
                    TensorPrimitives.MultiplyAdd(input.AsSpan((n * steps + t) * channels, channels), m, y, y);
                }
                TensorPrimitives.Divide(y, count, y);
            }
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad == null) return;
            for (int n = 0; n < rows; n++)
            {
                float count = 0f;
                for (int t = 0; t < steps; t++) count += mask[n * steps + t];
                ReadOnlySpan<float> g = OutputGrad.AsSpan(n * channels, channels);
                for (int t = 0; t < steps; t++)
                    TensorPrimitives.Multiply(g, mask[n * steps + t] / count, inputGrad.AsSpan((n * steps + t) * channels, channels));
            }
        }
    }
}
