[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.ZeroPadding2D))]

namespace Cortex.Layers;

/// <summary>
/// Adds rows and columns of zeros around each image, as <c>keras.layers.ZeroPadding2D</c>: (N, H, W, C) becomes
/// (N, top + H + bottom, left + W + right, C). Images are channels last.
/// </summary>
/// <example><code>var model = new Sequential(new Input([28, 28, 1]), new ZeroPadding2D(2), new Conv2D(8, 5));   // 32×32 into the conv</code></example>
public sealed class ZeroPadding2D : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="padding">An int (every side), (height, width) or ((top, bottom), (left, right)); Keras's default 1.</param>
    /// <param name="name">Layer name; <c>zero_padding2d</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A side is negative.</exception>
    public ZeroPadding2D(Margins2D? padding = null, string? name = null) : base(name) =>
        Padding = (padding ?? 1).NonNegative("ZeroPadding2D", nameof(padding));

    /// <summary>Zeros added on each side.</summary>
    public Margins2D Padding { get; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => ImageLayers.RequireRank4($"ZeroPadding2D '{Name}'", inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => ImageLayers.RequireRank4($"ZeroPadding2D '{Name}'", inputs.ShapeRef);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        ImageLayers.RequireRank4($"ZeroPadding2D '{Name}'", inputShape);
        return [inputShape[0], inputShape[1] + Padding.Top + Padding.Bottom, inputShape[2] + Padding.Left + Padding.Right, inputShape[3]];
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] s = context.Sample, o = context.OutputSample(this);
        stage = new PaddingStage(s[0], s[1], o[0], o[1], s[2], Padding) { Width = o[0] * o[1] * o[2] };
        return true;
    }

    /// <summary>Copies each image into the middle of a zeroed one; backward takes the middle of the gradient.</summary>
    private sealed class PaddingStage(int h, int w, int outH, int outW, int c, Margins2D p) : Stage
    {
        public override void Forward(float[] input, int rows) =>
            ImageWindow.Copy(input, h, w, 0, 0, Output, outH, outW, p.Top, p.Left, h, w, c, rows);

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad != null) ImageWindow.Copy(OutputGrad, outH, outW, p.Top, p.Left, inputGrad, h, w, 0, 0, h, w, c, rows);
        }
    }
}
