using System.Numerics.Tensors;

namespace Cortex.Activations;

/// <summary>
/// Softmax e^(x − max) / Σ e^(x − max) and log-softmax (x − max) − log Σ e^(x − max) along one axis, on a row-major
/// tensor split around that axis into (outer, length, inner): the tape ops <see cref="NN.Softmax"/> and
/// <see cref="NN.LogSoftmax"/> for any axis, and the "softmax" activation of layers (the last axis: inner = 1, rows of
/// <c>length</c>). Subtracting the maximum first keeps the exponentials finite for any logits; every step is a
/// TensorPrimitives span call over a row (inner = 1) or over whole inner rows (another axis).
/// </summary>
internal sealed class SoftmaxKernel : ActivationKernel
{
    /// <summary>The softmax over the last axis, as the "softmax" activation.</summary>
    public static SoftmaxKernel Instance { get; } = new();

    private SoftmaxKernel() { }

    /// <summary>Softmax's derivative y ⊙ (g − Σ g⊙y) and log-softmax's g − e^y Σ g both come from the output.</summary>
    public override bool DerivativeFromOutput => true;

    public override void Forward(ReadOnlySpan<float> x, Span<float> y, int rowLength)
    {
        if (rowLength > 0) Forward(x, y, x.Length / rowLength, rowLength, 1, log: false);
    }

    public override void AddBiasForward(Span<float> y, ReadOnlySpan<float> bias, int rowLength)
    {
        if (!bias.IsEmpty) ActivationEngine.AddToRows(y, bias);
        Forward(y, y, rowLength);
    }

    public override void Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dx, int rowLength)
    {
        if (rowLength > 0) Backward(g, y, dx, y.Length / rowLength, rowLength, 1, log: false);
    }

    /// <summary>Softmax (or log-softmax) of <paramref name="x"/> into <paramref name="y"/> along the middle axis of
    /// (outer, length, inner). Softmax may run in place; log-softmax reads x after writing y, so it may not.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, int outer, int length, int inner, bool log)
    {
        if (x.IsEmpty) return;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                var row = x.Slice(o * length, length);
                var d = y.Slice(o * length, length);
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
            return;
        }
        // Another axis: work on whole inner rows so that every step is a SIMD span op.
        var max2 = new float[inner];
        var sum = new float[inner];
        for (int o = 0; o < outer; o++)
        {
            var block = x.Slice(o * length * inner, length * inner);
            var d = y.Slice(o * length * inner, length * inner);
            block[..inner].CopyTo(max2);
            for (int k = 1; k < length; k++) TensorPrimitives.Max(max2, block.Slice(k * inner, inner), max2);
            for (int i = 0; i < inner; i++) if (float.IsNegativeInfinity(max2[i])) max2[i] = 0;
            Array.Clear(sum);
            for (int k = 0; k < length; k++)
            {
                var dk = d.Slice(k * inner, inner);
                TensorPrimitives.Subtract(block.Slice(k * inner, inner), max2, dk);
                TensorPrimitives.Exp(dk, dk);
                TensorPrimitives.Add(sum, dk, sum);
            }
            if (log)
            {
                TensorPrimitives.Log(sum, sum);
                for (int k = 0; k < length; k++)
                {
                    var dk = d.Slice(k * inner, inner);
                    TensorPrimitives.Subtract(block.Slice(k * inner, inner), max2, dk);
                    TensorPrimitives.Subtract(dk, sum, dk);
                }
            }
            else
                for (int k = 0; k < length; k++) TensorPrimitives.Divide(d.Slice(k * inner, inner), sum, d.Slice(k * inner, inner));
        }
    }

    /// <summary>dx from g and the output y: softmax's y ⊙ (g − Σ g⊙y), log-softmax's g − e^y Σ g, the sums along the
    /// axis. Softmax may write dx over g; log-softmax may not.</summary>
    public static void Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> y, Span<float> dx, int outer, int length, int inner, bool log)
    {
        if (y.IsEmpty) return;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                var gr = g.Slice(o * length, length);
                var yr = y.Slice(o * length, length);
                var d = dx.Slice(o * length, length);
                if (log)
                {
                    float s = TensorPrimitives.Sum(gr);
                    TensorPrimitives.Exp(yr, d);
                    TensorPrimitives.Multiply(d, s, d);
                    TensorPrimitives.Subtract(gr, d, d);
                }
                else
                {
                    float dot = TensorPrimitives.Dot(gr, yr);
                    TensorPrimitives.Subtract(gr, dot, d);
                    TensorPrimitives.Multiply(d, yr, d);
                }
            }
            return;
        }
        var sum = new float[inner];
        for (int o = 0; o < outer; o++)
        {
            int at = o * length * inner;
            Array.Clear(sum);
            for (int k = 0; k < length; k++)
            {
                var gk = g.Slice(at + k * inner, inner);
                if (log) TensorPrimitives.Add(sum, gk, sum);
                else TensorPrimitives.MultiplyAdd(gk, y.Slice(at + k * inner, inner), sum, sum);
            }
            for (int k = 0; k < length; k++)
            {
                var gk = g.Slice(at + k * inner, inner);
                var yk = y.Slice(at + k * inner, inner);
                var dk = dx.Slice(at + k * inner, inner);
                if (log)
                {
                    TensorPrimitives.Exp(yk, dk);
                    TensorPrimitives.Multiply(dk, sum, dk);
                    TensorPrimitives.Subtract(gk, dk, dk);
                }
                else
                {
                    TensorPrimitives.Subtract(gk, sum, dk);
                    TensorPrimitives.Multiply(dk, yk, dk);
                }
            }
        }
    }
}
