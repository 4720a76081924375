using Cortex.Kernels;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.MaxPooling2D))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.AveragePooling2D))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.GlobalAveragePooling2D))]

namespace Cortex.Layers;

/// <summary>The shared configuration of <see cref="MaxPooling2D"/> and <see cref="AveragePooling2D"/>.</summary>
public abstract class Pooling2D : Layer
{
    /// <summary>Validates and stores the window; strides default to the pool size, as Keras.</summary>
    private protected Pooling2D(Size2D? poolSize, Size2D? strides, string padding, string? name, string dataFormat) : base(name)
    {
        string type = GetType().Name;
        PoolSize = ImageLayers.Positive(type, "poolSize", poolSize ?? 2);
        Strides = ImageLayers.Positive(type, "strides", strides ?? PoolSize);
        Padding = ImageLayers.Padding(type, padding);
        DataFormat = ChannelsFirst.Check(type, dataFormat);
    }

    /// <summary><c>"channels_last"</c> (N, H, W, C) or <c>"channels_first"</c> (N, C, H, W).</summary>
    public string DataFormat { get; }

    private bool First => DataFormat == "channels_first";

    /// <summary>The pool on the tape: the channels-last op, between transposes for channels-first images.</summary>
    private protected Tensor Pool(Tensor inputs, Func<Tensor, Window2D, Tensor> op) => First
        ? ChannelsFirst.ToFirst(op(ChannelsFirst.ToLast(inputs), Window(ChannelsFirst.Last(inputs.ShapeRef))))
        : op(inputs, Window(inputs.ShapeRef));

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => Window(First ? ChannelsFirst.Last(inputs.ShapeRef) : inputs.ShapeRef);

    /// <summary>Window height and width.</summary>
    public Size2D PoolSize { get; }
    /// <summary>Step between windows (the pool size unless given).</summary>
    public Size2D Strides { get; }
    /// <summary><c>"valid"</c> or <c>"same"</c>.</summary>
    public string Padding { get; }

    internal Window2D Window(int[] shape) =>
        ImageLayers.Window($"{GetType().Name} '{Name}'", shape, PoolSize, Strides, 1, Padding, "pool size");

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        if (First && !context.ChannelsLastView)
            return ChannelsFirst.TryCreateStage(this, context, inner => (TryCreateStage(inner, out var s, out var r) ? s : null, r), out stage, out reason);
        stage = null;
        reason = context.Sample.Length != 3 ? $"gets samples of shape {ShapeUtil.Format(context.Sample)}, not images" : "";
        if (reason.Length > 0) return false;
        stage = new PoolStage(this is MaxPooling2D, Window([context.Batch, .. context.Sample]), context.InputWidth) { Width = context.OutputWidth(this) };
        return true;
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => Window(First ? ChannelsFirst.Last(inputShape) : inputShape);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) =>
        First ? ChannelsFirst.First(ChannelsLastOutputShape(ChannelsFirst.Last(inputShape))) : ChannelsLastOutputShape(inputShape);

    internal override int[] ChannelsLastOutputShape(int[] inputShape)
    {
        var w = Window(inputShape);
        return [inputShape[0], w.OH, w.OW, inputShape[3]];
    }
}

/// <summary>
/// The maximum of each window, per channel, over NHWC images, as <c>keras.layers.MaxPooling2D</c>: (N, 26, 26, 32)
/// → (N, 13, 13, 32) with the default 2×2 window. With <c>"same"</c> padding the padding never wins the max.
/// </summary>
/// <example><code>var pool = new MaxPooling2D(2); Tensor p = pool.Call(features);</code></example>
public sealed class MaxPooling2D : Pooling2D
{
    /// <summary>Creates the layer.</summary>
    /// <param name="poolSize">Window size (default 2).</param>
    /// <param name="strides">Step between windows (default: the pool size).</param>
    /// <param name="padding"><c>"valid"</c> or <c>"same"</c>.</param>
    /// <param name="name">Layer name.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or stride is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same", or the data format is unknown.</exception>
    /// <param name="dataFormat"><c>"channels_last"</c> (default) or <c>"channels_first"</c>.</param>
    public MaxPooling2D(Size2D? poolSize = null, Size2D? strides = null, string padding = "valid", string? name = null, string dataFormat = "channels_last")
        : base(poolSize, strides, padding, name, dataFormat) { }

    /// <inheritdoc/>
    protected override string DefaultName => "max_pooling2d";

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => Pool(inputs, (x, w) => PoolOp.MaxPool2D(x, w));
}

/// <summary>
/// The mean of each window, per channel, over NHWC images, as <c>keras.layers.AveragePooling2D</c>. With
/// <c>"same"</c> padding a border window averages only the pixels it covers (the padding is not counted), as Keras.
/// </summary>
/// <example><code>var pool = new AveragePooling2D(2); Tensor p = pool.Call(features);</code></example>
public sealed class AveragePooling2D : Pooling2D
{
    /// <summary>Creates the layer.</summary>
    /// <param name="poolSize">Window size (default 2).</param>
    /// <param name="strides">Step between windows (default: the pool size).</param>
    /// <param name="padding"><c>"valid"</c> or <c>"same"</c>.</param>
    /// <param name="name">Layer name.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or stride is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same", or the data format is unknown.</exception>
    /// <param name="dataFormat"><c>"channels_last"</c> (default) or <c>"channels_first"</c>.</param>
    public AveragePooling2D(Size2D? poolSize = null, Size2D? strides = null, string padding = "valid", string? name = null, string dataFormat = "channels_last")
        : base(poolSize, strides, padding, name, dataFormat) { }

    /// <inheritdoc/>
    protected override string DefaultName => "average_pooling2d";

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => Pool(inputs, (x, w) => PoolOp.AveragePool2D(x, w));
}

/// <summary>
/// The mean over height and width, per channel: (N, H, W, C) → (N, C), as <c>keras.layers.GlobalAveragePooling2D</c>
/// (with <c>keepDims</c>, (N, 1, 1, C)).
/// </summary>
/// <example><code>var gap = new GlobalAveragePooling2D(); Tensor v = gap.Call(features);   // (N, 7, 7, 64) → (N, 64)</code></example>
/// <param name="keepDims">Whether the output keeps the two spatial axes as size 1.</param>
/// <param name="name">Layer name.</param>
/// <param name="dataFormat"><c>"channels_last"</c> (default) or <c>"channels_first"</c>.</param>
public sealed class GlobalAveragePooling2D(bool keepDims = false, string? name = null, string dataFormat = "channels_last") : Layer(name)
{
    /// <summary><c>"channels_last"</c> (N, H, W, C) or <c>"channels_first"</c> (N, C, H, W).</summary>
    public string DataFormat { get; } = ChannelsFirst.Check("GlobalAveragePooling2D", dataFormat);

    private bool First => DataFormat == "channels_first";

    /// <summary>Whether the output keeps the two spatial axes as size 1.</summary>
    [Config(Key = "keepdims")]
    public bool KeepDims { get; } = keepDims;

    /// <inheritdoc/>
    protected override string DefaultName => "global_average_pooling2d";

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => ImageLayers.RequireRank4($"GlobalAveragePooling2D '{Name}'", inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => ImageLayers.RequireRank4($"GlobalAveragePooling2D '{Name}'", inputs.ShapeRef);

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        if (First && !context.ChannelsLastView)
            return ChannelsFirst.TryCreateStage(this, context, inner => (TryCreateStage(inner, out var st, out var r) ? st : null, r), out stage, out reason);
        // An average pool whose one window covers the whole image: AveragePooling2D's kernels.
        int[] s = [context.Batch, .. context.Sample];
        ImageLayers.RequireRank4($"GlobalAveragePooling2D '{Name}'", s);
        reason = "";
        stage = new PoolStage(false, Window2D.Create(s[0], s[1], s[2], s[3], s[1], s[2], s[1], s[2], 1, 1, same: false)!.Value, context.InputWidth)
            { Width = s[3] };
        return true;
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (!First) return ChannelsLastOutputShape(inputShape);
        ImageLayers.RequireRank4($"GlobalAveragePooling2D '{Name}'", inputShape);
        return KeepDims ? [inputShape[0], inputShape[1], 1, 1] : [inputShape[0], inputShape[1]];
    }

    internal override int[] ChannelsLastOutputShape(int[] inputShape)
    {
        ImageLayers.RequireRank4($"GlobalAveragePooling2D '{Name}'", inputShape);
        return KeepDims ? [inputShape[0], 1, 1, inputShape[3]] : [inputShape[0], inputShape[3]];
    }
}

/// <summary>MaxPooling2D or AveragePooling2D on NHWC rows, with <see cref="PoolOp"/>'s kernels.</summary>
internal sealed class PoolStage(bool max, Window2D window, int inputs) : Stage
{
    /// <summary>Max (else average) pooling.</summary>
    public bool Max => max;

    /// <summary>The window over the whole batch (N is the batch the stage was made for).</summary>
    public Window2D Window => window;

    public override void Forward(float[] input, int rows)
    {
        var w = window with { N = rows };
        if (max) PoolKernel.MaxForward(input.AsSpan(0, rows * inputs), w, Output.AsSpan(0, rows * Width));
        else PoolKernel.AverageForward(input.AsSpan(0, rows * inputs), w, Output.AsSpan(0, rows * Width));
    }

    private Activations.ActivationFunction? then;   // training: the convolution's activation, whose gradient backward applies

    /// <summary>A max pooling over non-overlapping windows takes a convolution's element-wise activation gradient into
    /// its backward (<see cref="PoolKernel.MaxBackwardThen"/>): the ReLU pass over the convolution's output gradient,
    /// 2.7 MB a batch for the Fashion CNNs' first convolution, is then not run on its own.</summary>
    public override bool TryTakeActivationGradient(Stage previous)
    {
        then = max && previous is ConvStage conv && PoolKernel.TakesActivation(window, conv.Activation) ? conv.Activation : null;
        return then != null;
    }

    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        if (inputGrad == null) return;
        var w = window with { N = rows };
        Span<float> dx = inputGrad.AsSpan(0, rows * inputs);   // the kernels clear it, each core its own images
        if (then != null)
        {
            if (!PoolKernel.MaxBackwardThen(input.AsSpan(0, rows * inputs), Output.AsSpan(0, rows * Width), OutputGrad.AsSpan(0, rows * Width), w, dx, then))
                throw new InvalidOperationException("MaxPooling2D: the convolution's activation gradient was taken but cannot be applied.");
        }
        else if (max) PoolKernel.MaxBackward(input.AsSpan(0, rows * inputs), Output.AsSpan(0, rows * Width), OutputGrad.AsSpan(0, rows * Width), w, dx);
        else PoolKernel.AverageBackward(OutputGrad.AsSpan(0, rows * Width), w, dx);
    }
}
