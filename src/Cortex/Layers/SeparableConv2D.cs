using System.Runtime.CompilerServices;
using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.SeparableConv2D))]

namespace Cortex.Layers;

/// <summary>
/// A depthwise separable 2-D convolution over NHWC images, as <c>keras.layers.SeparableConv2D</c>: a depthwise
/// convolution (each input channel with its own <c>depthMultiplier</c> filters, no bias) followed by a pointwise 1×1
/// convolution that mixes the channels, then the bias and the activation: <c>a = g(pointwise(depthwise(x, D), P) + b)</c>.
/// Weights as Keras: <c>depthwise_kernel</c> (KH, KW, C, M), <c>pointwise_kernel</c> (1, 1, C·M, filters), <c>bias</c> (filters).
/// </summary>
/// <example>
/// <code>
/// var sep = new SeparableConv2D(filters: 64, kernelSize: 3, padding: "same", activation: "relu");
/// Tensor a = sep.Call(images);   // (N, 32, 32, 16) → (N, 32, 32, 64); 3·3·16 + 16·64 + 64 = 1,232 weights
/// </code>
/// </example>
public sealed class SeparableConv2D : Layer
{
    /// <summary>Creates the layer; the kernels are made on first use, when the input's channel count is known.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">The depthwise window: one int (square) or (height, width).</param>
    /// <param name="strides">Step between windows (default 1).</param>
    /// <param name="padding"><c>"valid"</c> (no padding) or <c>"same"</c> (zero padding so the output is ceil(in / stride)).</param>
    /// <param name="dilationRate">Spacing between the window's taps (default 1).</param>
    /// <param name="depthMultiplier">Depthwise filters per input channel (default 1).</param>
    /// <param name="activation">g, by name or typed; linear when null.</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="depthwiseInitializer">How D starts (default glorot_uniform).</param>
    /// <param name="pointwiseInitializer">How P starts (default glorot_uniform).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="depthwiseRegularizer">Penalty on D.</param>
    /// <param name="pointwiseRegularizer">Penalty on P.</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="depthwiseConstraint">Projection of D after each update.</param>
    /// <param name="pointwiseConstraint">Projection of P after each update.</param>
    /// <param name="biasConstraint">Projection of b after each update.</param>
    /// <param name="name">Layer name; <c>separable_conv2d</c>, … when null.</param>
    /// <param name="dataFormat"><c>"channels_last"</c> (N, H, W, C; the default) or <c>"channels_first"</c> (N, C, H, W); the weights' layout is the same either way.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size, stride, dilation, the filter count or the depth multiplier is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same".</exception>
    public SeparableConv2D(int filters, Size2D kernelSize, Size2D? strides = null, string padding = "valid",
        Size2D? dilationRate = null, int depthMultiplier = 1, ActivationFunction? activation = null, bool useBias = true,
        Initializer? depthwiseInitializer = null, Initializer? pointwiseInitializer = null, Initializer? biasInitializer = null,
        Regularizer? depthwiseRegularizer = null, Regularizer? pointwiseRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? depthwiseConstraint = null, Constraint? pointwiseConstraint = null, Constraint? biasConstraint = null,
        string? name = null, string dataFormat = "channels_last") : base(name)
    {
        DataFormat = ChannelsFirst.Check("SeparableConv2D", dataFormat);
        if (filters <= 0) throw new ArgumentOutOfRangeException(nameof(filters), $"SeparableConv2D: filters must be a positive integer. Received: filters={filters}");
        if (depthMultiplier <= 0)
            throw new ArgumentOutOfRangeException(nameof(depthMultiplier), $"SeparableConv2D: depthMultiplier must be a positive integer. Received: depthMultiplier={depthMultiplier}");
        Filters = filters;
        KernelSize = ImageLayers.Positive("SeparableConv2D", "kernelSize", kernelSize);
        Strides = ImageLayers.Positive("SeparableConv2D", "strides", strides ?? 1);
        Padding = ImageLayers.Padding("SeparableConv2D", padding);
        DilationRate = ImageLayers.Positive("SeparableConv2D", "dilationRate", dilationRate ?? 1);
        DepthMultiplier = depthMultiplier;
        Activation = activation ?? ActivationFunction.Linear;
        UseBias = useBias;
        DepthwiseInitializer = depthwiseInitializer ?? new GlorotUniform();
        PointwiseInitializer = pointwiseInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        DepthwiseRegularizer = depthwiseRegularizer;
        PointwiseRegularizer = pointwiseRegularizer;
        BiasRegularizer = biasRegularizer;
        DepthwiseConstraint = depthwiseConstraint;
        PointwiseConstraint = pointwiseConstraint;
        BiasConstraint = biasConstraint;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }
    /// <summary>Depthwise window height and width.</summary>
    public Size2D KernelSize { get; }
    /// <summary>Step between windows.</summary>
    public Size2D Strides { get; }
    /// <summary><c>"valid"</c> or <c>"same"</c>.</summary>
    public string Padding { get; }
    /// <summary>Spacing between taps.</summary>
    public Size2D DilationRate { get; }
    /// <summary>Depthwise filters per input channel.</summary>
    public int DepthMultiplier { get; }
    /// <summary>The activation g.</summary>
    public ActivationFunction Activation { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }
    /// <summary>Initializer of D.</summary>
    public Initializer DepthwiseInitializer { get; }
    /// <summary>Initializer of P.</summary>
    public Initializer PointwiseInitializer { get; }
    /// <summary>Initializer of b.</summary>
    public Initializer BiasInitializer { get; }
    /// <summary>Penalty on D, if any.</summary>
    public Regularizer? DepthwiseRegularizer { get; }
    /// <summary>Penalty on P, if any.</summary>
    public Regularizer? PointwiseRegularizer { get; }
    /// <summary>Penalty on b, if any.</summary>
    public Regularizer? BiasRegularizer { get; }
    /// <summary>Projection of D after each update, if any.</summary>
    public Constraint? DepthwiseConstraint { get; }
    /// <summary>Projection of P after each update, if any.</summary>
    public Constraint? PointwiseConstraint { get; }
    /// <summary>Projection of b after each update, if any.</summary>
    public Constraint? BiasConstraint { get; }
    /// <summary>The depthwise kernel D (KH, KW, C, M); null before the layer is built.</summary>
    public Variable? DepthwiseKernel { get; private set; }
    /// <summary>The pointwise kernel P (1, 1, C·M, filters); null before the layer is built.</summary>
    public Variable? PointwiseKernel { get; private set; }
    /// <summary>The bias b (filters); null before building or without bias.</summary>
    public Variable? Bias { get; private set; }

    private string Label => $"SeparableConv2D '{Name}'";

    internal Window2D Window(int[] shape) => ImageLayers.Window(Label, shape, KernelSize, Strides, DilationRate, Padding, "kernel");

    /// <summary>The 1×1 window over the depthwise output.</summary>
    private static Window2D Pointwise(in Window2D w, int channels) => new(w.N, w.OH, w.OW, channels, 1, 1, 1, 1, 1, 1, 0, 0, w.OH, w.OW);

    /// <summary><c>"channels_last"</c> or <c>"channels_first"</c>.</summary>
    public string DataFormat { get; }

    private bool First => DataFormat == "channels_first";

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (First) inputShape = ChannelsFirst.Last(inputShape);
        Window(inputShape);
        int c = inputShape[3];
        DepthwiseKernel = AddWeight("depthwise_kernel", [KernelSize.Height, KernelSize.Width, c, DepthMultiplier], DepthwiseInitializer,
            regularizer: DepthwiseRegularizer, constraint: DepthwiseConstraint);
        PointwiseKernel = AddWeight("pointwise_kernel", [1, 1, c * DepthMultiplier, Filters], PointwiseInitializer,
            regularizer: PointwiseRegularizer, constraint: PointwiseConstraint);
        if (UseBias) Bias = AddWeight("bias", [Filters], BiasInitializer, regularizer: BiasRegularizer, constraint: BiasConstraint);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = First ? ChannelsFirst.Last(inputs.ShapeRef) : inputs.ShapeRef;   // the channels-last view
        ImageLayers.RequireRank4(Label, s);
        if (s[3] != DepthwiseKernel!.ShapeRef[2])
            throw new ArgumentException($"{Label} expects input with {DepthwiseKernel!.ShapeRef[2]} channels (the last axis). Received: shape {ShapeUtil.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        First ? ChannelsFirst.ToFirst(CallLast(ChannelsFirst.ToLast(inputs), training)) : CallLast(inputs, training);

    private Tensor CallLast(Tensor inputs, bool training)
    {
        var w = Window(inputs.ShapeRef);
        int c = inputs.ShapeRef[3];
        Tensor mid = ConvOp.Conv2D(inputs, DepthwiseKernel!, null, w, ActivationFunction.Linear, groups: c);
        return ConvOp.Conv2D(mid, PointwiseKernel!, Bias, Pointwise(w, c * DepthMultiplier), Activation);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) =>
        First ? ChannelsFirst.First(ChannelsLastOutputShape(ChannelsFirst.Last(inputShape))) : ChannelsLastOutputShape(inputShape);

    internal override int[] ChannelsLastOutputShape(int[] inputShape)
    {
        var w = Window(inputShape);
        return [inputShape[0], w.OH, w.OW, Filters];
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason) =>
        First && !context.ChannelsLastView
            ? ChannelsFirst.TryCreateStage(this, context, inner => (TryCreateLastStage(inner, out var s, out var r) ? s : null, r), out stage, out reason)
            : TryCreateLastStage(context, out stage, out reason);

    private bool TryCreateLastStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        int[] sample = context.Sample;
        reason = !Trainable ? "is frozen"
            : !Activation.DerivativeFromOutput ? $"has the activation '{Activation.Name}'"
            : sample.Length != 3 || DepthwiseKernel!.ShapeRef[2] != sample[2] ? $"gets samples of shape {ShapeUtil.Format(sample)}, not images of {DepthwiseKernel!.ShapeRef[2]} channels"
            : "";
        if (reason.Length > 0) return false;
        stage = new SeparableStage(this, Window([context.Batch, .. sample]), context.InputWidth)
        {
            Width = context.OutputWidth(this),
            DepthwiseGrad = context.AddWeight(DepthwiseKernel)!, PointwiseGrad = context.AddWeight(PointwiseKernel)!, BiasGrad = context.AddWeight(Bias),
        };
        return true;
    }

    /// <summary>The depthwise convolution into a kept buffer, then the pointwise one — the tape path's two
    /// <see cref="ConvOp"/> calls on the same span kernels, in the same order, so both paths give the same bits.</summary>
    private sealed class SeparableStage(SeparableConv2D layer, Window2D window, int inputs) : Stage
    {
        public Tensor DepthwiseGrad = null!, PointwiseGrad = null!;
        public Tensor? BiasGrad;
        private readonly int channels = window.C, middle = window.C * layer.DepthMultiplier;
        private readonly float[] cols = new float[window.Rows * window.Patch];
        private readonly float[] mid = new float[window.Rows * window.C * layer.DepthMultiplier];
        private readonly float[] midGrad = new float[window.Rows * window.C * layer.DepthMultiplier];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Forward(float[] input, int rows)
        {
            var w = window with { N = rows };
            Span<float> m = mid.AsSpan(0, w.Rows * middle);
            ConvOp.Forward(input.AsSpan(0, rows * inputs), layer.DepthwiseKernel!.AsSpan(), default, w, ActivationFunction.Linear, middle, m, cols, channels);
            ConvOp.Forward(m, layer.PointwiseKernel!.AsSpan(), layer.Bias == null ? default : layer.Bias.AsSpan(), Pointwise(w, middle),
                layer.Activation, layer.Filters, Output.AsSpan(0, rows * Width));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            var w = window with { N = rows };
            Span<float> dz = OutputGrad.AsSpan(0, rows * Width), dm = midGrad.AsSpan(0, w.Rows * middle);
            layer.Activation.BackwardInPlace(dz, Output.AsSpan(0, rows * Width), layer.Filters);
            ConvOp.BackwardCore(mid.AsSpan(0, w.Rows * middle), layer.PointwiseKernel!.AsSpan(), dz, Pointwise(w, middle), layer.Filters,
                PointwiseGrad.Span, BiasGrad == null ? default : BiasGrad.Span, dm);
            Span<float> dx = inputGrad == null ? default : inputGrad.AsSpan(0, rows * inputs);   // BackwardCore overwrites it
            ConvOp.BackwardCore(input.AsSpan(0, rows * inputs), layer.DepthwiseKernel!.AsSpan(), dm, w, middle, DepthwiseGrad.Span, default, dx,
                cols.AsSpan(0, w.Rows * w.Patch), channels);
        }
    }
}
