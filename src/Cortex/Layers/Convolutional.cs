using System.Runtime.CompilerServices;
using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Conv2D))]

namespace Cortex.Layers;

/// <summary>
/// A height and width — a kernel size, strides, a pool size or a dilation rate. Converts from one int (the same in
/// both directions, as Keras's <c>kernel_size=3</c>) or from a pair (<c>(3, 5)</c>).
/// </summary>
public readonly record struct Size2D(int Height, int Width)
{
    /// <summary>The same size in both directions.</summary>
    public static implicit operator Size2D(int size) => new(size, size);

    /// <summary>(height, width).</summary>
    public static implicit operator Size2D((int Height, int Width) size) => new(size.Height, size.Width);

    /// <summary>As Keras lists it: [height, width].</summary>
    public int[] ToArray() => [Height, Width];

    /// <inheritdoc/>
    public override string ToString() => $"({Height}, {Width})";
}

/// <summary>Checks shared by the layers that take NHWC images.</summary>
internal static class ImageLayers
{
    public static Size2D Positive(string layer, string what, Size2D s) =>
        s.Height > 0 && s.Width > 0 ? s
            : throw new ArgumentOutOfRangeException(what, $"{layer}: {what} must be positive integers. Received: {what}={s}");

    public static string Padding(string layer, string padding)
    {
        string p = padding?.ToLowerInvariant() ?? "";
        return p is "valid" or "same" ? p
            : throw new ArgumentException($"{layer}: padding must be \"valid\" or \"same\". Received: padding=\"{padding}\"", nameof(padding));
    }

    /// <summary>Throws unless the shape is (batch, height, width, channels), with a hint for flat images.</summary>
    public static void RequireRank4(string layer, int[] shape)
    {
        if (shape.Length == 4) return;
        string hint = " Images must be (batch, height, width, channels), channels last";
        if (shape.Length == 2 && shape[1] > 0 && Math.Sqrt(shape[1]) is var side && side == Math.Floor(side))
            hint += $": reshape the data to ({(shape[0] < 0 ? "N" : shape[0])}, {side}, {side}, 1) (e.g. Datasets.FashionMnist.Load(flatten: false)) or add new Reshape([{side}, {side}, 1]) first";
        else if (shape.Length == 3)
            hint += $": add a channel axis, e.g. reshape to ({(shape[0] < 0 ? "N" : shape[0])}, {shape[1]}, {shape[2]}, 1) or add new Reshape([{shape[1]}, {shape[2]}, 1]) first";
        throw new ArgumentException($"{layer} expects input of rank 4 (batch, height, width, channels). Received: shape {Format(shape)}.{hint}.");
    }

    /// <summary>A shape as Keras prints it, the unknown batch size as None.</summary>
    public static string Format(int[] shape) => Models.Model.FormatShape(shape);

    /// <summary>The window geometry for <paramref name="shape"/>, or a clear error when the window does not fit.</summary>
    public static Window2D Window(string layer, int[] shape, Size2D k, Size2D s, Size2D d, string padding, string what)
    {
        RequireRank4(layer, shape);
        if (shape[1] < 0 || shape[2] < 0)
        {
            // A size known only when called (an Input with −1): the window of the smallest image it fits, with that
            // output size unknown too; the call checks the real size.
            int height = shape[1] < 0 ? (k.Height - 1) * d.Height + 1 : shape[1], width = shape[2] < 0 ? (k.Width - 1) * d.Width + 1 : shape[2];
            var known = Window(layer, [shape[0], height, width, shape[3]], k, s, d, padding, what);
            return known with { H = shape[1], W = shape[2], OH = shape[1] < 0 ? -1 : known.OH, OW = shape[2] < 0 ? -1 : known.OW };
        }
        var w = Window2D.Create(Math.Max(shape[0], 0), shape[1], shape[2], shape[3], k.Height, k.Width, s.Height, s.Width,
            d.Height, d.Width, padding == "same");
        if (w is { } ok && shape[1] > 0 && shape[2] > 0) return ok;
        string dil = d.Height == 1 && d.Width == 1 ? "" : $" dilated by {d} (extent {(k.Height - 1) * d.Height + 1}×{(k.Width - 1) * d.Width + 1})";
        throw new ArgumentException($"{layer}: the {what} {k.Height}×{k.Width}{dil} is larger than the input's {shape[1]}×{shape[2]} pixels " +
            $"with padding \"{padding}\". Received: shape {Format(shape)}. Use a smaller {what}, padding \"same\", or a larger input.");
    }
}

/// <summary>
/// A 2-D convolution over NHWC images: <c>a = g(conv(x, K) + b)</c>, as <c>keras.layers.Conv2D</c>. The kernel K has
/// shape (kernel height, kernel width, input channels, filters); each output pixel is the dot product of its
/// receptive field with each filter.
/// </summary>
/// <example>
/// <code>
/// var conv = new Conv2D(filters: 32, kernelSize: 3, activation: "relu");
/// Tensor a = conv.Call(images);   // (N, 28, 28, 1) → (N, 26, 26, 32); 3·3·1·32 + 32 = 320 weights
/// </code>
/// </example>
public sealed class Conv2D : KernelLayer
{
    /// <summary>Creates the layer; the kernel is made on first use, when the input's channel count is known.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">Window size: one int (square) or (height, width).</param>
    /// <param name="strides">Step between windows (default 1).</param>
    /// <param name="padding"><c>"valid"</c> (no padding) or <c>"same"</c> (zero padding so the output is ceil(in / stride)).</param>
    /// <param name="activation">g, by name or typed; linear when null.</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="dilationRate">Spacing between the window's taps (default 1).</param>
    /// <param name="groups">Channel groups (Keras's <c>groups</c>, default 1): input channel group i feeds only filter
    /// group i, the kernel being (KH, KW, C / groups, filters). Both the input channels and the filters must divide by it.</param>
    /// <param name="kernelInitializer">How K starts (Keras default: glorot_uniform with fans KH·KW·C and KH·KW·filters).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="kernelRegularizer">Penalty on K added to the loss.</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="kernelConstraint">Projection of the kernel after each update (e.g. <c>new MaxNorm(3f)</c>).</param>
    /// <param name="biasConstraint">Projection of the bias after each update.</param>
    /// <param name="name">Layer name; <c>conv2d</c>, <c>conv2d_1</c>, … when null.</param>
    /// <param name="dataFormat"><c>"channels_last"</c> (N, H, W, C; the default) or <c>"channels_first"</c> (N, C, H, W, as
    /// PyTorch); the kernel's layout is the same either way.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size, stride, dilation, the filter count or groups is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is neither "valid" nor "same", the filters do not divide by groups,
    /// or the data format is neither "channels_last" nor "channels_first".</exception>
    public Conv2D(int filters, Size2D kernelSize, Size2D? strides = null, string padding = "valid",
        ActivationFunction? activation = null, bool useBias = true, Size2D? dilationRate = null, int groups = 1,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, string? name = null, string dataFormat = "channels_last")
        : base(activation, useBias, kernelInitializer, biasInitializer, kernelRegularizer, biasRegularizer, kernelConstraint, biasConstraint, name)
    {
        if (filters <= 0) throw new ArgumentOutOfRangeException(nameof(filters), $"Conv2D: filters must be a positive integer. Received: filters={filters}");
        DataFormat = ChannelsFirst.Check("Conv2D", dataFormat);
        Filters = filters;
        KernelSize = ImageLayers.Positive("Conv2D", "kernelSize", kernelSize);
        Strides = ImageLayers.Positive("Conv2D", "strides", strides ?? 1);
        Padding = ImageLayers.Padding("Conv2D", padding);
        DilationRate = ImageLayers.Positive("Conv2D", "dilationRate", dilationRate ?? 1);
        if (groups <= 0) throw new ArgumentOutOfRangeException(nameof(groups), $"Conv2D: groups must be a positive integer. Received: groups={groups}");
        if (filters % groups != 0)
            throw new ArgumentException($"Conv2D: the number of filters must be evenly divisible by the number of groups. Received: groups={groups}, filters={filters}", nameof(groups));
        Groups = groups;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }
    /// <summary>Window height and width.</summary>
    public Size2D KernelSize { get; }
    /// <summary>Step between windows.</summary>
    public Size2D Strides { get; }
    /// <summary><c>"valid"</c> or <c>"same"</c>.</summary>
    public string Padding { get; }
    /// <summary>Spacing between taps.</summary>
    public Size2D DilationRate { get; }
    /// <summary>Channel groups: input channel group i feeds only filter group i.</summary>
    public int Groups { get; }
    /// <summary><c>"channels_last"</c> or <c>"channels_first"</c>.</summary>
    public string DataFormat { get; }

    private bool First => DataFormat == "channels_first";

    private string Label => $"Conv2D '{Name}'";

    internal Window2D Window(int[] shape) => ImageLayers.Window(Label, shape, KernelSize, Strides, DilationRate, Padding, "kernel");

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (First) inputShape = ChannelsFirst.Last(inputShape);
        Window(inputShape);
        if (inputShape[3] % Groups != 0)
            throw new ArgumentException($"{Label}: the number of input channels must be evenly divisible by the number of groups. " +
                $"Received: groups={Groups}, but the input has {inputShape[3]} channels (full input shape is {ImageLayers.Format(inputShape)})");
        AddKernelAndBias([KernelSize.Height, KernelSize.Width, inputShape[3] / Groups, Filters]);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = inputs.ShapeRef;
        ImageLayers.RequireRank4(Label, s);
        int expected = Kernel!.ShapeRef[2] * Groups;
        if (s[First ? 1 : 3] != expected)
            throw new ArgumentException($"{Label} expects input with {expected} channels (the {(First ? "second" : "last")} axis). Received: shape {ShapeUtil.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => First
        ? ChannelsFirst.ToFirst(ConvOp.Conv2D(ChannelsFirst.ToLast(inputs), Kernel!, Bias, Window(ChannelsFirst.Last(inputs.ShapeRef)), Activation, Groups))
        : ConvOp.Conv2D(inputs, Kernel!, Bias, Window(inputs.ShapeRef), Activation, Groups);

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
            ? ChannelsFirst.TryCreateStage(this, context, inner => (base.TryCreateStage(inner, out var s, out var r) ? s : null, r), out stage, out reason)
            : base.TryCreateStage(context, out stage, out reason);

    /// <inheritdoc/>
    private protected override string SampleRefusal(int[] sample) =>
        sample.Length != 3 || Kernel!.ShapeRef[2] * Groups != sample[2] ? $"gets samples of shape {ShapeUtil.Format(sample)}, not images of {Kernel!.ShapeRef[2] * Groups} channels" : "";

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context, Tensor kernelGrad, Tensor? biasGrad) =>
        new ConvStage(this, Filters, Window([context.Batch, .. context.Sample]), context.InputWidth, Groups, context.Training)
        {
            Width = context.OutputWidth(this), KernelGrad = kernelGrad, BiasGrad = biasGrad!,
        };
}

/// <summary>Conv2D on NHWC rows (each row one image, so rows are the batch) — or Conv1D on (steps, channels) rows, a
/// one-pixel-high image, or a grouped or depthwise convolution (<paramref name="groups"/> &gt; 1) — with the same span
/// kernels as <see cref="ConvOp"/>, in the same order, on buffers made once.</summary>
internal sealed class ConvStage(KernelLayer layer, int filters, Window2D window, int inputs, int groups = 1, bool training = true) : Stage
{
    public Tensor KernelGrad = null!, BiasGrad = null!;
    // The im2col matrix, kept from forward to backward (the tape path rebuilds it to hold less memory; here the
    // buffer is made once, and skipping the rebuild saves ~0.7 ms a step for the Fashion-MNIST CNN). Inference keeps
    // none: each core copies one block of patches at a time into its own scratch (see ConvOp.Forward).
    // A convolution Winograd computes keeps its transformed input and kernel instead (a third to a half as many floats).
    private readonly float[] cols = groups > 1 ? new float[window.Rows * window.Patch]
        : !training ? []
        : new float[Winograd.Applies(window, groups, filters) ? Winograd.KeptFloats(window, filters) : (long)window.Rows * window.Patch];

    private PoolStage? pool; // inference: the pooling folded into this stage's pass (TryAbsorb)

    /// <summary>The layer's activation (a following pooling may apply its gradient: <see cref="Stage.TryTakeActivationGradient"/>).</summary>
    public ActivationFunction Activation => layer.Activation;

    /// <inheritdoc/>
    public override bool TryAbsorb(Stage next)
    {
        if (training || next is not PoolStage p || !ConvOp.CanFoldPool(window, groups, filters)) return false;
        pool = p;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Forward(float[] input, int rows)
    {
        var w = window with { N = rows };
        if (pool != null)
        {
            ConvOp.ForwardPooled(input.AsSpan(0, rows * inputs), layer.Kernel!.AsSpan(), layer.Bias == null ? default : layer.Bias.AsSpan(),
                w, layer.Activation, filters, pool.Window with { N = rows }, pool.Max, pool.Output);
            return;
        }
        ConvOp.Forward(input.AsSpan(0, rows * inputs), layer.Kernel!.AsSpan(), layer.Bias == null ? default : layer.Bias.AsSpan(),
            w, layer.Activation, filters, Output.AsSpan(0, rows * Width), cols, groups);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        var w = window with { N = rows };
        Span<float> dz = OutputGrad.AsSpan(0, rows * Width);
        if (!ActivationGradientTaken) layer.Activation.BackwardInPlace(dz, Output.AsSpan(0, rows * Width), filters);
        Span<float> dx = inputGrad == null ? default : inputGrad.AsSpan(0, rows * inputs);   // BackwardCore overwrites it
        ConvOp.BackwardCore(input.AsSpan(0, rows * inputs), layer.Kernel!.AsSpan(), dz, w, filters, KernelGrad.Span,
            layer.Bias == null ? default : BiasGrad.Span, dx, cols, groups);
    }
}
