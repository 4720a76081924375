using System.Numerics.Tensors;
using Cortex.Autodiff;

namespace Cortex;

// Element-wise unary math. Forward passes are single TensorPrimitives calls (SIMD); each gradient rule sits beside.
public partial class Tensor
{
    /// <summary>A fresh tensor of this shape filled by a span kernel.</summary>
    internal Tensor Map(SpanAction kernel)
    {
        var r = Uninitialized(data.Length, shape);
        kernel(data, r.data);
        return r;
    }

    internal delegate void SpanAction(ReadOnlySpan<float> x, Span<float> destination);

    /// <summary>Negation, element-wise.</summary>
    public Tensor Negate()
    {
        var r = Map(TensorPrimitives.Negate);
        if (GradientTape.IsRecording) GradientTape.Record("Negate", r, static (g, n) => [g.Negate()], this);
        return r;
    }

    /// <summary>e^x, element-wise.</summary>
    public Tensor Exp()
    {
        var r = Map(TensorPrimitives.Exp);
        if (GradientTape.IsRecording) GradientTape.Record("Exp", r, static (g, n) => [g * n.Output], this);
        return r;
    }

    /// <summary>Natural logarithm, element-wise (log 0 = −inf, log of a negative = NaN).</summary>
    public Tensor Log()
    {
        var r = Map(TensorPrimitives.Log);
        if (GradientTape.IsRecording) GradientTape.Record("Log", r, static (g, n) => [g / n.X], this);
        return r;
    }

    /// <summary>Absolute value, element-wise. Its gradient at 0 is 0, as in PyTorch.</summary>
    public Tensor Abs()
    {
        var r = Map(TensorPrimitives.Abs);
        if (GradientTape.IsRecording) GradientTape.Record("Abs", r, static (g, n) => [g * n.X.Sign()], this);
        return r;
    }

    /// <summary>−1, 0 or 1 by the sign of each element (NaN stays NaN); not differentiable.</summary>
    public Tensor Sign()
    {
        var r = Uninitialized(data.Length, shape);
        for (int i = 0; i < data.Length; i++)
        {
            float v = data[i];
            r.data[i] = v > 0 ? 1f : v < 0 ? -1f : v; // keeps ±0 and NaN
        }
        return r;
    }

    /// <summary>Square root, element-wise.</summary>
    public Tensor Sqrt()
    {
        var r = Map(TensorPrimitives.Sqrt);
        if (GradientTape.IsRecording) GradientTape.Record("Sqrt", r, static (g, n) => [g / (n.Output * 2f)], this);
        return r;
    }

    /// <summary>x², element-wise.</summary>
    public Tensor Square()
    {
        var r = Uninitialized(data.Length, shape);
        TensorPrimitives.Multiply(data, data, r.data);
        if (GradientTape.IsRecording) GradientTape.Record("Square", r, static (g, n) => [g * n.X * 2f], this);
        return r;
    }

    /// <summary>Limits every element to [<paramref name="min"/>, <paramref name="max"/>]. The gradient passes where
    /// min ≤ x ≤ max (inclusive, as PyTorch's clamp) and is 0 outside.</summary>
    /// <exception cref="ArgumentException"><paramref name="min"/> is greater than <paramref name="max"/>.</exception>
    public Tensor Clip(float min, float max)
    {
        if (min > max) throw new ArgumentException($"Clip: min must not exceed max. Received: min={min}, max={max}");
        var r = Uninitialized(data.Length, shape);
        TensorPrimitives.Max(data, min, r.data);
        TensorPrimitives.Min(r.data, max, r.data);
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("Clip", r, static (g, n) =>
            {
                var (lo, hi) = ((float, float))n.State!;
                var mask = Uninitialized(n.X.data.Length, n.X.shape);
                var x = n.X.data;
                for (int i = 0; i < x.Length; i++) mask.data[i] = x[i] >= lo && x[i] <= hi ? 1f : 0f;
                return [g * mask];
            }, this);
            if (node != null) node.State = (min, max);
        }
        return r;
    }
}
