using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.DepthwiseConv2D))]

namespace Cortex.Layers;

/// <summary>
/// A depthwise 2-D convolution over NHWC images, as <c>keras.layers.DepthwiseConv2D</c>: each input channel is
/// convolved with its own <c>depthMultiplier</c> filters and nothing mixes channels, <c>a = g(x ⊛ K + b)</c>. The kernel
/// is (kernel height, kernel width, input channels, depth multiplier) — Keras's layout — and output channel
/// <c>c·M + m</c> is input channel c's m-th filter, so a channel's outputs are consecutive.
/// </summary>
/// <remarks>It runs as a grouped convolution with one group per input channel, on the same im2col and GEMM kernels as
/// <see cref="Conv2D"/>, in the fused training step and on the tape alike.</remarks>
/// <example>
/// <code>
/// var dw = new DepthwiseConv2D(kernelSize: 3, padding: "same", depthMultiplier: 2);
/// Tensor a = dw.Call(images);   // (N, 32, 32, 16) → (N, 32, 32, 32); 3·3·16·2 + 32 = 320 weights
/// </code>
/// </example>
public sealed class DepthwiseConv2D : KernelLayer
{
    /// <summary>Creates the layer; the kernel is made on first use, when the input's channel count is known.</summary>
    /// <param name="kernelSize">Window size: one int (square) or (height, width).</param>
    /// <param name="strides">Step between windows (default 1).</param>
    /// <param name="padding"><c>"valid"</c> (no padding) or <c>"same"</c> (zero padding so the output is ceil(in / stride)).</param>
    /// <param name="depthMultiplier">Filters per input channel (default 1); the output has channels × this.</param>
    /// <param name="activation">g, by name or typed; linear when null.</param>
    /// <param name="useBias">Whether to add b (one per output channel).</param>
    /// <param name="dilationRate">Spacing between the window's taps (default 1).</param>
    /// <param name="depthwiseInitializer">How K starts (Keras default: glorot_uniform).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="depthwiseRegularizer">Penalty on K added to the loss.</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="depthwiseConstraint">Projection of K after each update.</param>
    /// <param name="biasConstraint">Projection of b after each update.</param>
    /// <param name="name">Layer name; <c>depthwise_conv2d</c>, <c>depthwise_conv2d_1</c>, … when null.</param>
    /// <param name="dataFormat"><c>"channels_last"</c> (N, H, W, C; the default) or <c>"channels_first"</c> (N, C, H, W); the weights' layout is the same either way.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size, stride, dilation or the depth multiplier is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same".</exception>
    public DepthwiseConv2D(Size2D kernelSize, Size2D? strides = null, string padding = "valid", int depthMultiplier = 1,
        ActivationFunction? activation = null, bool useBias = true, Size2D? dilationRate = null,
        Initializer? depthwiseInitializer = null, Initializer? biasInitializer = null,
        Regularizer? depthwiseRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? depthwiseConstraint = null, Constraint? biasConstraint = null, string? name = null, string dataFormat = "channels_last")
        : base(activation, useBias, depthwiseInitializer, biasInitializer, depthwiseRegularizer, biasRegularizer, depthwiseConstraint, biasConstraint, name)
    {
        DataFormat = ChannelsFirst.Check("DepthwiseConv2D", dataFormat);
        if (depthMultiplier <= 0)
            throw new ArgumentOutOfRangeException(nameof(depthMultiplier), $"DepthwiseConv2D: depthMultiplier must be a positive integer. Received: depthMultiplier={depthMultiplier}");
        DepthMultiplier = depthMultiplier;
        KernelSize = ImageLayers.Positive("DepthwiseConv2D", "kernelSize", kernelSize);
        Strides = ImageLayers.Positive("DepthwiseConv2D", "strides", strides ?? 1);
        Padding = ImageLayers.Padding("DepthwiseConv2D", padding);
        DilationRate = ImageLayers.Positive("DepthwiseConv2D", "dilationRate", dilationRate ?? 1);
    }

    /// <summary>Window height and width.</summary>
    public Size2D KernelSize { get; }
    /// <summary>Step between windows.</summary>
    public Size2D Strides { get; }
    /// <summary><c>"valid"</c> or <c>"same"</c>.</summary>
    public string Padding { get; }
    /// <summary>Filters per input channel.</summary>
    public int DepthMultiplier { get; }
    /// <summary>Spacing between taps.</summary>
    public Size2D DilationRate { get; }
    /// <summary>How the kernel starts (the same object as <see cref="KernelLayer.KernelInitializer"/>).</summary>
    public Initializer DepthwiseInitializer => KernelInitializer;
    /// <summary>Penalty on the kernel, if any.</summary>
    public Regularizer? DepthwiseRegularizer => KernelRegularizer;
    /// <summary>Projection of the kernel after each update, if any.</summary>
    public Constraint? DepthwiseConstraint => KernelConstraint;

    private string Label => $"DepthwiseConv2D '{Name}'";

    internal Window2D Window(int[] shape) => ImageLayers.Window(Label, shape, KernelSize, Strides, DilationRate, Padding, "kernel");

    /// <summary><c>"channels_last"</c> or <c>"channels_first"</c>.</summary>
    public string DataFormat { get; }

    private bool First => DataFormat == "channels_first";

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (First) inputShape = ChannelsFirst.Last(inputShape);
        Window(inputShape);
        AddKernelAndBias([KernelSize.Height, KernelSize.Width, inputShape[3], DepthMultiplier], inputShape[3] * DepthMultiplier);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = First ? ChannelsFirst.Last(inputs.ShapeRef) : inputs.ShapeRef;   // the channels-last view
        ImageLayers.RequireRank4(Label, s);
        if (s[3] != Kernel!.ShapeRef[2])
            throw new ArgumentException($"{Label} expects input with {Kernel!.ShapeRef[2]} channels (the last axis). Received: shape {ShapeUtil.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        First ? ChannelsFirst.ToFirst(CallLast(ChannelsFirst.ToLast(inputs), training)) : CallLast(inputs, training);

    private Tensor CallLast(Tensor inputs, bool training) =>
        ConvOp.Conv2D(inputs, Kernel!, Bias, Window(inputs.ShapeRef), Activation, groups: inputs.ShapeRef[3]);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) =>
        First ? ChannelsFirst.First(ChannelsLastOutputShape(ChannelsFirst.Last(inputShape))) : ChannelsLastOutputShape(inputShape);

    internal override int[] ChannelsLastOutputShape(int[] inputShape)
    {
        var w = Window(inputShape);
        return [inputShape[0], w.OH, w.OW, inputShape[3] * DepthMultiplier];
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason) =>
        First && !context.ChannelsLastView
            ? ChannelsFirst.TryCreateStage(this, context, inner => (base.TryCreateStage(inner, out var s, out var r) ? s : null, r), out stage, out reason)
            : base.TryCreateStage(context, out stage, out reason);

    /// <inheritdoc/>
    private protected override string SampleRefusal(int[] sample) =>
        sample.Length != 3 || Kernel!.ShapeRef[2] != sample[2] ? $"gets samples of shape {ShapeUtil.Format(sample)}, not images of {Kernel!.ShapeRef[2]} channels" : "";

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context, Tensor kernelGrad, Tensor? biasGrad)
    {
        int channels = context.Sample[2];
        return new ConvStage(this, channels * DepthMultiplier, Window([context.Batch, .. context.Sample]), context.InputWidth, channels)
        {
            Width = context.OutputWidth(this), KernelGrad = kernelGrad, BiasGrad = biasGrad!,
        };
    }
}
