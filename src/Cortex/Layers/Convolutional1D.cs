using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Conv1D))]

namespace Cortex.Layers;

/// <summary>
/// Checks shared by the layers that take (batch, steps, channels) sequences. They run the 2-D image kernels: a
/// sequence (N, L, C) is the image (N, 1, L, C) in the same memory, and a 1-D window of k steps is a 1×k window.
/// </summary>
internal static class SequenceLayers
{
    public static int Positive(string layer, string what, int value) =>
        value > 0 ? value
            : throw new ArgumentOutOfRangeException(what, $"{layer}: {what} must be a positive integer. Received: {what}={value}");

    /// <summary>The padding in lower case; <c>"causal"</c> only where <paramref name="causal"/> allows it (Conv1D).</summary>
    public static string Padding(string layer, string padding, bool causal)
    {
        string p = padding?.ToLowerInvariant() ?? "";
        return p is "valid" or "same" || causal && p == "causal" ? p
            : throw new ArgumentException($"{layer}: padding must be {(causal ? "\"valid\", \"same\" or \"causal\"" : "\"valid\" or \"same\"")}. " +
                $"Received: padding=\"{padding}\"", nameof(padding));
    }

    /// <summary>Throws unless the shape is (batch, steps, channels), with a hint for a missing or an extra axis.</summary>
    public static void RequireRank3(string layer, int[] shape)
    {
        if (shape.Length == 3) return;
        string n = shape.Length > 0 && shape[0] >= 0 ? shape[0].ToString(System.Globalization.CultureInfo.InvariantCulture) : "N";
        string hint = " Sequences must be (batch, steps, channels), channels last";
        if (shape.Length == 2)
            hint += $": add a channel axis, e.g. reshape to ({n}, {shape[1]}, 1) or add new Reshape([{shape[1]}, 1]) first";
        else if (shape.Length == 4 && shape[3] == 1)
            hint += $": to read images row by row, drop the channel axis, e.g. reshape to ({n}, {shape[1]}, {shape[2]}) or add new Reshape([{shape[1]}, {shape[2]}]) first";
        throw new ArgumentException($"{layer} expects input of rank 3 (batch, steps, channels). Received: shape {ImageLayers.Format(shape)}.{hint}.");
    }

    /// <summary>The geometry of a window of <paramref name="k"/> steps over (N, 1, L, C), or a clear error when it does
    /// not fit.</summary>
    public static Window2D Window(string layer, int[] shape, int k, int s, int d, string padding, string what)
    {
        RequireRank3(layer, shape);
        if (shape[1] < 0)
        {
            // Steps known only when called: the window of the shortest sequence it fits, its output length unknown too.
            var known = Window(layer, [shape[0], (k - 1) * d + 1, shape[2]], k, s, d, padding, what);
            return known with { W = -1, OW = -1 };
        }
        int n = Math.Max(shape[0], 0), steps = shape[1], c = shape[2];
        Window2D? w = padding == "causal" ? Window2D.Causal(n, steps, c, k, s, d)
            : Window2D.Create(n, 1, steps, c, 1, k, 1, s, 1, d, padding == "same");
        if (w is { } ok && steps > 0) return ok;
        string dil = d == 1 ? "" : $" dilated by {d} (extent {(k - 1) * d + 1})";
        throw new ArgumentException($"{layer}: the {what} {k}{dil} is longer than the input's {steps} steps with padding \"{padding}\". " +
            $"Received: shape {ImageLayers.Format(shape)}. Use a smaller {what}, padding \"same\", or a longer input.");
    }
}

/// <summary>
/// A 1-D convolution over sequences (batch, steps, channels): <c>a = g(conv(x, K) + b)</c>, as
/// <c>keras.layers.Conv1D</c>. The kernel K has shape (kernel size, input channels, filters); each output step is the
/// dot product of its window of steps with each filter. <c>"causal"</c> padding pads (kernelSize − 1)·dilationRate
/// zeros on the left only, so output t depends on inputs up to t (WaveNet's dilated causal convolutions).
/// </summary>
/// <remarks>
/// It runs Conv2D's kernels on the sequence viewed as a one-pixel-high image (N, 1, L, C), with the kernel viewed as
/// (1, k, C, F) — the same memory — so both training paths share Conv2D's im2col + GEMM code and give the same bits.
/// </remarks>
/// <example>
/// <code>
/// var conv = new Conv1D(filters: 16, kernelSize: 5, padding: "causal", activation: "relu");
/// Tensor a = conv.Call(sequences);   // (N, 100, 8) → (N, 100, 16); 5·8·16 + 16 = 656 weights
/// </code>
/// </example>
public sealed class Conv1D : KernelLayer
{
    /// <summary>Creates the layer; the kernel is made on first use, when the input's channel count is known.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">Window length in steps.</param>
    /// <param name="strides">Step between windows (default 1).</param>
    /// <param name="padding"><c>"valid"</c> (no padding), <c>"same"</c> (zero padding so the output has ceil(steps / stride)
    /// steps) or <c>"causal"</c> (all the padding on the left).</param>
    /// <param name="dilationRate">Spacing between the window's taps (default 1).</param>
    /// <param name="activation">g, by name or typed; linear when null.</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="kernelInitializer">How K starts (Keras default: glorot_uniform with fans k·C and k·filters).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="kernelRegularizer">Penalty on K added to the loss.</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="kernelConstraint">Projection of the kernel after each update (e.g. <c>new MaxNorm(3f)</c>).</param>
    /// <param name="biasConstraint">Projection of the bias after each update.</param>
    /// <param name="name">Layer name; <c>conv1d</c>, <c>conv1d_1</c>, … when null.</param>
    /// <param name="dataFormat"><c>"channels_last"</c> (N, steps, channels; the default) or <c>"channels_first"</c> (N, channels, steps); the kernel's layout is the same either way.</param>
    /// <exception cref="ArgumentOutOfRangeException">The size, stride, dilation or filter count is not positive.</exception>
    /// <exception cref="ArgumentException">The padding is not "valid", "same" or "causal".</exception>
    public Conv1D(int filters, int kernelSize, int strides = 1, string padding = "valid", int dilationRate = 1,
        ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, string? name = null, string dataFormat = "channels_last")
        : base(activation, useBias, kernelInitializer, biasInitializer, kernelRegularizer, biasRegularizer, kernelConstraint, biasConstraint, name)
    {
        DataFormat = ChannelsFirst.Check("Conv1D", dataFormat);
        Filters = SequenceLayers.Positive("Conv1D", nameof(filters), filters);
        KernelSize = SequenceLayers.Positive("Conv1D", nameof(kernelSize), kernelSize);
        Strides = SequenceLayers.Positive("Conv1D", nameof(strides), strides);
        Padding = SequenceLayers.Padding("Conv1D", padding, causal: true);
        DilationRate = SequenceLayers.Positive("Conv1D", nameof(dilationRate), dilationRate);
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }
    /// <summary>Window length in steps.</summary>
    public int KernelSize { get; }
    /// <summary>Step between windows.</summary>
    public int Strides { get; }
    /// <summary><c>"valid"</c>, <c>"same"</c> or <c>"causal"</c>.</summary>
    public string Padding { get; }
    /// <summary>Spacing between taps.</summary>
    public int DilationRate { get; }

    /// <summary><c>"channels_last"</c> or <c>"channels_first"</c>.</summary>
    public string DataFormat { get; }

    private bool First => DataFormat == "channels_first";

    private string Label => $"Conv1D '{Name}'";

    private Window2D Window(int[] shape) => SequenceLayers.Window(Label, shape, KernelSize, Strides, DilationRate, Padding, "kernel size");

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (First) inputShape = ChannelsFirst.Last(inputShape);
        Window(inputShape);
        AddKernelAndBias([KernelSize, inputShape[2], Filters]);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = First ? ChannelsFirst.Last(inputs.ShapeRef) : inputs.ShapeRef;   // the channels-last view
        SequenceLayers.RequireRank3(Label, s);
        int expected = Kernel!.ShapeRef[1];
        if (s[2] != expected)
            throw new ArgumentException($"{Label} expects input with {expected} channels (the last axis). Received: shape {ShapeUtil.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        First ? ChannelsFirst.ToFirst(CallLast(ChannelsFirst.ToLast(inputs))) : CallLast(inputs);

    private Tensor CallLast(Tensor inputs)
    {
        var w = Window(inputs.ShapeRef);
        // ConvOp reads x (N, L, C) as (N, 1, L, C) and the kernel (k, C, F) as (1, k, C, F); its output is (N, 1, L', F).
        return ConvOp.Conv2D(inputs, Kernel!, Bias, w, Activation).Reshape(w.N, w.OW, Filters);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) =>
        First ? ChannelsFirst.First(ChannelsLastOutputShape(ChannelsFirst.Last(inputShape))) : ChannelsLastOutputShape(inputShape);

    internal override int[] ChannelsLastOutputShape(int[] inputShape) => [inputShape[0], Window(inputShape).OW, Filters];

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason) =>
        First && !context.ChannelsLastView
            ? ChannelsFirst.TryCreateStage(this, context, inner => (base.TryCreateStage(inner, out var s, out var r) ? s : null, r), out stage, out reason)
            : base.TryCreateStage(context, out stage, out reason);

    /// <inheritdoc/>
    private protected override string SampleRefusal(int[] sample) =>
        sample.Length != 2 || Kernel!.ShapeRef[1] != sample[1] ? $"gets samples of shape {ShapeUtil.Format(sample)}, not sequences of {Kernel!.ShapeRef[1]} channels" : "";

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context, Tensor kernelGrad, Tensor? biasGrad) =>
        new ConvStage(this, Filters, Window([context.Batch, .. context.Sample]), context.InputWidth, training: context.Training)
        {
            Width = context.OutputWidth(this), KernelGrad = kernelGrad, BiasGrad = biasGrad!,
        };
}
