using System.Runtime.CompilerServices;
using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Conv2DTranspose))]

namespace Cortex.Layers;

/// <summary>
/// A transposed 2-D convolution (sometimes called deconvolution) over NHWC images, as
/// <c>keras.layers.Conv2DTranspose</c>: the input gradient of a convolution run forward, so a stride s upsamples by s.
/// The kernel is Keras's (kernel height, kernel width, filters, input channels).
/// </summary>
/// <remarks>
/// Output size per axis, as Keras (k the dilated window, (k − 1)·d + 1): without <c>outputPadding</c>,
/// <c>in·s + max(k − s, 0)</c> for "valid" and <c>in·s</c> for "same"; with it, <c>(in − 1)·s + k − 2·pad + outputPadding</c>
/// where pad is 0 for "valid" and ⌊k / 2⌋ for "same". The output is cropped from the full transposed convolution as
/// TensorFlow's "same" convolution of that output size would pad it: the odd pixel at the bottom and right.
/// </remarks>
/// <example>
/// <code>
/// var up = new Conv2DTranspose(filters: 16, kernelSize: 3, strides: 2, padding: "same");
/// Tensor a = up.Call(features);   // (N, 7, 7, 32) → (N, 14, 14, 16); 3·3·16·32 + 16 = 4,624 weights
/// </code>
/// </example>
public sealed class Conv2DTranspose : KernelLayer
{
    /// <summary>Creates the layer; the kernel is made on first use, when the input's channel count is known.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">Window size: one int (square) or (height, width).</param>
    /// <param name="strides">Upsampling step (default 1).</param>
    /// <param name="padding"><c>"valid"</c> or <c>"same"</c> (output in·stride).</param>
    /// <param name="outputPadding">Extra rows and columns at the bottom and right, each smaller than the stride; null
    /// (the default) lets the output size follow from the padding.</param>
    /// <param name="dilationRate">Spacing between the window's taps (default 1).</param>
    /// <param name="activation">g, by name or typed; linear when null.</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="kernelInitializer">How K starts (default glorot_uniform).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="kernelRegularizer">Penalty on K.</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="kernelConstraint">Projection of K after each update.</param>
    /// <param name="biasConstraint">Projection of b after each update.</param>
    /// <param name="name">Layer name; <c>conv2d_transpose</c>, … when null.</param>
    /// <param name="dataFormat"><c>"channels_last"</c> (N, H, W, C; the default) or <c>"channels_first"</c> (N, C, H, W); the weights' layout is the same either way.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size, stride, dilation or the filter count is not positive, or an
    /// output padding is negative or not smaller than its stride.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same".</exception>
    public Conv2DTranspose(int filters, Size2D kernelSize, Size2D? strides = null, string padding = "valid",
        Size2D? outputPadding = null, Size2D? dilationRate = null, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, string? name = null, string dataFormat = "channels_last")
        : base(activation, useBias, kernelInitializer, biasInitializer, kernelRegularizer, biasRegularizer, kernelConstraint, biasConstraint, name)
    {
        DataFormat = ChannelsFirst.Check("Conv2DTranspose", dataFormat);
        if (filters <= 0) throw new ArgumentOutOfRangeException(nameof(filters), $"Conv2DTranspose: filters must be a positive integer. Received: filters={filters}");
        Filters = filters;
        KernelSize = ImageLayers.Positive("Conv2DTranspose", "kernelSize", kernelSize);
        Strides = ImageLayers.Positive("Conv2DTranspose", "strides", strides ?? 1);
        Padding = ImageLayers.Padding("Conv2DTranspose", padding);
        DilationRate = ImageLayers.Positive("Conv2DTranspose", "dilationRate", dilationRate ?? 1);
        if (outputPadding is { } op && (op.Height < 0 || op.Width < 0 || op.Height >= Strides.Height || op.Width >= Strides.Width))
            throw new ArgumentOutOfRangeException(nameof(outputPadding),
                $"Conv2DTranspose: outputPadding must be non-negative and smaller than strides in each direction. Received: outputPadding={op}, strides={Strides}");
        OutputPadding = outputPadding;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }
    /// <summary>Window height and width.</summary>
    public Size2D KernelSize { get; }
    /// <summary>Upsampling step.</summary>
    public Size2D Strides { get; }
    /// <summary><c>"valid"</c> or <c>"same"</c>.</summary>
    public string Padding { get; }
    /// <summary>Extra rows and columns of output, or null.</summary>
    public Size2D? OutputPadding { get; }
    /// <summary>Spacing between taps.</summary>
    public Size2D DilationRate { get; }

    private string Label => $"Conv2DTranspose '{Name}'";

    /// <summary>Keras's output length of one axis (deconv_output_length) and the padding before it.</summary>
    private (int Length, int PadBefore) Axis(int input, int k, int s, int d, int? outputPadding)
    {
        int extent = (k - 1) * d + 1;
        bool same = Padding == "same";
        int length = outputPadding is int op ? (input - 1) * s + extent - 2 * (same ? extent / 2 : 0) + op
            : same ? input * s : input * s + Math.Max(extent - s, 0);
        int before = same ? Math.Max((input - 1) * s + extent - length, 0) / 2 : 0;
        return (length, before);
    }

    /// <summary>The window of the convolution that maps this layer's output back to its input (see <see cref="ConvTransposeOp"/>).</summary>
    internal Window2D Window(int[] shape)
    {
        ImageLayers.RequireRank4(Label, shape);
        var (oh, top) = Axis(shape[1], KernelSize.Height, Strides.Height, DilationRate.Height, OutputPadding?.Height);
        var (ow, left) = Axis(shape[2], KernelSize.Width, Strides.Width, DilationRate.Width, OutputPadding?.Width);
        if (oh <= 0 || ow <= 0)
            throw new ArgumentException($"{Label}: the output would be {oh}×{ow} pixels for input {ImageLayers.Format(shape)}. Use a larger input or another padding.");
        return new Window2D(Math.Max(shape[0], 0), oh, ow, Filters, KernelSize.Height, KernelSize.Width, Strides.Height, Strides.Width,
            DilationRate.Height, DilationRate.Width, top, left, shape[1], shape[2]);
    }

    /// <summary><c>"channels_last"</c> or <c>"channels_first"</c>.</summary>
    public string DataFormat { get; }

    private bool First => DataFormat == "channels_first";

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (First) inputShape = ChannelsFirst.Last(inputShape);
        Window(inputShape);
        AddKernelAndBias([KernelSize.Height, KernelSize.Width, Filters, inputShape[3]], Filters);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = First ? ChannelsFirst.Last(inputs.ShapeRef) : inputs.ShapeRef;   // the channels-last view
        ImageLayers.RequireRank4(Label, s);
        if (s[3] != Kernel!.ShapeRef[3])
            throw new ArgumentException($"{Label} expects input with {Kernel!.ShapeRef[3]} channels (the last axis). Received: shape {ShapeUtil.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        First ? ChannelsFirst.ToFirst(CallLast(ChannelsFirst.ToLast(inputs), training)) : CallLast(inputs, training);

    private Tensor CallLast(Tensor inputs, bool training) =>
        ConvTransposeOp.Conv2DTranspose(inputs, Kernel!, Bias, Window(inputs.ShapeRef), Activation);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) =>
        First ? ChannelsFirst.First(ChannelsLastOutputShape(ChannelsFirst.Last(inputShape))) : ChannelsLastOutputShape(inputShape);

    internal override int[] ChannelsLastOutputShape(int[] inputShape)
    {
        var w = Window(inputShape);
        return [inputShape[0], w.H, w.W, Filters];
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason) =>
        First && !context.ChannelsLastView
            ? ChannelsFirst.TryCreateStage(this, context, inner => (base.TryCreateStage(inner, out var s, out var r) ? s : null, r), out stage, out reason)
            : base.TryCreateStage(context, out stage, out reason);

    /// <inheritdoc/>
    private protected override string SampleRefusal(int[] sample) =>
        sample.Length != 3 || Kernel!.ShapeRef[3] != sample[2] ? $"gets samples of shape {ShapeUtil.Format(sample)}, not images of {Kernel!.ShapeRef[3]} channels" : "";

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context, Tensor kernelGrad, Tensor? biasGrad) =>
        new TransposeStage(this, Window([context.Batch, .. context.Sample]), context.InputWidth)
        {
            Width = context.OutputWidth(this), KernelGrad = kernelGrad, BiasGrad = biasGrad,
        };

    /// <summary>The tape op's span kernels (<see cref="ConvTransposeOp"/>) on the step's buffers.</summary>
    private sealed class TransposeStage(Conv2DTranspose layer, Window2D window, int inputs) : Stage
    {
        public Tensor KernelGrad = null!;
        public Tensor? BiasGrad;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Forward(float[] input, int rows) =>
            ConvTransposeOp.Forward(input.AsSpan(0, rows * inputs), layer.Kernel!.AsSpan(), layer.Bias == null ? default : layer.Bias.AsSpan(),
                window with { N = rows }, layer.Activation, Output.AsSpan(0, rows * Width));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            Span<float> dz = OutputGrad.AsSpan(0, rows * Width);
            layer.Activation.BackwardInPlace(dz, Output.AsSpan(0, rows * Width), layer.Filters);
            ConvTransposeOp.BackwardCore(input.AsSpan(0, rows * inputs), layer.Kernel!.AsSpan(), dz, window with { N = rows },
                KernelGrad.Span, BiasGrad == null ? default : BiasGrad.Span, inputGrad == null ? default : inputGrad.AsSpan(0, rows * inputs));
        }
    }
}
