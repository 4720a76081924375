[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.UpSampling2D))]

namespace Cortex.Layers;

/// <summary>
/// Enlarges each image by whole factors, as <c>keras.layers.UpSampling2D</c>: (N, H, W, C) becomes
/// (N, H·size.Height, W·size.Width, C). <c>"nearest"</c> repeats each pixel; <c>"bilinear"</c> interpolates between
/// the four nearest input pixels with half-pixel centres (Keras's and PyTorch's <c>align_corners=False</c>: output
/// pixel o samples input position (o + ½)/factor − ½, clamped to the image). Images are channels last.
/// </summary>
/// <example><code>var up = new UpSampling2D(2, interpolation: "bilinear");   // (N, 7, 7, 16) → (N, 14, 14, 16)</code></example>
public sealed class UpSampling2D : Layer
{
    private static readonly string[] Interpolations = ["nearest", "bilinear"];

    /// <summary>Creates the layer.</summary>
    /// <param name="size">The factors for rows and columns: an int or (height, width); Keras's default 2.</param>
    /// <param name="interpolation"><c>"nearest"</c> (Keras's default) or <c>"bilinear"</c>.</param>
    /// <param name="name">Layer name; <c>up_sampling2d</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A factor is not positive.</exception>
    /// <exception cref="ArgumentException">The interpolation is not one of the two.</exception>
    public UpSampling2D(Size2D? size = null, string interpolation = "nearest", string? name = null) : base(name)
    {
        Size = ImageLayers.Positive("UpSampling2D", nameof(size), size ?? 2);
        string i = interpolation?.ToLowerInvariant() ?? "";
        if (!Interpolations.Contains(i))
            throw new ArgumentException($"UpSampling2D: interpolation must be one of \"nearest\", \"bilinear\". Received: interpolation=\"{interpolation}\"", nameof(interpolation));
        Interpolation = i;
    }

    /// <summary>The factors for rows and columns.</summary>
    public Size2D Size { get; }

    /// <summary><c>"nearest"</c> or <c>"bilinear"</c>.</summary>
    public string Interpolation { get; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => ImageLayers.RequireRank4($"UpSampling2D '{Name}'", inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => ImageLayers.RequireRank4($"UpSampling2D '{Name}'", inputs.ShapeRef);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        ImageLayers.RequireRank4($"UpSampling2D '{Name}'", inputShape);
        return [inputShape[0], inputShape[1] * Size.Height, inputShape[2] * Size.Width, inputShape[3]];
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] s = context.Sample;
        bool bilinear = Interpolation == "bilinear";
        stage = new UpSamplingStage(Axis.Of(s[0], Size.Height, bilinear), Axis.Of(s[1], Size.Width, bilinear), s[2], !bilinear)
        {
            Width = s[0] * Size.Height * s[1] * Size.Width * s[2],
        };
        return true;
    }

    /// <summary>For each output position along one axis, the two input positions it reads and the weight of the second
    /// (nearest: the same position twice, weight 0).</summary>
    private sealed record Axis(int In, int[] Low, int[] High, float[] Weight)
    {
        public static Axis Of(int n, int factor, bool bilinear)
        {
            int outN = n * factor;
            var low = new int[outN];
            var high = new int[outN];
            var weight = new float[outN];
            for (int o = 0; o < outN; o++)
            {
                if (!bilinear) { low[o] = high[o] = o / factor; continue; }
                // Half-pixel centres, clamped at 0 as PyTorch's area_pixel_compute_source_index and TF's resize do.
                float src = MathF.Max((o + 0.5f) / factor - 0.5f, 0f);
                int i = Math.Min((int)src, n - 1);
                low[o] = i;
                high[o] = Math.Min(i + 1, n - 1);
                weight[o] = src - i;
            }
            return new(n, low, high, weight);
        }
    }

    /// <summary>Each output pixel the weighted sum of four input pixels (nearest: one, weight 1); backward scatters the
    /// gradient back with the same weights. The four pixels and two weights of every output pixel are found once.</summary>
    private sealed class UpSamplingStage : Stage
    {
        private readonly int c, inImage;
        private readonly bool nearest;
        private readonly int[] corners;     // per output pixel: the input offsets of (low row, low col), (low, high), (high, low), (high, high)
        private readonly float[] weights;   // per output pixel: the weight of the high column, then of the high row

        public UpSamplingStage(Axis rows, Axis cols, int c, bool nearest)
        {
            (this.c, this.nearest, inImage) = (c, nearest, rows.In * cols.In * c);
            int outH = rows.Low.Length, outW = cols.Low.Length;
            corners = new int[4 * outH * outW];
            weights = new float[2 * outH * outW];
            for (int i = 0, p = 0; i < outH; i++)
                for (int j = 0; j < outW; j++, p++)
                {
                    int low = rows.Low[i] * cols.In, high = rows.High[i] * cols.In;
                    (corners[4 * p], corners[4 * p + 1]) = ((low + cols.Low[j]) * c, (low + cols.High[j]) * c);
                    (corners[4 * p + 2], corners[4 * p + 3]) = ((high + cols.Low[j]) * c, (high + cols.High[j]) * c);
                    (weights[2 * p], weights[2 * p + 1]) = (cols.Weight[j], rows.Weight[i]);
                }
        }

        public override void Forward(float[] input, int n)
        {
            int pixels = weights.Length / 2;
            for (int r = 0; r < n; r++)
            {
                ReadOnlySpan<float> x = input.AsSpan(r * inImage, inImage);
                for (int p = 0; p < pixels; p++)
                {
                    Span<float> o = Output.AsSpan(r * Width + p * c, c);
                    int a = corners[4 * p], b = corners[4 * p + 1], d = corners[4 * p + 2], e = corners[4 * p + 3];
                    if (nearest) { x.Slice(a, c).CopyTo(o); continue; }   // exact, and no 0·∞ for infinite inputs
                    float wx = weights[2 * p], wy = weights[2 * p + 1];
                    for (int k = 0; k < c; k++)
                    {
                        float top = x[a + k] + wx * (x[b + k] - x[a + k]);
                        float bottom = x[d + k] + wx * (x[e + k] - x[d + k]);
                        o[k] = top + wy * (bottom - top);
                    }
                }
            }
        }

        public override void Backward(float[] input, float[]? inputGrad, int n)
        {
            if (inputGrad == null) return;
            int pixels = weights.Length / 2;
            inputGrad.AsSpan(0, n * inImage).Clear();
            for (int r = 0; r < n; r++)
            {
                Span<float> dx = inputGrad.AsSpan(r * inImage, inImage);
                for (int p = 0; p < pixels; p++)
                {
                    ReadOnlySpan<float> g = OutputGrad.AsSpan(r * Width + p * c, c);
                    int a = corners[4 * p], b = corners[4 * p + 1], d = corners[4 * p + 2], e = corners[4 * p + 3];
                    if (nearest) { System.Numerics.Tensors.TensorPrimitives.Add(dx.Slice(a, c), g, dx.Slice(a, c)); continue; }
                    float wx = weights[2 * p], wy = weights[2 * p + 1];
                    for (int k = 0; k < c; k++)
                    {
                        float top = (1f - wy) * g[k], bottom = wy * g[k];
                        dx[a + k] += (1f - wx) * top;
                        dx[b + k] += wx * top;
                        dx[d + k] += (1f - wx) * bottom;
                        dx[e + k] += wx * bottom;
                    }
                }
            }
        }
    }
}
