using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Cortex.Kernels;

/// <summary>
/// Reductions along one axis of a row-major block viewed as (outer, len, inner). When inner is 1 each reduction is one
/// contiguous SIMD call; otherwise whole inner rows are combined element-wise, which keeps the SIMD lanes busy and
/// reads memory in order (no strided gathers).
/// </summary>
internal static class Reduce
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sum(ReadOnlySpan<float> src, int outer, int len, int inner, Span<float> dst)
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) dst[o] = TensorPrimitives.Sum(src.Slice(o * len, len));
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            Span<float> d = dst.Slice(o * inner, inner);
            if (len == 0) { d.Clear(); continue; }
            ReadOnlySpan<float> block = src.Slice(o * len * inner, len * inner);
            block[..inner].CopyTo(d);
            for (int k = 1; k < len; k++) TensorPrimitives.Add(d, block.Slice(k * inner, inner), d);
        }
    }

    public static void Max(ReadOnlySpan<float> src, int outer, int len, int inner, Span<float> dst) => Extreme(src, outer, len, inner, dst, true);

    public static void Min(ReadOnlySpan<float> src, int outer, int len, int inner, Span<float> dst) => Extreme(src, outer, len, inner, dst, false);

    private static void Extreme(ReadOnlySpan<float> src, int outer, int len, int inner, Span<float> dst, bool max)
    {
        // TensorPrimitives.Max/Min propagate NaN, matching torch.amax/amin.
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                var row = src.Slice(o * len, len);
                dst[o] = max ? TensorPrimitives.Max(row) : TensorPrimitives.Min(row);
            }
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            Span<float> d = dst.Slice(o * inner, inner);
            ReadOnlySpan<float> block = src.Slice(o * len * inner, len * inner);
            block[..inner].CopyTo(d);
            for (int k = 1; k < len; k++)
            {
                if (max) TensorPrimitives.Max(d, block.Slice(k * inner, inner), d);
                else TensorPrimitives.Min(d, block.Slice(k * inner, inner), d);
            }
        }
    }

    /// <summary>Index of the first maximum along the axis (NaN counts as the maximum, as in NumPy).</summary>
    public static void ArgMax(ReadOnlySpan<float> src, int outer, int len, int inner, Span<float> dst)
    {
        for (int o = 0; o < outer; o++)
        {
            ReadOnlySpan<float> block = src.Slice(o * len * inner, len * inner);
            if (inner == 1)
            {
                dst[o] = FirstMax(block);
                continue;
            }
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float bv = block[i];
                for (int k = 1; k < len && !float.IsNaN(bv); k++)
                {
                    float v = block[k * inner + i];
                    if (v > bv || float.IsNaN(v)) { bv = v; best = k; }
                }
                dst[o * inner + i] = best;
            }
        }
    }

    private static int FirstMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        float bv = row[0];
        for (int k = 1; k < row.Length && !float.IsNaN(bv); k++)
        {
            float v = row[k];
            if (v > bv || float.IsNaN(v)) { bv = v; best = k; }
        }
        return best;
    }
}
