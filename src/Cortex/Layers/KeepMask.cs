using System.Numerics.Tensors;

namespace Cortex.Layers;

/// <summary>
/// The dropout masks of Dropout (with or without <c>noiseShape</c>) and SpatialDropout2D: one keep/drop draw per entry
/// of the noise shape, broadcast over the axes where it is 1, as Keras's <c>noise_shape</c>.
/// </summary>
internal static class KeepMask
{
    /// <summary>
    /// For each float of one sample (shape <paramref name="sample"/>), the index of its draw within the sample's noise
    /// (shape <paramref name="noiseSample"/>, each entry 1 or the sample's size); null when every entry is drawn.
    /// </summary>
    public static int[]? DrawIndex(int[] sample, int[] noiseSample)
    {
        if (sample.AsSpan().SequenceEqual(noiseSample)) return null;
        int width = sample.Aggregate(1, (a, b) => a * b);
        var index = new int[width];
        var at = new int[sample.Length];
        for (int e = 0; e < width; e++)
        {
            int n = 0;
            for (int d = 0; d < sample.Length; d++) n = n * noiseSample[d] + (noiseSample[d] == 1 ? 0 : at[d]);
            index[e] = n;
            for (int d = sample.Length - 1; d >= 0 && ++at[d] == sample[d]; d--) at[d] = 0;   // next position, last axis fastest
        }
        return index;
    }
}

/// <summary>
/// Multiplies each row by a mask of 1/(1 − rate) (kept) and 0 (dropped), drawn from the layer's generator at every
/// training forward, <paramref name="perRow"/> draws per row (or once for the batch when <paramref name="sharedAcrossBatch"/>),
/// spread over the row by <paramref name="drawIndex"/> (null: one draw per float). Outside training it copies.
/// </summary>
internal sealed class KeepMaskStage(CortexRandom rng, float rate, int[]? drawIndex, int perRow, bool sharedAcrossBatch, bool training, int batch) : Stage
{
    // A draw shared by the batch is spread over every row, even where each float has its own.
    private readonly int[]? index = drawIndex ?? (sharedAcrossBatch ? [.. Enumerable.Range(0, perRow)] : null);
    private readonly float[] noise = new float[(sharedAcrossBatch ? 1 : batch) * perRow];
    private readonly float[] mask = new float[batch * (drawIndex?.Length ?? (sharedAcrossBatch ? perRow : 0))];

    public override void Forward(float[] input, int rows)
    {
        int n = rows * Width;
        if (!training) { input.AsSpan(0, n).CopyTo(Output); return; }
        int draws = (sharedAcrossBatch ? 1 : rows) * perRow;
        rng.FillKeepMask(noise.AsSpan(0, draws), rate, 1f / (1f - rate));
        TensorPrimitives.Multiply(input.AsSpan(0, n), Mask(rows), Output.AsSpan(0, n));
    }

    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        int n = rows * Width;
        if (inputGrad == null) return;
        if (!training) { OutputGrad.AsSpan(0, n).CopyTo(inputGrad); return; }
        TensorPrimitives.Multiply(OutputGrad.AsSpan(0, n), (index == null ? noise : mask).AsSpan(0, n), inputGrad.AsSpan(0, n));
    }

    /// <summary>The mask over <paramref name="rows"/> rows from the draws just made: the draws, or their broadcast.</summary>
    private ReadOnlySpan<float> Mask(int rows)
    {
        if (index == null) return noise.AsSpan(0, rows * Width);
        for (int r = 0; r < rows; r++)
        {
            int from = sharedAcrossBatch ? 0 : r * perRow;
            Span<float> m = mask.AsSpan(r * Width, Width);
            for (int e = 0; e < m.Length; e++) m[e] = noise[from + index[e]];
        }
        return mask.AsSpan(0, rows * Width);
    }
}
