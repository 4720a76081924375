using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Cortex.Kernels;

namespace Cortex;

/// <summary>
/// Batch normalisation along one axis: <c>y = γ·(x − μ)/√(σ² + ε) + β</c> per channel, with μ and σ² the batch's
/// mean and biased variance (training) or the moving statistics (inference). The tensor is viewed as
/// (outer, channels, inner); for channels-last data inner is 1 and each row is one SIMD pass over the channels.
/// </summary>
/// <remarks>
/// Backward, with x̂ = (x − μ)/σ and m values per channel: dβ = Σ g, dγ = Σ g·x̂, and in training
/// dx = γ/σ · (g − dβ/m − x̂·dγ/m) (μ and σ depend on x); in inference dx = γ/σ · g. The kernels work on spans with
/// caller-given scratch, so the fused training step (<see cref="Models.FusedTrainStep"/>) runs the same arithmetic
/// without allocating; sums over the batch are carried in double.
/// </remarks>
internal static class BatchNormOp
{
    /// <summary>
    /// y = γ·(x − μ)/√(σ² + ε) + β over the channels of x (outer × channels × inner), on spans: in training with the
    /// batch's statistics (written to <paramref name="mean"/> and <paramref name="variance"/> for the moving averages),
    /// otherwise with the moving ones. <paramref name="invStd"/> receives 1/√(σ² + ε) for backward;
    /// <paramref name="scale"/> and <paramref name="shift"/> are per-channel scratch. The forward of
    /// <see cref="Layers.BatchNormStage"/>, which is also the layer's tape op.
    /// </summary>
    internal static void ForwardCore(ReadOnlySpan<float> x, int outer, int channels, int inner, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        float epsilon, bool training, ReadOnlySpan<float> movingMean, ReadOnlySpan<float> movingVariance,
        Span<float> mean, Span<float> variance, Span<float> invStd, Span<float> scale, Span<float> shift, Span<double> scratch, Span<float> y)
    {
        if (training)
        {
            Moments(x, outer, channels, inner, mean, variance, scratch);
            InverseStd(variance, epsilon, invStd);
        }
        else
        {
            movingMean.CopyTo(mean);
            InverseStd(movingVariance, epsilon, invStd);
        }
        ScaleAndShift(mean, invStd, gamma, beta, scale, shift);
        Normalize(x, outer, channels, inner, scale, shift, y);
    }

    /// <summary>1/√(σ² + ε) per channel.</summary>
    internal static void InverseStd(ReadOnlySpan<float> variance, float epsilon, Span<float> invStd)
    {
        for (int c = 0; c < variance.Length; c++) invStd[c] = 1f / MathF.Sqrt(variance[c] + epsilon);
    }

    /// <summary>y = x·scale + shift with scale = γ/σ and shift = β − μ·scale, per channel (γ = 1, β = 0 when empty).</summary>
    internal static void ScaleAndShift(ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, Span<float> scale, Span<float> shift)
    {
        for (int c = 0; c < mean.Length; c++)
        {
            scale[c] = invStd[c] * (gamma.IsEmpty ? 1f : gamma[c]);
            shift[c] = (beta.IsEmpty ? 0f : beta[c]) - mean[c] * scale[c];
        }
    }

    /// <summary>y = x·scale[c] + shift[c] over the (outer, channels, inner) view.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Normalize(ReadOnlySpan<float> xs, int outer, int channels, int inner, ReadOnlySpan<float> scale,
        ReadOnlySpan<float> shift, Span<float> ys)
    {
        if (inner == 1)
        {
            fixed (float* px = xs, py = ys, pScale = scale, pShift = shift)
            {
                var job = new Job { X = px, Out = py, Scale = pScale, Shift = pShift, Channels = channels, Kind = Pass.Normalize };
                RunHalves(&job, outer);
            }
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                int at = (o * channels + c) * inner;
                var d = ys.Slice(at, inner);
                TensorPrimitives.Multiply(xs.Slice(at, inner), scale[c], d);
                TensorPrimitives.Add(d, shift[c], d);
            }
        }
    }

    /// <summary>Per-channel mean and biased variance (two passes, accumulated in double). <paramref name="scratch"/>
    /// holds 2·channels doubles: for channels-last data each pass keeps one partial sum per row half
    /// (<see cref="PerImage.RunHalves"/>) and adds the two, on any number of cores. With no values both are NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Moments(ReadOnlySpan<float> x, int outer, int channels, int inner, Span<float> mean, Span<float> variance, Span<double> scratch)
    {
        long m = (long)outer * inner;
        if (inner == 1)
        {
            fixed (float* px = x, pm = mean)
            fixed (double* ps = scratch)
            {
                var job = new Job { X = px, Mean = pm, HalfA = ps, HalfB = ps + channels, Channels = channels, Kind = Pass.Sums };
                scratch[..(2 * channels)].Clear();
                RunHalves(&job, outer);
                for (int c = 0; c < channels; c++) mean[c] = m == 0 ? float.NaN : (float)((ps[c] + ps[channels + c]) / m);
                scratch[..(2 * channels)].Clear();
                job.Kind = Pass.SquaredDeviations;
                RunHalves(&job, outer);
                for (int c = 0; c < channels; c++) variance[c] = m == 0 ? float.NaN : (float)((ps[c] + ps[channels + c]) / m);
            }
            return;
        }
        Span<double> sum = scratch[..channels];
        sum.Clear();
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
                sum[c] += TensorPrimitives.Sum(x.Slice((o * channels + c) * inner, inner));
        for (int c = 0; c < channels; c++) mean[c] = m == 0 ? float.NaN : (float)(sum[c] / m);
        sum.Clear();
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

    private enum Pass { Sums, SquaredDeviations, GradientSums, Normalize, InputGradient }

    /// <summary>One channels-last pass over a rows × channels matrix, for <see cref="PerImage.RunHalves"/>.</summary>
    private unsafe struct Job
    {
        public float* X, G, Out, Mean, InvStd, K, MeanG, MeanGx, Scale, Shift;
        /// <summary>The partial sums of the first and the second row half: channels doubles (Σ x, Σ (x − μ)²) or
        /// 2·channels (Σ g, then Σ g·x̂).</summary>
        public double* HalfA, HalfB;
        public int Channels, Mid;
        public Pass Kind;
    }

    private static unsafe void RunHalves(Job* job, int rows)
    {
        job->Mid = PerImage.RowSplit(rows) * job->Channels;
        PerImage.RunHalves(&Range, job, rows, job->Channels);
    }

    /// <summary>Elements [lo, hi) (whole rows, within one half) of a pass.</summary>
    private static unsafe void Range(void* state, int lo, int hi)
    {
        var j = (Job*)state;
        int c = j->Channels, n = hi - lo, rows = n / c;
        if (rows == 0) return;
        double* half = lo < j->Mid ? j->HalfA : j->HalfB;
        var x = new ReadOnlySpan<float>(j->X + lo, n);
        switch (j->Kind)
        {
            case Pass.Sums:
                ChannelsLastSums(x, rows, new Span<double>(half, c), default);
                break;
            case Pass.SquaredDeviations:
                ChannelsLastSums(x, rows, new Span<double>(half, c), new ReadOnlySpan<float>(j->Mean, c));
                break;
            case Pass.GradientSums:
                ChannelsLastGradientSums(x, new ReadOnlySpan<float>(j->G + lo, n), rows, new ReadOnlySpan<float>(j->Mean, c),
                    new ReadOnlySpan<float>(j->InvStd, c), new Span<double>(half, c), new Span<double>(half + c, c));
                break;
            case Pass.Normalize:
                ChannelsLastNormalize(x, rows, new ReadOnlySpan<float>(j->Scale, c), new ReadOnlySpan<float>(j->Shift, c), new Span<float>(j->Out + lo, n));
                break;
            case Pass.InputGradient:
                ChannelsLastInputGradient(x, new ReadOnlySpan<float>(j->G + lo, n), rows, new ReadOnlySpan<float>(j->Mean, c),
                    new ReadOnlySpan<float>(j->InvStd, c), new ReadOnlySpan<float>(j->K, c), new ReadOnlySpan<float>(j->MeanG, c),
                    new ReadOnlySpan<float>(j->MeanGx, c), new Span<float>(j->Out + lo, n));
                break;
        }
    }

    /// <summary>y[r, c] = x[r, c]·scale[c] + shift[c] (one rounding) for a rows × channels matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelsLastNormalize(ReadOnlySpan<float> xs, int rows, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Span<float> ys)
    {
        int channels = scale.Length, lanes = Vector<float>.Count;
        int vec = Vector.IsHardwareAccelerated ? channels - channels % lanes : 0;
        ref float x0 = ref MemoryMarshal.GetReference(xs), y0 = ref MemoryMarshal.GetReference(ys);
        ref float sc = ref MemoryMarshal.GetReference(scale), sh = ref MemoryMarshal.GetReference(shift);
        for (int r = 0; r < rows; r++)
        {
            nuint at = (nuint)r * (nuint)channels;
            for (int c = 0; c < vec; c += lanes)
                Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref x0, at + (nuint)c), Vector.LoadUnsafe(ref sc, (nuint)c),
                    Vector.LoadUnsafe(ref sh, (nuint)c)).StoreUnsafe(ref y0, at + (nuint)c);
            for (int c = vec; c < channels; c++)
                Unsafe.Add(ref y0, at + (nuint)c) = MathF.FusedMultiplyAdd(Unsafe.Add(ref x0, at + (nuint)c), scale[c], shift[c]);
        }
    }

    /// <summary>
    /// Column sums of a rows × channels matrix in double, added to <paramref name="sum"/>: Σ x when
    /// <paramref name="mean"/> is empty, Σ (x − μ)² (in double) when it is given. The rows are read once, in order,
    /// each SIMD across the channels (lane c is channel c), so each channel's sum runs over the rows in order, as the
    /// scalar loop would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelsLastSums(ReadOnlySpan<float> x, int rows, Span<double> sum, ReadOnlySpan<float> mean)
    {
        int channels = sum.Length, lanes = Vector<float>.Count, half = Vector<double>.Count;
        int vec = Vector.IsHardwareAccelerated ? channels - channels % lanes : 0;
        bool squares = !mean.IsEmpty;
        ref float x0 = ref MemoryMarshal.GetReference(x), m0 = ref MemoryMarshal.GetReference(mean);
        ref double s0 = ref MemoryMarshal.GetReference(sum);
        for (int r = 0; r < rows; r++)
        {
            nuint at = (nuint)r * (nuint)channels;
            for (int c = 0; c < vec; c += lanes)
            {
                Vector.Widen(Vector.LoadUnsafe(ref x0, at + (nuint)c), out var a, out var b);
                if (squares)
                {
                    Vector.Widen(Vector.LoadUnsafe(ref m0, (nuint)c), out var ma, out var mb);
                    a -= ma;
                    b -= mb;
                    a *= a;
                    b *= b;
                }
                (Vector.LoadUnsafe(ref s0, (nuint)c) + a).StoreUnsafe(ref s0, (nuint)c);
                (Vector.LoadUnsafe(ref s0, (nuint)(c + half)) + b).StoreUnsafe(ref s0, (nuint)(c + half));
            }
            for (int c = vec; c < channels; c++)
            {
                double d = Unsafe.Add(ref x0, at + (nuint)c);
                if (squares)
                {
                    d -= mean[c];
                    d *= d;
                }
                sum[c] += d;
            }
        }
    }

    /// <summary>
    /// The backward pass on spans: Σ g into <paramref name="sumG"/> and Σ g·x̂ into <paramref name="sumGx"/> (double,
    /// channels long: dβ and dγ), then, when <paramref name="dx"/> is not empty, the input gradient. γ = 1 when empty.
    /// <paramref name="scratch"/> holds 4·channels doubles (channels last: the two row halves' partial sums).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void BackwardCore(ReadOnlySpan<float> xs, ReadOnlySpan<float> gs, int outer, int channels, int inner,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, bool training, Span<float> dx,
        Span<double> sumG, Span<double> sumGx, Span<double> scratch, Span<float> k, Span<float> meanG, Span<float> meanGx)
    {
        fixed (float* px = xs, pg = gs, pdx = dx, pm = mean, pInv = invStd, pk = k, pmg = meanG, pmgx = meanGx)
        fixed (double* ps = scratch)
        {
            var job = new Job
            {
                X = px, G = pg, Out = pdx, Mean = pm, InvStd = pInv, K = pk, MeanG = pmg, MeanGx = pmgx,
                HalfA = ps, HalfB = ps + 2 * channels, Channels = channels, Kind = Pass.GradientSums,
            };
            if (inner == 1)
            {
                scratch[..(4 * channels)].Clear();
                RunHalves(&job, outer);
                for (int c = 0; c < channels; c++)
                {
                    sumG[c] = ps[c] + ps[2 * channels + c];
                    sumGx[c] = ps[channels + c] + ps[3 * channels + c];
                }
            }
            else
            {
                sumG.Clear();
                sumGx.Clear();
                for (int o = 0; o < outer; o++)
                    for (int c = 0; c < channels; c++)
                    {
                        int at = (o * channels + c) * inner;
                        float mu = mean[c], inv = invStd[c];
                        for (int i = 0; i < inner; i++)
                        {
                            float gi = gs[at + i];
                            sumG[c] += gi;
                            sumGx[c] += gi * ((xs[at + i] - mu) * inv);
                        }
                    }
            }
            if (dx.IsEmpty) return;

            double m = (double)outer * inner;
            for (int c = 0; c < channels; c++)
            {
                k[c] = invStd[c] * (gamma.IsEmpty ? 1f : gamma[c]);
                meanG[c] = training ? (float)(sumG[c] / m) : 0f;
                meanGx[c] = training ? (float)(sumGx[c] / m) : 0f;
            }
            if (inner == 1)
            {
                job.Kind = Pass.InputGradient;
                RunHalves(&job, outer);
                return;
            }
        }
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                int at = (o * channels + c) * inner;
                float mu = mean[c], inv = invStd[c], kc = k[c], mg = meanG[c], mgx = meanGx[c];
                for (int i = 0; i < inner; i++)
                {
                    float xhat = (xs[at + i] - mu) * inv;
                    dx[at + i] = kc * (gs[at + i] - mg - xhat * mgx);
                }
            }
    }

    /// <summary>Σ g and Σ g·x̂ per channel for channels-last data, added to the sums: x̂ and g·x̂ in float, as the
    /// general loop, summed in double, the rows read once and in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelsLastGradientSums(ReadOnlySpan<float> xs, ReadOnlySpan<float> gs, int rows, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> invStd, Span<double> sumG, Span<double> sumGx)
    {
        int channels = sumG.Length, lanes = Vector<float>.Count, half = Vector<double>.Count;
        int vec = Vector.IsHardwareAccelerated ? channels - channels % lanes : 0;
        ref float x0 = ref MemoryMarshal.GetReference(xs), g0 = ref MemoryMarshal.GetReference(gs);
        ref float mu0 = ref MemoryMarshal.GetReference(mean), inv0 = ref MemoryMarshal.GetReference(invStd);
        ref double sg = ref MemoryMarshal.GetReference(sumG), sgx = ref MemoryMarshal.GetReference(sumGx);
        for (int r = 0; r < rows; r++)
        {
            nuint at = (nuint)r * (nuint)channels;
            for (int c = 0; c < vec; c += lanes)
            {
                nuint cu = (nuint)c, ch = (nuint)(c + half);
                var g = Vector.LoadUnsafe(ref g0, at + cu);
                var gx = g * ((Vector.LoadUnsafe(ref x0, at + cu) - Vector.LoadUnsafe(ref mu0, cu)) * Vector.LoadUnsafe(ref inv0, cu));
                Vector.Widen(g, out var a, out var b);
                (Vector.LoadUnsafe(ref sg, cu) + a).StoreUnsafe(ref sg, cu);
                (Vector.LoadUnsafe(ref sg, ch) + b).StoreUnsafe(ref sg, ch);
                Vector.Widen(gx, out a, out b);
                (Vector.LoadUnsafe(ref sgx, cu) + a).StoreUnsafe(ref sgx, cu);
                (Vector.LoadUnsafe(ref sgx, ch) + b).StoreUnsafe(ref sgx, ch);
            }
            for (int c = vec; c < channels; c++)
            {
                float gi = Unsafe.Add(ref g0, at + (nuint)c);
                sumG[c] += gi;
                sumGx[c] += gi * ((Unsafe.Add(ref x0, at + (nuint)c) - mean[c]) * invStd[c]);
            }
        }
    }

    /// <summary>dx = k·(g − mean(g) − x̂·mean(g·x̂)) for channels-last data, the general loop's float arithmetic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelsLastInputGradient(ReadOnlySpan<float> xs, ReadOnlySpan<float> gs, int rows, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> invStd, ReadOnlySpan<float> k, ReadOnlySpan<float> meanG, ReadOnlySpan<float> meanGx, Span<float> dx)
    {
        int channels = mean.Length, lanes = Vector<float>.Count;
        int vec = Vector.IsHardwareAccelerated ? channels - channels % lanes : 0;
        ref float x0 = ref MemoryMarshal.GetReference(xs), g0 = ref MemoryMarshal.GetReference(gs), d0 = ref MemoryMarshal.GetReference(dx);
        ref float mu0 = ref MemoryMarshal.GetReference(mean), inv0 = ref MemoryMarshal.GetReference(invStd), k0 = ref MemoryMarshal.GetReference(k);
        ref float mg0 = ref MemoryMarshal.GetReference(meanG), mgx0 = ref MemoryMarshal.GetReference(meanGx);
        for (int r = 0; r < rows; r++)
        {
            nuint at = (nuint)r * (nuint)channels;
            for (int c = 0; c < vec; c += lanes)
            {
                nuint cu = (nuint)c;
                var xhat = (Vector.LoadUnsafe(ref x0, at + cu) - Vector.LoadUnsafe(ref mu0, cu)) * Vector.LoadUnsafe(ref inv0, cu);
                (Vector.LoadUnsafe(ref k0, cu) * (Vector.LoadUnsafe(ref g0, at + cu) - Vector.LoadUnsafe(ref mg0, cu) - xhat * Vector.LoadUnsafe(ref mgx0, cu)))
                    .StoreUnsafe(ref d0, at + cu);
            }
            for (int c = vec; c < channels; c++)
            {
                nuint i = at + (nuint)c;
                float xhat = (Unsafe.Add(ref x0, i) - mean[c]) * invStd[c];
                Unsafe.Add(ref d0, i) = k[c] * (Unsafe.Add(ref g0, i) - meanG[c] - xhat * meanGx[c]);
            }
        }
    }
}
