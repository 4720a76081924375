using Cortex.Autodiff;
using Cortex.Kernels;

namespace Cortex;

// Element-wise arithmetic with NumPy broadcasting. Each op's gradient rule sits beside it; gradients of broadcast
// operands are summed back to the operand's shape (SumTo).
public partial class Tensor
{
    /// <summary>Runs a broadcasting binary kernel into a fresh tensor.</summary>
    internal static Tensor Binary<TOp>(string op, Tensor a, Tensor b) where TOp : IBinaryOperator
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int[] shape = ShapeUtil.Broadcast(op, a.shape, b.shape);
        var result = Uninitialized(shape); // shape arrays are never mutated, so they may be shared
        Broadcast.Apply<TOp>(a.data, a.shape, b.data, b.shape, result.data, result.shape);
        return result;
    }

    /// <summary>Element-wise sum with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        var r = Binary<AddOperator>("Add", a, b);
        if (GradientTape.IsRecording)
            GradientTape.Record("Add", r, static (g, n) => [g.SumTo(n.X.shape), g.SumTo(n.Y.shape)], a, b);
        return r;
    }

    /// <summary>Element-wise difference with broadcasting.</summary>
    public static Tensor Subtract(Tensor a, Tensor b)
    {
        var r = Binary<SubtractOperator>("Subtract", a, b);
        if (GradientTape.IsRecording)
            GradientTape.Record("Subtract", r, static (g, n) => [g.SumTo(n.X.shape), (-g).SumTo(n.Y.shape)], a, b);
        return r;
    }

    /// <summary>Element-wise product with broadcasting.</summary>
    public static Tensor Multiply(Tensor a, Tensor b)
    {
        var r = Binary<MultiplyOperator>("Multiply", a, b);
        if (GradientTape.IsRecording)
            GradientTape.Record("Multiply", r, static (g, n) => [(g * n.Y).SumTo(n.X.shape), (g * n.X).SumTo(n.Y.shape)], a, b);
        return r;
    }

    /// <summary>Element-wise quotient with broadcasting (IEEE: x/0 is ±inf or NaN).</summary>
    public static Tensor Divide(Tensor a, Tensor b)
    {
        var r = Binary<DivideOperator>("Divide", a, b);
        if (GradientTape.IsRecording)
            GradientTape.Record("Divide", r, static (g, n) =>
            {
                Tensor ga = g / n.Y;
                return [ga.SumTo(n.X.shape), (-ga * n.Output).SumTo(n.Y.shape)]; // d(a/b)/db = −(a/b)/b
            }, a, b);
        return r;
    }

    /// <summary>Element-wise maximum with broadcasting; NaN propagates. At ties the gradient is split evenly (as PyTorch does).</summary>
    public static Tensor Maximum(Tensor a, Tensor b)
    {
        var r = Binary<MaximumOperator>("Maximum", a, b);
        if (GradientTape.IsRecording) GradientTape.Record("Maximum", r, ExtremeBackward, a, b);
        return r;
    }

    /// <summary>Element-wise minimum with broadcasting; NaN propagates. At ties the gradient is split evenly.</summary>
    public static Tensor Minimum(Tensor a, Tensor b)
    {
        var r = Binary<MinimumOperator>("Minimum", a, b);
        if (GradientTape.IsRecording) GradientTape.Record("Minimum", r, ExtremeBackward, a, b);
        return r;
    }

    /// <summary>Maximum with a scalar, e.g. <c>Tensor.Maximum(z, 0)</c> for ReLU written by hand.</summary>
    public static Tensor Maximum(Tensor a, float b) => Maximum(a, Scalar(b));

    /// <summary>Minimum with a scalar.</summary>
    public static Tensor Minimum(Tensor a, float b) => Minimum(a, Scalar(b));

    // The winner takes the gradient; a tie shares it half and half. Written with masks rather than as
    // "g * (x == out)" alone, which would hand the full gradient to both sides of a tie.
    private static Tensor?[] ExtremeBackward(Tensor g, TapeNode n)
    {
        Tensor a = n.X, b = n.Y, r = n.Output;
        Tensor aWins = Compare<EqualOperator>("Equal", a, r), bWins = Compare<EqualOperator>("Equal", b, r);
        Tensor share = aWins * bWins * 0.5f;
        Tensor wa = aWins - share, wb = bWins - share;
        return [(g * wa).SumTo(a.shape), (g * wb).SumTo(b.shape)];
    }

    /// <summary><c>a</c> raised to the power <c>b</c>, element-wise with broadcasting.</summary>
    public static Tensor Pow(Tensor a, Tensor b)
    {
        var r = Binary<PowOperator>("Pow", a, b);
        if (GradientTape.IsRecording)
            GradientTape.Record("Pow", r, static (g, n) =>
            {
                Tensor a = n.X, b = n.Y;
                Tensor ga = g * b * Pow(a, b - 1f);
                // d(a^b)/db = a^b·ln a; PyTorch defines it as 0 where a == 0 and b ≥ 0 (the limit), not NaN.
                Tensor safeLog = Where(Compare<EqualOperator>("Equal", a, Scalar(0f)), Scalar(0f), a).Log();
                Tensor gb = g * n.Output * safeLog;
                return [ga.SumTo(a.shape), gb.SumTo(b.shape)];
            }, a, b);
        return r;
    }

    /// <summary>Raises every element to a scalar power.</summary>
    public Tensor Pow(float exponent)
    {
        var r = Uninitialized((int[])shape.Clone());
        PowOperator.Invoke(data, exponent, r.data);
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("Pow", r, static (g, n) =>
                n.Alpha == 0f ? [Zeros(g.shape)] : [g * (n.X.Pow(n.Alpha - 1f) * n.Alpha)], this);
            if (node != null) node.Alpha = exponent;
        }
        return r;
    }

    /// <summary>Selects <paramref name="x"/> where <paramref name="condition"/> is non-zero and <paramref name="y"/> elsewhere, with broadcasting.</summary>
    public static Tensor Where(Tensor condition, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(condition);
        int[] shape = ShapeUtil.Broadcast("Where", ShapeUtil.Broadcast("Where", condition.shape, x.shape), y.shape);
        float[] c = condition.BroadcastData(shape), xd = x.BroadcastData(shape), yd = y.BroadcastData(shape);
        var r = Uninitialized(shape);
        var d = r.data;
        for (int i = 0; i < d.Length; i++) d[i] = c[i] != 0f ? xd[i] : yd[i];
        if (GradientTape.IsRecording)
            GradientTape.Record("Where", r, static (g, n) =>
            {
                Tensor zero = Scalar(0f);
                return [null, Where(n.Inputs[0], g, zero).SumTo(n.Inputs[1].shape), Where(n.Inputs[0], zero, g).SumTo(n.Inputs[2].shape)];
            }, condition, x, y);
        return r;
    }

    /// <summary>This tensor's data laid out in <paramref name="target"/> shape (no copy when already that shape).</summary>
    private float[] BroadcastData(int[] target)
    {
        if (ShapeUtil.SameShape(shape, target)) return data;
        var r = new float[ShapeUtil.Count(target)];
        Broadcast.Apply<AddOperator>(data, shape, [0f], [], r, target);
        return r;
    }

    /// <summary>This tensor broadcast to <paramref name="target"/> shape (NumPy's <c>broadcast_to</c>).</summary>
    public Tensor BroadcastTo(params int[] target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!ShapeUtil.SameShape(ShapeUtil.Broadcast("BroadcastTo", shape, target), target))
            throw new ArgumentException($"BroadcastTo: shape {ShapeUtil.Format(shape)} cannot be broadcast to {ShapeUtil.Format(target)}.");
        var r = new Tensor(ShapeUtil.SameShape(shape, target) ? (float[])data.Clone() : BroadcastData(target), (int[])target.Clone());
        if (GradientTape.IsRecording)
            GradientTape.Record("BroadcastTo", r, static (g, n) => [g.SumTo(n.X.shape)], this);
        return r;
    }

    /// <summary>Comparison producing a 0/1 mask; not differentiable.</summary>
    internal static Tensor Compare<TOp>(string op, Tensor a, Tensor b) where TOp : IBinaryOperator => Binary<TOp>(op, a, b);

    /// <summary>1 where <c>a &gt; b</c>, else 0 (broadcasting).</summary>
    public static Tensor Greater(Tensor a, Tensor b) => Compare<GreaterOperator>("Greater", a, b);
    /// <summary>1 where <c>a ≥ b</c>, else 0 (broadcasting).</summary>
    public static Tensor GreaterEqual(Tensor a, Tensor b) => Compare<GreaterEqualOperator>("GreaterEqual", a, b);
    /// <summary>1 where <c>a &lt; b</c>, else 0 (broadcasting).</summary>
    public static Tensor Less(Tensor a, Tensor b) => Compare<GreaterOperator>("Less", b, a);
    /// <summary>1 where <c>a ≤ b</c>, else 0 (broadcasting).</summary>
    public static Tensor LessEqual(Tensor a, Tensor b) => Compare<GreaterEqualOperator>("LessEqual", b, a);
    /// <summary>1 where <c>a == b</c>, else 0 (broadcasting).</summary>
    public static Tensor Equal(Tensor a, Tensor b) => Compare<EqualOperator>("Equal", a, b);
    /// <summary>1 where <c>a != b</c>, else 0 (broadcasting).</summary>
    public static Tensor NotEqual(Tensor a, Tensor b) => Compare<NotEqualOperator>("NotEqual", a, b);

    /// <summary>Element-wise sum.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Add(a, b);
    /// <summary>Adds a scalar to every element.</summary>
    public static Tensor operator +(Tensor a, float b) => Add(a, Scalar(b));
    /// <summary>Adds a scalar to every element.</summary>
    public static Tensor operator +(float a, Tensor b) => Add(Scalar(a), b);
    /// <summary>Element-wise difference.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Subtract(a, b);
    /// <summary>Subtracts a scalar from every element.</summary>
    public static Tensor operator -(Tensor a, float b) => Subtract(a, Scalar(b));
    /// <summary>Subtracts every element from a scalar.</summary>
    public static Tensor operator -(float a, Tensor b) => Subtract(Scalar(a), b);
    /// <summary>Element-wise product.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Multiply(a, b);
    /// <summary>Multiplies every element by a scalar.</summary>
    public static Tensor operator *(Tensor a, float b) => Multiply(a, Scalar(b));
    /// <summary>Multiplies every element by a scalar.</summary>
    public static Tensor operator *(float a, Tensor b) => Multiply(Scalar(a), b);
    /// <summary>Element-wise quotient.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Divide(a, b);
    /// <summary>Divides every element by a scalar.</summary>
    public static Tensor operator /(Tensor a, float b) => Divide(a, Scalar(b));
    /// <summary>Divides a scalar by every element.</summary>
    public static Tensor operator /(float a, Tensor b) => Divide(Scalar(a), b);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Negate();
    /// <summary>1 where <c>a &gt; b</c>, else 0.</summary>
    public static Tensor operator >(Tensor a, Tensor b) => Greater(a, b);
    /// <summary>1 where <c>a &lt; b</c>, else 0.</summary>
    public static Tensor operator <(Tensor a, Tensor b) => Less(a, b);
    /// <summary>1 where <c>a ≥ b</c>, else 0.</summary>
    public static Tensor operator >=(Tensor a, Tensor b) => GreaterEqual(a, b);
    /// <summary>1 where <c>a ≤ b</c>, else 0.</summary>
    public static Tensor operator <=(Tensor a, Tensor b) => LessEqual(a, b);
    /// <summary>1 where <c>a &gt; b</c>, else 0.</summary>
    public static Tensor operator >(Tensor a, float b) => Greater(a, Scalar(b));
    /// <summary>1 where <c>a &lt; b</c>, else 0.</summary>
    public static Tensor operator <(Tensor a, float b) => Less(a, Scalar(b));
    /// <summary>1 where <c>a ≥ b</c>, else 0.</summary>
    public static Tensor operator >=(Tensor a, float b) => GreaterEqual(a, Scalar(b));
    /// <summary>1 where <c>a ≤ b</c>, else 0.</summary>
    public static Tensor operator <=(Tensor a, float b) => LessEqual(a, Scalar(b));
}
