using System.Numerics.Tensors;
using Cortex.Autodiff;

namespace Cortex;

/// <summary>
/// Batch normalisation along one axis: <c>y = γ·(x − μ)/√(σ² + ε) + β</c> per channel, with μ and σ² the batch's
/// mean and biased variance (training) or the moving statistics (inference). The tensor is viewed as
/// (outer, channels, inner); for channels-last data inner is 1 and each row is one SIMD pass over the channels.
/// </summary>
/// <remarks>
/// Backward, with x̂ = (x − μ)/σ and m values per channel: dβ = Σ g, dγ = Σ g·x̂, and in training
/// dx = γ/σ · (g − dβ/m − x̂·dγ/m) (μ and σ depend on x); in inference dx = γ/σ · g.
/// </remarks>
internal static class BatchNormOp
{
    private sealed class State(float[] mean, float[] invStd, bool training, bool hasGamma, int outer, int channels, int inner)
    {
        public readonly float[] Mean = mean, InvStd = invStd;
        public readonly bool Training = training, HasGamma = hasGamma;
        public readonly int Outer = outer, Channels = channels, Inner = inner;
    }

    /// <summary>Normalises x along <paramref name="axis"/>. In training, <paramref name="batchMean"/> and
    /// <paramref name="batchVariance"/> receive the batch statistics (for the moving averages); otherwise they are null.</summary>
    public static Tensor Forward(Tensor x, Tensor? gamma, Tensor? beta, int axis, float epsilon, bool training,
        Tensor movingMean, Tensor movingVariance, out float[]? batchMean, out float[]? batchVariance)
    {
        var (outer, channels, inner) = ShapeUtil.Split(x.ShapeRef, axis);
        long m = (long)outer * inner;
        ReadOnlySpan<float> xs = x.AsSpan();
        var mean = new float[channels];
        var invStd = new float[channels];
        if (training)
        {
            var variance = new float[channels];
            Moments(xs, outer, channels, inner, mean, variance);
            for (int c = 0; c < channels; c++) invStd[c] = 1f / MathF.Sqrt(variance[c] + epsilon);
            batchMean = mean;
            batchVariance = variance;
            if (m == 0) { batchMean = null; batchVariance = null; }
        }
        else
        {
            movingMean.AsSpan().CopyTo(mean);
            for (int c = 0; c < channels; c++) invStd[c] = 1f / MathF.Sqrt(movingVariance.AsSpan()[c] + epsilon);
            batchMean = batchVariance = null;
        }

        // y = x·scale + shift with scale = γ/σ and shift = β − μ·scale, per channel.
        var scale = new float[channels];
        var shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = invStd[c] * (gamma == null ? 1f : gamma.AsSpan()[c]);
            shift[c] = (beta == null ? 0f : beta.AsSpan()[c]) - mean[c] * scale[c];
        }
        var y = Tensor.Uninitialized(x.ShapeRef);
        Span<float> ys = y.Span;
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                var row = ys.Slice(o * channels, channels);
                TensorPrimitives.FusedMultiplyAdd(xs.Slice(o * channels, channels), scale, shift, row);
                continue;
            }
            for (int c = 0; c < channels; c++)
            {
                int at = (o * channels + c) * inner;
                var d = ys.Slice(at, inner);
                TensorPrimitives.Multiply(xs.Slice(at, inner), scale[c], d);
                TensorPrimitives.Add(d, shift[c], d);
            }
        }

        if (GradientTape.IsRecording)
        {
            List<Tensor> inputs = [x];
            if (gamma != null) inputs.Add(gamma);
            if (beta != null) inputs.Add(beta);
            var node = GradientTape.Record("BatchNormalization", y, Backward, [.. inputs]);
            if (node != null) node.State = new State(mean, invStd, training, gamma != null, outer, channels, inner);
        }
        return y;
    }

    /// <summary>Per-channel mean and biased variance (two passes, accumulated in double).</summary>
    private static void Moments(ReadOnlySpan<float> x, int outer, int channels, int inner, float[] mean, float[] variance)
    {
        long m = (long)outer * inner;
        var sum = new double[channels];
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                if (inner == 1) { sum[c] += x[o * channels + c]; continue; }
                sum[c] += TensorPrimitives.Sum(x.Slice((o * channels + c) * inner, inner));
            }
        for (int c = 0; c < channels; c++) mean[c] = m == 0 ? float.NaN : (float)(sum[c] / m);
        Array.Clear(sum);
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                int at = (o * channels + c) * inner;
                for (int i = 0; i < inner; i++)
                {
                    double d = x[at + i] - (double)mean[c];
                    sum[c] += d * d;
                }
            }
        for (int c = 0; c < channels; c++) variance[c] = m == 0 ? float.NaN : (float)(sum[c] / m);
    }

    private static Tensor?[] Backward(Tensor g, TapeNode node)
    {
        var s = (State)node.State!;
        Tensor x = node.Inputs[0];
        bool hasGamma = s.HasGamma;
        Tensor? gamma = hasGamma ? node.Inputs[1] : null;
        bool hasBeta = node.Inputs.Length == (hasGamma ? 3 : 2);
        int outer = s.Outer, channels = s.Channels, inner = s.Inner;
        ReadOnlySpan<float> xs = x.AsSpan(), gs = g.AsSpan();

        // Σ g and Σ g·x̂ per channel, in double.
        var sumG = new double[channels];
        var sumGx = new double[channels];
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                int at = (o * channels + c) * inner;
                float mu = s.Mean[c], inv = s.InvStd[c];
                for (int i = 0; i < inner; i++)
                {
                    float gi = gs[at + i];
                    sumG[c] += gi;
                    sumGx[c] += gi * ((xs[at + i] - mu) * inv);
                }
            }

        var dx = Tensor.Uninitialized(x.ShapeRef);
        Span<float> dxs = dx.Span;
        double m = (double)outer * inner;
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                int at = (o * channels + c) * inner;
                float mu = s.Mean[c], inv = s.InvStd[c];
                float k = inv * (gamma == null ? 1f : gamma.AsSpan()[c]);
                float meanG = s.Training ? (float)(sumG[c] / m) : 0f;
                float meanGx = s.Training ? (float)(sumGx[c] / m) : 0f;
                for (int i = 0; i < inner; i++)
                {
                    float xhat = (xs[at + i] - mu) * inv;
                    dxs[at + i] = k * (gs[at + i] - meanG - xhat * meanGx);
                }
            }

        var grads = new List<Tensor?> { dx };
        if (hasGamma) grads.Add(Tensor.FromArray([.. sumGx.Select(v => (float)v)]));
        if (hasBeta) grads.Add(Tensor.FromArray([.. sumG.Select(v => (float)v)]));
        return [.. grads];
    }
}
