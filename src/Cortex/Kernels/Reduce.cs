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
        int blocks = (len + Block - 1) / Block;
        // The blocks' float sums on the cores when there are several (they are independent; the carry then adds them
        // in order, so the bits are the same): the first convolution's bias gradient (21,632 rows of 32 per batch of
        // 32) was ~1.7% of the residual CNN's epoch on the calling thread alone.
        bool split = carried && outer == 1 && (long)blocks * inner <= 1 << 14 && GemmThreads.MaxParts > 1 && !GemmThreads.SerialOnThisThread;   // ≤ 64 KiB of stack
        Span<float> partial = split ? stackalloc float[blocks * inner] : default;
        for (int o = 0; o < outer; o++)
        {
            Span<float> d = dst.Slice(o * inner, inner);
            if (len == 0) { d.Clear(); continue; }
            ReadOnlySpan<float> block = src.Slice(o * len * inner, len * inner);
            if (carried) carry.Clear();
            if (split && BlockSums(block, len, inner, partial))
            {
                for (int b = 0; b < blocks; b++)
                    for (int i = 0; i < inner; i++) carry[i] += partial[b * inner + i];
            }
            else
                for (int k0 = 0; k0 < len; k0 += Block)
                {
                    SumRows(block, k0, Math.Min(len, k0 + Block), inner, d);
                    if (carried)
                        for (int i = 0; i < inner; i++) carry[i] += d[i];
                }
            if (carried)
                for (int i = 0; i < inner; i++) d[i] = (float)carry[i];
        }
    }

    /// <summary>d = the sum of rows [k0, k1) of <paramref name="rows"/>, in order.</summary>
    private static void SumRows(ReadOnlySpan<float> rows, int k0, int k1, int inner, Span<float> d)
    {
        rows.Slice(k0 * inner, inner).CopyTo(d);
        for (int k = k0 + 1; k < k1; k++) AddInPlace(d, rows.Slice(k * inner, inner));
    }

    private unsafe struct BlockJob
    {
        public float* Rows, Partial;
        public int Len, Inner;
    }

    /// <summary>partial[b] = the float sum of block b's rows, the blocks split between the cores; false (nothing done)
    /// when the workers are busy.</summary>
    private static unsafe bool BlockSums(ReadOnlySpan<float> rows, int len, int inner, Span<float> partial)
    {
        int blocks = (len + Block - 1) / Block, parts = Math.Min(GemmThreads.MaxParts, blocks);
        Span<int> bounds = stackalloc int[parts + 1];
        for (int t = 0; t <= parts; t++) bounds[t] = blocks * t / parts;
        fixed (float* pr = rows, pp = partial)
        {
            var job = new BlockJob { Rows = pr, Partial = pp, Len = len, Inner = inner };
            return GemmThreads.TryRunRanges(&BlockRange, &job, bounds);
        }
    }

    private static unsafe void BlockRange(void* state, int b0, int b1)
    {
        var j = (BlockJob*)state;
        var rows = new ReadOnlySpan<float>(j->Rows, j->Len * j->Inner);
        for (int b = b0; b < b1; b++)
            SumRows(rows, b * Block, Math.Min(j->Len, (b + 1) * Block), j->Inner, new Span<float>(j->Partial + b * j->Inner, j->Inner));
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
