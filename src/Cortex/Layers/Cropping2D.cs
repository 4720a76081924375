[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Cropping2D))]

namespace Cortex.Layers;

/// <summary>
/// Removes rows and columns from the edges of each image, as <c>keras.layers.Cropping2D</c>: (N, H, W, C) becomes
/// (N, H − top − bottom, W − left − right, C). Images are channels last.
/// </summary>
/// <example><code>var crop = new Cropping2D(((2, 2), (4, 4)));   // (N, 32, 32, 3) → (N, 28, 24, 3)</code></example>
public sealed class Cropping2D : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="cropping">An int (every side), (height, width) or ((top, bottom), (left, right)); Keras's default 0.</param>
    /// <param name="name">Layer name; <c>cropping2d</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A side is negative.</exception>
    public Cropping2D(Margins2D? cropping = null, string? name = null) : base(name) =>
        Cropping = (cropping ?? 0).NonNegative("Cropping2D", nameof(cropping));

    /// <summary>Pixels removed from each side.</summary>
    public Margins2D Cropping { get; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => ComputeOutputShape(inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => ComputeOutputShape(inputs.ShapeRef);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        ImageLayers.RequireRank4($"Cropping2D '{Name}'", inputShape);
        int h = inputShape[1] - Cropping.Top - Cropping.Bottom, w = inputShape[2] - Cropping.Left - Cropping.Right;
        if (h <= 0 || w <= 0)
            throw new ArgumentException($"Cropping2D '{Name}': cropping={Cropping} must leave at least one row and one column of each image. Received: shape {ImageLayers.Format(inputShape)}");
        return [inputShape[0], h, w, inputShape[3]];
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] s = context.Sample, o = context.OutputSample(this);
        stage = new CroppingStage(s[0], s[1], o[0], o[1], s[2], Cropping) { Width = o[0] * o[1] * o[2] };
        return true;
    }

    /// <summary>Copies the middle of each image; backward puts the gradient back in the middle of a zeroed one.</summary>
    private sealed class CroppingStage(int h, int w, int outH, int outW, int c, Margins2D m) : Stage
    {
        public override void Forward(float[] input, int rows) =>
            ImageWindow.Copy(input, h, w, m.Top, m.Left, Output, outH, outW, 0, 0, outH, outW, c, rows);

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad != null) ImageWindow.Copy(OutputGrad, outH, outW, 0, 0, inputGrad, h, w, m.Top, m.Left, outH, outW, c, rows);
        }
    }
}
