using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Numerics;
using System.Runtime.InteropServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.Adam))]

namespace Cortex.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba 2015) in Keras's form: <c>m += (1 − β1)(g − m)</c>, <c>v += (1 − β2)(g² − v)</c>,
/// <c>lr_t = lr·√(1 − β2^t)/(1 − β1^t)</c>, <c>w −= lr_t·m/(√v + ε)</c>. With <c>amsgrad</c> the running maximum of v
/// is used in the denominator.
/// </summary>
/// <remarks>
/// Keras folds the bias corrections into the step size, so ε is added to √v rather than to √v̂ as PyTorch does;
/// the two agree except for the effective size of ε.
/// </remarks>
/// <example>
/// <code>
/// var opt = new Adam(learningRate: 1e-3f);
/// </code>
/// </example>
public class Adam : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (default 0.001).</param>
    /// <param name="beta1">Decay rate of the first-moment (mean) estimate.</param>
    /// <param name="beta2">Decay rate of the second-moment (uncentred variance) estimate.</param>
    /// <param name="epsilon">Added to √v for numerical stability (Keras default 1e-7).</param>
    /// <param name="amsgrad">Whether to use the AMSGrad variant.</param>
    /// <param name="clipNorm">See <see cref="Optimizer.ClipNorm"/>.</param>
    /// <param name="clipValue">See <see cref="Optimizer.ClipValue"/>.</param>
    /// <param name="globalClipNorm">See <see cref="Optimizer.GlobalClipNorm"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> is negative or not finite, <paramref name="epsilon"/>
    /// is not a finite number &gt; 0, or a β is outside [0, 1).</exception>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, bool amsgrad = false,
        float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm)
    {
        Beta1 = Hyperparameter.DecayFraction(GetType().Name, nameof(beta1), beta1);
        Beta2 = Hyperparameter.DecayFraction(GetType().Name, nameof(beta2), beta2);
        Epsilon = Hyperparameter.Positive(GetType().Name, nameof(epsilon), epsilon);
        Amsgrad = amsgrad;
        SlotNames = amsgrad ? ["momentum", "velocity", "velocity_hat"] : ["momentum", "velocity"];
    }

    /// <summary>Decay rate of the first-moment estimate.</summary>
    [Saving.Config(Key = "beta_1")]
    public float Beta1 { get; }

    /// <summary>Decay rate of the second-moment estimate.</summary>
    [Saving.Config(Key = "beta_2")]
    public float Beta2 { get; }

    /// <summary>The stability constant added to √v.</summary>
    public float Epsilon { get; }

    /// <summary>Whether the AMSGrad variant is used.</summary>
    public bool Amsgrad { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; }

    /// <inheritdoc/>
    protected override unsafe void UpdateStep(ReadOnlySpan<float> gradient, Span<float> variable, int variableIndex, float learningRate)
    {
        float alpha = StepSize(learningRate);
        Span<float> m = Slot(variableIndex, 0), v = Slot(variableIndex, 1);
        Span<float> vHat = Amsgrad ? Slot(variableIndex, 2) : default;
        float a1 = 1 - Beta1, a2 = 1 - Beta2, eps = Epsilon;
        bool ams = Amsgrad;
        int i = 0;
        // One fused pass over g, m, v and w: each element is read and written once instead of once per formula term.
        // Vector512 where the CPU runs it (the step is bound by its square root and division, which 512-bit units
        // halve), Vector256 otherwise; refs rather than spans so the loop carries no bounds checks.
        if (Vector512.IsHardwareAccelerated && !ams)
        {
            fixed (float* g0 = gradient, w0 = variable, m0 = m, v0 = v)
            {
                var job = new Job { G = g0, W = w0, M = m0, V = v0, A1 = a1, A2 = a2, Alpha = alpha, Eps = eps };
                int n = m.Length;
                // Large layers (784×128 and up) split across the cores: the step is compute-bound on √ and ÷, and
                // each element is independent, so the split cannot change the result.
                if (n >= ParallelThreshold && Kernels.GemmThreads.MaxParts > 1)
                {
                    int parts = Math.Min(Kernels.GemmThreads.MaxParts, 8);
                    Span<int> bounds = stackalloc int[parts + 1];
                    for (int part = 0; part <= parts; part++) bounds[part] = (int)((long)n * part / parts) & ~15;
                    bounds[parts] = n;
                    if (Kernels.GemmThreads.TryRunRanges(&Run512, &job, bounds)) return;
                }
                Run512(&job, 0, n);
            }
            return;
        }
        else if (Vector.IsHardwareAccelerated && m.Length >= Vector<float>.Count)
        {
            var gv = MemoryMarshal.Cast<float, Vector<float>>(gradient);
            var wv = MemoryMarshal.Cast<float, Vector<float>>(variable);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            var hv = MemoryMarshal.Cast<float, Vector<float>>(vHat);
            for (int k = 0; k < mv.Length; k++)
            {
                var g = gv[k];
                var mk = mv[k] + (g - mv[k]) * a1;
                var vk = vv[k] + (g * g - vv[k]) * a2;
                mv[k] = mk;
                vv[k] = vk;
                if (ams) hv[k] = vk = Vector.Max(hv[k], vk);
                wv[k] -= mk * alpha / (Vector.SquareRoot(vk) + new Vector<float>(eps));
            }
            i = mv.Length * Vector<float>.Count;
        }
        for (; i < m.Length; i++)
        {
            float g = gradient[i];
            float mk = m[i] + (g - m[i]) * a1;
            float vk = v[i] + (g * g - v[i]) * a2;
            m[i] = mk;
            v[i] = vk;
            if (ams) vHat[i] = vk = MathF.Max(vHat[i], vk);
            variable[i] -= mk * alpha / (MathF.Sqrt(vk) + eps);
        }
    }

    /// <summary>Keras's step size for the coming update: the bias corrections folded into the rate,
    /// lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) with t = <see cref="Optimizer.Iterations"/> + 1.</summary>
    private float StepSize(float learningRate)
    {
        long t = Iterations + 1;
        return (float)(learningRate * Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t)));
    }

    /// <inheritdoc/>
    /// <remarks>Not for AMSGrad, a subclass such as AdamW, clipping that needs whole gradients, a variable not yet
    /// built, or a CPU without AVX-512 (the pieces run the 512-bit step).</remarks>
    internal override unsafe bool TryBeginPieces(Variable variable, out float[] slot0, out float[] slot1, out PieceStep step)
    {
        slot0 = slot1 = [];
        step = default;
        if (GetType() != typeof(Adam) || Amsgrad || !ClipsNothing || !Vector512.IsHardwareAccelerated || SlotsOf(variable) is not { } s)
            return false;
        step = new PieceStep { Update = &UpdatePiece, A1 = 1 - Beta1, A2 = 1 - Beta2, Eps = Epsilon, Alpha = StepSize(LearningRate) };
        (slot0, slot1) = (s[0], s[1]);
        return true;
    }

    /// <summary>The Adam update of <paramref name="count"/> elements from <paramref name="offset"/>: w, m (slot 0) and
    /// v (slot 1), g the piece's gradient.</summary>
    private static unsafe void UpdatePiece(in PieceStep step, float* g, long offset, int count)
    {
        var job = new Job { G = g, W = step.W + offset, M = step.S0 + offset, V = step.S1 + offset, A1 = step.A1, A2 = step.A2, Alpha = step.Alpha, Eps = step.Eps };
        Run512(&job, 0, count);
    }

    /// <summary>Elements per update below which one core does the whole step (waking a worker costs ~1 µs).</summary>
    private const int ParallelThreshold = 1 << 13;

    private unsafe struct Job
    {
        public float* G, W, M, V;
        public float A1, A2, Alpha, Eps;
    }

    /// <summary>The Adam update of elements [lo, hi): one Vector512 pass, each element read and written once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run512(void* state, int lo, int hi)
    {
        var j = (Job*)state;
        var va1 = Vector512.Create(j->A1);
        var va2 = Vector512.Create(j->A2);
        var valpha = Vector512.Create(j->Alpha);
        var veps = Vector512.Create(j->Eps);
        float* g0 = j->G, w0 = j->W, m0 = j->M, v0 = j->V;
        int i = lo;
        for (; i <= hi - Vector512<float>.Count; i += Vector512<float>.Count)
        {
            var g = Vector512.Load(g0 + i);
            var mOld = Vector512.Load(m0 + i);
            var vOld = Vector512.Load(v0 + i);
            var mk = mOld + (g - mOld) * va1;
            var vk = vOld + (g * g - vOld) * va2;
            mk.Store(m0 + i);
            vk.Store(v0 + i);
            (Vector512.Load(w0 + i) - mk * valpha / (Vector512.Sqrt(vk) + veps)).Store(w0 + i);
        }
        for (; i < hi; i++)
        {
            // Scalar tail with the same formula, element for element.
            float g = g0[i];
            float mk = m0[i] + (g - m0[i]) * j->A1;
            float vk = v0[i] + (g * g - v0[i]) * j->A2;
            m0[i] = mk;
            v0[i] = vk;
            w0[i] -= mk * j->Alpha / (MathF.Sqrt(vk) + j->Eps);
        }
    }
}
