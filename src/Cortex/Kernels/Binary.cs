using System.Numerics.Tensors;

namespace Cortex.Kernels;

/// <summary>
/// A binary element-wise operator in three span forms and one scalar form, so the broadcasting engine can hand the
/// longest contiguous runs to SIMD (TensorPrimitives) and fall back to the scalar form only for strided tails.
/// </summary>
internal interface IBinaryOperator
{
    static abstract float Invoke(float x, float y);
    static abstract void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d);
    static abstract void Invoke(ReadOnlySpan<float> x, float y, Span<float> d);
    static abstract void Invoke(float x, ReadOnlySpan<float> y, Span<float> d);
}

internal readonly struct AddOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x + y;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Add(x, y, d);
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) => TensorPrimitives.Add(x, y, d);
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Add(y, x, d);
}

internal readonly struct SubtractOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x - y;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Subtract(x, y, d);
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) => TensorPrimitives.Subtract(x, y, d);
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Subtract(x, y, d);
}

internal readonly struct MultiplyOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x * y;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Multiply(x, y, d);
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) => TensorPrimitives.Multiply(x, y, d);
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Multiply(y, x, d);
}

internal readonly struct DivideOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x / y;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Divide(x, y, d);
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) => TensorPrimitives.Divide(x, y, d);
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Divide(x, y, d);
}

/// <summary>IEEE maximum: NaN in either operand gives NaN, as <c>torch.maximum</c> and <c>np.maximum</c> do.</summary>
internal readonly struct MaximumOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : MathF.Max(x, y);
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Max(x, y, d);
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) => TensorPrimitives.Max(x, y, d);
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Max(y, x, d);
}

/// <summary>IEEE minimum: NaN in either operand gives NaN.</summary>
internal readonly struct MinimumOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : MathF.Min(x, y);
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Min(x, y, d);
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) => TensorPrimitives.Min(x, y, d);
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Min(y, x, d);
}

internal readonly struct PowOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => MathF.Pow(x, y);
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Pow(x, y, d);
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d)
    {
        // Integer exponents are common (x², x³) and exact as products; pow() would round differently from torch.
        if (y == 2f) TensorPrimitives.Multiply(x, x, d);
        else if (y == 1f) x.CopyTo(d);
        else TensorPrimitives.Pow(x, y, d);
    }
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) => TensorPrimitives.Pow(x, y, d);
}

/// <summary>Comparison operators produce 1 where the relation holds and 0 elsewhere (NaN compares false, except !=).</summary>
internal readonly struct GreaterOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x > y ? 1f : 0f;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] > y[i] ? 1f : 0f; }
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] > y ? 1f : 0f; }
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x > y[i] ? 1f : 0f; }
}

internal readonly struct GreaterEqualOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x >= y ? 1f : 0f;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] >= y[i] ? 1f : 0f; }
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] >= y ? 1f : 0f; }
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x >= y[i] ? 1f : 0f; }
}

internal readonly struct EqualOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x == y ? 1f : 0f;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] == y[i] ? 1f : 0f; }
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] == y ? 1f : 0f; }
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x == y[i] ? 1f : 0f; }
}

internal readonly struct NotEqualOperator : IBinaryOperator
{
    public static float Invoke(float x, float y) => x != y ? 1f : 0f;
    public static void Invoke(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] != y[i] ? 1f : 0f; }
    public static void Invoke(ReadOnlySpan<float> x, float y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x[i] != y ? 1f : 0f; }
    public static void Invoke(float x, ReadOnlySpan<float> y, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = x != y[i] ? 1f : 0f; }
}

/// <summary>
/// Runs a binary operator over two tensors with NumPy broadcasting. Equal shapes and scalar operands go straight to
/// one SIMD span call; otherwise the output is walked row by row (innermost axis), each row being one span call of
/// the right form (both contiguous, or one side repeated), so broadcasting a bias over a batch stays vectorised.
/// </summary>
internal static class Broadcast
{
    public static void Apply<TOp>(ReadOnlySpan<float> x, int[] xShape, ReadOnlySpan<float> y, int[] yShape, Span<float> d, int[] dShape)
        where TOp : IBinaryOperator
    {
        if (d.Length == 0) return;
        if (x.Length == d.Length && y.Length == d.Length) { TOp.Invoke(x, y, d); return; }
        if (y.Length == 1 && x.Length == d.Length) { TOp.Invoke(x, y[0], d); return; }
        if (x.Length == 1 && y.Length == d.Length) { TOp.Invoke(x[0], y, d); return; }

        int rank = dShape.Length;
        // Strides of x and y expressed in the output's axes; 0 where an axis is broadcast.
        Span<int> xs = stackalloc int[rank], ys = stackalloc int[rank];
        BroadcastStrides(xShape, dShape, xs);
        BroadcastStrides(yShape, dShape, ys);

        // Merge the trailing axes that are contiguous for both operands into one long inner run.
        int inner = dShape[rank - 1];
        int innerAxes = 1;
        bool xc = xs[rank - 1] == 1, yc = ys[rank - 1] == 1;
        bool xb = xs[rank - 1] == 0, yb = ys[rank - 1] == 0;
        for (int ax = rank - 2; ax >= 0; ax--)
        {
            bool xok = (xc && xs[ax] == inner) || (xb && xs[ax] == 0);
            bool yok = (yc && ys[ax] == inner) || (yb && ys[ax] == 0);
            if (!xok || !yok) break;
            inner *= dShape[ax];
            innerAxes++;
        }
        int outerRank = rank - innerAxes;
        int xStep = xs[rank - 1], yStep = ys[rank - 1];
        Span<int> idx = stackalloc int[Math.Max(outerRank, 1)];
        idx.Clear();
        int rows = d.Length / inner;
        int xo = 0, yo = 0;
        for (int r = 0; r < rows; r++)
        {
            Span<float> dr = d.Slice(r * inner, inner);
            if (xStep == 1 && yStep == 1) TOp.Invoke(x.Slice(xo, inner), y.Slice(yo, inner), dr);
            else if (xStep == 1 && yStep == 0) TOp.Invoke(x.Slice(xo, inner), y[yo], dr);
            else if (xStep == 0 && yStep == 1) TOp.Invoke(x[xo], y.Slice(yo, inner), dr);
            else dr.Fill(TOp.Invoke(x[xo], y[yo])); // both repeated along the run (last strides are only ever 0 or 1)
            // Advance the outer multi-index like an odometer, updating both offsets incrementally.
            for (int ax = outerRank - 1; ax >= 0; ax--)
            {
                idx[ax]++;
                xo += xs[ax];
                yo += ys[ax];
                if (idx[ax] < dShape[ax]) break;
                xo -= xs[ax] * dShape[ax];
                yo -= ys[ax] * dShape[ax];
                idx[ax] = 0;
            }
        }
    }

    /// <summary>Strides of <paramref name="shape"/> aligned to the right of <paramref name="outShape"/>, 0 for broadcast axes.</summary>
    public static void BroadcastStrides(int[] shape, int[] outShape, Span<int> strides)
    {
        int offset = outShape.Length - shape.Length;
        int acc = 1;
        for (int ax = outShape.Length - 1; ax >= 0; ax--)
        {
            int src = ax - offset;
            if (src < 0 || shape[src] == 1) strides[ax] = 0;
            else { strides[ax] = acc; }
            if (src >= 0) acc *= shape[src];
        }
    }
}
