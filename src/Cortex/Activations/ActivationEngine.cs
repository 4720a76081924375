using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Cortex.Kernels;

namespace Cortex.Activations;

/// <summary>
/// Runs an <see cref="IActivationOperator"/> over spans on one thread: the forward, the forward with a bias added to
/// each row first, and the gradient. Written once for every operator; the JIT compiles it per operator struct with the
/// operator's methods inlined, so a pass costs what a hand-written loop costs.
/// </summary>
/// <remarks>
/// Widths as TensorPrimitives chooses them: the widest vector the machine accelerates that the span fills, so no
/// <c>Vector512</c> code runs where it would be emulated (a CPU without AVX-512, or <c>DOTNET_EnableAVX512=0</c>), and
/// 128-bit vectors where 256-bit ones are not accelerated (ARM64, or <c>DOTNET_EnableAVX2=0</c>). A span shorter than
/// the narrowest vector goes element by element. The result for an element then depends only on its value and the
/// span's length: a caller that splits a pass into parts of at least one widest vector each gets the same bits.
/// </remarks>
internal static class ActivationEngine
{
    /// <summary>y = g(x). <paramref name="x"/> and <paramref name="y"/> have one length and are the same memory or
    /// disjoint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> y) where TOp : struct, IActivationOperator
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        nuint n = (nuint)x.Length;
        // The tail is one vector that overlaps the ones before it rather than a scalar loop. It is computed before the
        // main loop, from the input, because in place the main loop overwrites part of what it reads, and stored last.
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint last = n - (nuint)Vector512<float>.Count;
            var end = op.Invoke(Vector512.LoadUnsafe(ref xs, last));
            for (nuint i = 0; i < last; i += (nuint)Vector512<float>.Count)
                op.Invoke(Vector512.LoadUnsafe(ref xs, i)).StoreUnsafe(ref ys, i);
            end.StoreUnsafe(ref ys, last);
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            nuint last = n - (nuint)Vector256<float>.Count;
            var end = op.Invoke(Vector256.LoadUnsafe(ref xs, last));
            for (nuint i = 0; i < last; i += (nuint)Vector256<float>.Count)
                op.Invoke(Vector256.LoadUnsafe(ref xs, i)).StoreUnsafe(ref ys, i);
            end.StoreUnsafe(ref ys, last);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            nuint last = n - (nuint)Vector128<float>.Count;
            var end = op.Invoke(Vector128.LoadUnsafe(ref xs, last));
            for (nuint i = 0; i < last; i += (nuint)Vector128<float>.Count)
                op.Invoke(Vector128.LoadUnsafe(ref xs, i)).StoreUnsafe(ref ys, i);
            end.StoreUnsafe(ref ys, last);
        }
        else
            for (nuint i = 0; i < n; i++) Unsafe.Add(ref ys, i) = op.Invoke(Unsafe.Add(ref xs, i));
    }

    /// <summary>
    /// y = g(y + bias) in place, over whole rows of <c>bias.Length</c>. When a row is whole vectors of the machine's
    /// widest width it is one pass down the rows, each vector of a row taking its bias vector from L1 (a convolution's
    /// 43,264 rows at batch 64 would otherwise pay a span call each: 0.4 ms; walking down the rows once per bias vector
    /// instead took eight passes over the output at 128 bits for 32 channels). Otherwise the bias is added row by row
    /// and the activation runs over the whole span. Both give the bits of adding first and applying
    /// <see cref="Forward"/> after, since each element goes through the same width either way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void AddBiasForward<TOp>(TOp op, Span<float> y, ReadOnlySpan<float> bias) where TOp : struct, IActivationOperator
    {
        if (bias.IsEmpty)
        {
            Forward(op, y, y);
            return;
        }
        int row = bias.Length;
        fixed (float* ys = y)
        fixed (float* bs = bias)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                if (row % Vector512<float>.Count == 0)
                {
                    AddBiasRows<Lanes512, TOp>(op, ys, bs, y.Length, row);
                    return;
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                if (row % Vector256<float>.Count == 0)
                {
                    AddBiasRows<Lanes256, TOp>(op, ys, bs, y.Length, row);
                    return;
                }
            }
            else if (Vector128.IsHardwareAccelerated && row % Vector128<float>.Count == 0)
            {
                AddBiasRows<Lanes128, TOp>(op, ys, bs, y.Length, row);
                return;
            }
        }
        AddToRows(y, bias);
        Forward(op, y, y);
    }

    /// <summary>y = g(y + bias) over the whole rows of <paramref name="n"/> floats, <paramref name="row"/> (a multiple
    /// of the width) per row, row after row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddBiasRows<TL, TOp>(TOp op, float* y, float* bias, int n, int row)
        where TL : unmanaged, ILanes<TL> where TOp : struct, IActivationOperator
    {
        for (float* end = y + (n - n % row); y < end; y += row)
            for (int f = 0; f < row; f += TL.Count)
                TL.Activate(op, TL.Load(y + f) + TL.Load(bias + f)).Store(y + f);
    }

    /// <summary>y += bias on each row of <c>bias.Length</c>, one span call a row.</summary>
    public static void AddToRows(Span<float> y, ReadOnlySpan<float> bias)
    {
        if (bias.IsEmpty) return;
        for (int r = 0; r + bias.Length <= y.Length; r += bias.Length)
        {
            var row = y.Slice(r, bias.Length);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>dx = dL/dx from g = dL/dy, the input x and the output y (all of one length). <paramref name="dx"/> may be
    /// the memory of <paramref name="g"/>; <paramref name="x"/> may be <paramref name="y"/> where the operator's
    /// derivative comes from its output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<TOp>(TOp op, ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dx)
        where TOp : struct, IActivationOperator
    {
        ref float gs = ref MemoryMarshal.GetReference(g);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        ref float ds = ref MemoryMarshal.GetReference(dx);
        nuint n = (nuint)g.Length;
        // As in Forward: the overlapping last vector is computed first, before an in-place pass overwrites g.
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint last = n - (nuint)Vector512<float>.Count;
            var end = op.Gradient(Vector512.LoadUnsafe(ref gs, last), Vector512.LoadUnsafe(ref xs, last), Vector512.LoadUnsafe(ref ys, last));
            for (nuint i = 0; i < last; i += (nuint)Vector512<float>.Count)
                op.Gradient(Vector512.LoadUnsafe(ref gs, i), Vector512.LoadUnsafe(ref xs, i), Vector512.LoadUnsafe(ref ys, i)).StoreUnsafe(ref ds, i);
            end.StoreUnsafe(ref ds, last);
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            nuint last = n - (nuint)Vector256<float>.Count;
            var end = op.Gradient(Vector256.LoadUnsafe(ref gs, last), Vector256.LoadUnsafe(ref xs, last), Vector256.LoadUnsafe(ref ys, last));
            for (nuint i = 0; i < last; i += (nuint)Vector256<float>.Count)
                op.Gradient(Vector256.LoadUnsafe(ref gs, i), Vector256.LoadUnsafe(ref xs, i), Vector256.LoadUnsafe(ref ys, i)).StoreUnsafe(ref ds, i);
            end.StoreUnsafe(ref ds, last);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            nuint last = n - (nuint)Vector128<float>.Count;
            var end = op.Gradient(Vector128.LoadUnsafe(ref gs, last), Vector128.LoadUnsafe(ref xs, last), Vector128.LoadUnsafe(ref ys, last));
            for (nuint i = 0; i < last; i += (nuint)Vector128<float>.Count)
                op.Gradient(Vector128.LoadUnsafe(ref gs, i), Vector128.LoadUnsafe(ref xs, i), Vector128.LoadUnsafe(ref ys, i)).StoreUnsafe(ref ds, i);
            end.StoreUnsafe(ref ds, last);
        }
        else
            for (nuint i = 0; i < n; i++)
                Unsafe.Add(ref ds, i) = op.Gradient(Unsafe.Add(ref gs, i), Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i));
    }
}
