using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace Cortex.Kernels;

/// <summary>
/// Reductions along one axis of a row-major block viewed as (outer, len, inner). When inner is 1 each reduction is one
/// contiguous SIMD call; otherwise whole inner rows are combined element-wise, which keeps the SIMD lanes busy and
/// reads memory in order (no strided gathers).
/// </summary>
internal static class Reduce
{
    /// <summary>Elements (or rows) summed in float before the partial sum is carried in double.</summary>
    private const int Block = 4096;

    /// <summary>
    /// The sum of <paramref name="values"/>. Up to 4,096 elements: one SIMD float sum. Longer: blocks of 4,096 summed in
    /// float and the block sums added in double, so that the error does not grow with the length — a float running sum
    /// of the 47 million Fashion-MNIST pixels is off by 1e-3 relative (NumPy's pairwise sum: 1e-6; this: 1e-7). The
    /// blocks are fixed, so the result is the same on every run.
    /// </summary>
    public static float Sum(ReadOnlySpan<float> values)
    {
        if (values.Length <= Block) return TensorPrimitives.Sum(values);
        double total = 0;
        for (int i = 0; i < values.Length; i += Block)
            total += TensorPrimitives.Sum(values.Slice(i, Math.Min(Block, values.Length - i)));
        return (float)total;
    }

    /// <summary>d += row, element by element, inline: a convolution's bias gradient adds tens of thousands of rows of a
    /// few dozen floats, where a library call per row cost more than the additions (the same IEEE sums as
    /// <see cref="TensorPrimitives.Add(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddInPlace(Span<float> d, ReadOnlySpan<float> row)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            ref float pd = ref MemoryMarshal.GetReference(d);
            ref float pr = ref MemoryMarshal.GetReference(row);
            for (; i + Vector<float>.Count <= d.Length; i += Vector<float>.Count)
            {
                ref float at = ref Unsafe.Add(ref pd, i);
                Vector.StoreUnsafe(Vector.LoadUnsafe(ref at) + Vector.LoadUnsafe(ref Unsafe.Add(ref pr, i)), ref at);
            }
        }
        for (; i < d.Length; i++) d[i] += row[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sum(ReadOnlySpan<float> src, int outer, int len, int inner, Span<float> dst)
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) dst[o] = Sum(src.Slice(o * len, len));
            return;
        }
        // Long axes of whole rows (a column mean over a data set, a convolution's bias gradient over N·H·W pixels):
        // blocks of rows summed in float, carried in double (on the stack up to 512 columns: a training step's bias
        // gradient must not allocate).
        bool carried = len > Block;
        Span<double> carry = !carried ? default : inner <= 512 ? stackalloc double[inner] : new double[inner];
        for (int o = 0; o < outer; o++)
        {
            Span<float> d = dst.Slice(o * inner, inner);
            if (len == 0) { d.Clear(); continue; }
            ReadOnlySpan<float> block = src.Slice(o * len * inner, len * inner);
            if (carried) carry.Clear();
            for (int k0 = 0; k0 < len; k0 += Block)
            {
                int k1 = Math.Min(len, k0 + Block);
                block.Slice(k0 * inner, inner).CopyTo(d);
                for (int k = k0 + 1; k < k1; k++) AddInPlace(d, block.Slice(k * inner, inner));
                if (carried)
                    for (int i = 0; i < inner; i++) carry[i] += d[i];
            }
            if (carried)
                for (int i = 0; i < inner; i++) d[i] = (float)carry[i];
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
