using System.Numerics.Tensors;
using Cortex.Autodiff;

namespace Cortex;

/// <summary>
/// Activation functions as tensor functions, mirroring <c>tf.nn</c>. All are differentiable and numerically stable
/// for large |x| (softmax of logits ±1000 gives no inf or NaN).
/// </summary>
/// <example>
/// <code>
/// Tensor probs = NN.Softmax(Tensor.FromArray(new float[] { 6, -2, 3 }));   // [0.95227 0.00031945 0.047411]
/// </code>
/// </example>
public static class NN
{
    /// <summary>SELU's α and scale (Klambauer et al. 2017), the constants Keras and PyTorch use.</summary>
    public const float SeluAlpha = 1.6732632423543772f, SeluScale = 1.0507009873554805f;

    /// <summary>The logistic function σ(x) = 1 / (1 + e^−x).</summary>
    public static Tensor Sigmoid(Tensor x)
    {
        var r = x.Map(TensorPrimitives.Sigmoid);
        if (GradientTape.IsRecording)
            GradientTape.Record("Sigmoid", r, static (g, n) => [Backward(g, n.Output, n.X, static (y, _) => y * (1f - y), 0)], x);
        return r;
    }

    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x)
    {
        var r = x.Map(TensorPrimitives.Tanh);
        if (GradientTape.IsRecording)
            GradientTape.Record("Tanh", r, static (g, n) => [Backward(g, n.Output, n.X, static (y, _) => 1f - y * y, 0)], x);
        return r;
    }

    /// <summary>max(x, 0). The gradient at 0 is 0.</summary>
    public static Tensor Relu(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = Tensor.Uninitialized(x.Size, x.ShapeRef);
        TensorPrimitives.Max(x.AsSpan(), 0f, r.Span);
        if (GradientTape.IsRecording)
            GradientTape.Record("Relu", r, static (g, n) => [Backward(g, n.X, n.X, static (v, _) => v > 0 ? 1f : 0f, 0)], x);
        return r;
    }

    /// <summary>x for x &gt; 0, αx otherwise. Keras's default slope is 0.2 (PyTorch's is 0.01).</summary>
    public static Tensor LeakyRelu(Tensor x, float alpha = 0.2f)
    {
        var r = Pointwise(x, alpha, static (v, a) => v > 0 ? v : a * v);
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("LeakyRelu", r, static (g, n) => [Backward(g, n.X, n.X, static (v, a) => v > 0 ? 1f : a, n.Alpha)], x);
            if (node != null) node.Alpha = alpha;
        }
        return r;
    }

    /// <summary>x for x &gt; 0, α(e^x − 1) otherwise.</summary>
    public static Tensor Elu(Tensor x, float alpha = 1f)
    {
        var r = Pointwise(x, alpha, static (v, a) => v > 0 ? v : a * (MathF.Exp(v) - 1f));
        if (GradientTape.IsRecording)
        {
            // For x ≤ 0, d/dx α(e^x − 1) = αe^x = y + α; PyTorch takes this branch at x = 0 too.
            var node = GradientTape.Record("Elu", r, static (g, n) =>
                [Backward2(g, n.X, n.Output, n.Alpha, static (v, y, a) => v > 0 ? 1f : y + a)], x);
            if (node != null) node.Alpha = alpha;
        }
        return r;
    }

    /// <summary>Scaled ELU: scale·x for x &gt; 0, scale·α(e^x − 1) otherwise, with the self-normalising constants.</summary>
    public static Tensor Selu(Tensor x)
    {
        var r = Pointwise(x, 0, static (v, _) => v > 0 ? SeluScale * v : SeluScale * SeluAlpha * (MathF.Exp(v) - 1f));
        if (GradientTape.IsRecording)
            GradientTape.Record("Selu", r, static (g, n) =>
                [Backward2(g, n.X, n.Output, 0, static (v, y, _) => v > 0 ? SeluScale : y + SeluScale * SeluAlpha)], x);
        return r;
    }

    /// <summary>log(1 + e^x), computed as max(x, 0) + log1p(e^−|x|) so it neither overflows nor loses small values.</summary>
    public static Tensor Softplus(Tensor x)
    {
        var r = Pointwise(x, 0, static (v, _) => MathF.Max(v, 0f) + Log1p(MathF.Exp(-MathF.Abs(v))));
        if (GradientTape.IsRecording)
            GradientTape.Record("Softplus", r, static (g, n) => [g * Sigmoid(n.X)], x);
        return r;
    }

    /// <summary>log(1 + y) accurate for small y (where 1 + y would round to 1).</summary>
    internal static float Log1p(float y) => y < 1e-4f ? y * (1f - y * (0.5f - y / 3f)) : (float)Math.Log(1.0 + y);

    /// <summary>
    /// Softmax along <paramref name="axis"/>: e^(x − max) / Σ e^(x − max). Subtracting the maximum first keeps the
    /// exponentials finite for any logits.
    /// </summary>
    public static Tensor Softmax(Tensor x, int axis = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        int a = ShapeUtil.Axis("Softmax", axis, x.Rank);
        var r = SoftmaxCore(x, a, log: false);
        if (GradientTape.IsRecording)
        {
            // dx = y ⊙ (g − Σ g⊙y)
            var node = GradientTape.Record("Softmax", r, static (g, n) =>
            {
                Tensor y = n.Output;
                return [y * (g - (g * y).Sum(n.Axis, keepDims: true))];
            }, x);
            if (node != null) node.Axis = a;
        }
        return r;
    }

    /// <summary>log(softmax(x)) computed directly as x − max − log Σ e^(x − max) (log-sum-exp), finite for any logits.</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        int a = ShapeUtil.Axis("LogSoftmax", axis, x.Rank);
        var r = SoftmaxCore(x, a, log: true);
        if (GradientTape.IsRecording)
        {
            // dx = g − softmax(x) · Σ g
            var node = GradientTape.Record("LogSoftmax", r, static (g, n) => [g - n.Output.Exp() * g.Sum(n.Axis, keepDims: true)], x);
            if (node != null) node.Axis = a;
        }
        return r;
    }

    private static Tensor SoftmaxCore(Tensor x, int axis, bool log)
    {
        int[] shape = x.ShapeRef;
        var r = Tensor.Uninitialized(x.Size, shape);
        if (x.Size == 0) return r;
        var (outer, len, inner) = ShapeUtil.Split(shape, axis);
        ReadOnlySpan<float> src = x.AsSpan();
        Span<float> dst = r.Span;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                var row = src.Slice(o * len, len);
                var d = dst.Slice(o * len, len);
                float max = TensorPrimitives.Max(row);
                if (float.IsNegativeInfinity(max)) max = 0; // all −inf: keep −inf − 0 rather than NaN from −inf − (−inf)
                TensorPrimitives.Subtract(row, max, d);
                if (log)
                {
                    // Σ e^(x−max) needs a scratch pass; reuse d, then overwrite with (x − max) − log Σ. Subtracting
                    // in two steps matters: max + log Σ rounded as one float loses digits when |max| is large.
                    TensorPrimitives.Exp(d, d);
                    float lse = MathF.Log(TensorPrimitives.Sum(d));
                    TensorPrimitives.Subtract(row, max, d);
                    TensorPrimitives.Subtract(d, lse, d);
                }
                else
                {
                    TensorPrimitives.Exp(d, d);
                    TensorPrimitives.Divide(d, TensorPrimitives.Sum(d), d);
                }
            }
            return r;
        }
        // Softmax across a non-last axis: work on whole inner rows so every step is a SIMD span op.
        var max2 = new float[inner];
        var sum = new float[inner];
        for (int o = 0; o < outer; o++)
        {
            var block = src.Slice(o * len * inner, len * inner);
            var d = dst.Slice(o * len * inner, len * inner);
            block[..inner].CopyTo(max2);
            for (int k = 1; k < len; k++) TensorPrimitives.Max(max2, block.Slice(k * inner, inner), max2);
            for (int i = 0; i < inner; i++) if (float.IsNegativeInfinity(max2[i])) max2[i] = 0;
            Array.Clear(sum);
            for (int k = 0; k < len; k++)
            {
                var dk = d.Slice(k * inner, inner);
                TensorPrimitives.Subtract(block.Slice(k * inner, inner), max2, dk);
                TensorPrimitives.Exp(dk, dk);
                TensorPrimitives.Add(sum, dk, sum);
            }
            if (log)
            {
                TensorPrimitives.Log(sum, sum);
                for (int k = 0; k < len; k++)
                {
                    var dk = d.Slice(k * inner, inner);
                    TensorPrimitives.Subtract(block.Slice(k * inner, inner), max2, dk);
                    TensorPrimitives.Subtract(dk, sum, dk);
                }
            }
            else
                for (int k = 0; k < len; k++) TensorPrimitives.Divide(d.Slice(k * inner, inner), sum, d.Slice(k * inner, inner));
        }
        return r;
    }

    private static Tensor Pointwise(Tensor x, float alpha, Func<float, float, float> f)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = Tensor.Uninitialized(x.Size, x.ShapeRef);
        ReadOnlySpan<float> s = x.AsSpan();
        Span<float> d = r.Span;
        for (int i = 0; i < s.Length; i++) d[i] = f(s[i], alpha);
        return r;
    }

    /// <summary>g ⊙ f'(v) where the local derivative depends on one saved tensor (input or output).</summary>
    private static Tensor Backward(Tensor g, Tensor saved, Tensor shapeOf, Func<float, float, float> derivative, float alpha)
    {
        var r = Tensor.Uninitialized(shapeOf.Size, shapeOf.ShapeRef);
        ReadOnlySpan<float> gs = g.AsSpan(), vs = saved.AsSpan();
        Span<float> d = r.Span;
        for (int i = 0; i < d.Length; i++) d[i] = gs[i] * derivative(vs[i], alpha);
        return r;
    }

    /// <summary>g ⊙ f'(x, y) where the local derivative needs both the input and the output.</summary>
    private static Tensor Backward2(Tensor g, Tensor x, Tensor y, float alpha, Func<float, float, float, float> derivative)
    {
        var r = Tensor.Uninitialized(x.Size, x.ShapeRef);
        ReadOnlySpan<float> gs = g.AsSpan(), xs = x.AsSpan(), ys = y.AsSpan();
        Span<float> d = r.Span;
        for (int i = 0; i < d.Length; i++) d[i] = gs[i] * derivative(xs[i], ys[i], alpha);
        return r;
    }
}
