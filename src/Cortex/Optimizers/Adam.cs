using Cortex.Kernels;
using System.Runtime.CompilerServices;

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
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or
    /// not finite, <paramref name="epsilon"/> is not a finite number &gt; 0, or a β is outside [0, 1).</exception>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, bool amsgrad = false,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
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
    private protected override PieceStep? Rule(float learningRate) =>
        Step(new AdamRule(Beta1, Beta2, StepSize(learningRate), Epsilon, Amsgrad), learningRate);

    /// <summary>Keras's step size for the coming update: the bias corrections folded into the rate,
    /// lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) with t = <see cref="Optimizer.Iterations"/> + 1.</summary>
    private float StepSize(float learningRate)
    {
        long t = Iterations + 1;
        return (float)(learningRate * Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t)));
    }

}

/// <summary>Adam's update of one block (see <see cref="Adam"/>): slots m, v and, with AMSGrad, v̂.</summary>
/// <param name="beta1">β₁: the first moment moves 1 − β₁ of its distance to g.</param>
/// <param name="beta2">β₂: the second moment moves 1 − β₂ of its distance to g².</param>
/// <param name="alpha">The step size with both bias corrections folded in (Keras's form).</param>
/// <param name="epsilon">Added to √v.</param>
/// <param name="amsgrad">Whether the denominator uses v̂, the running maximum of v (slot 2).</param>
internal readonly struct AdamRule(float beta1, float beta2, float alpha, float epsilon, bool amsgrad = false) : IUpdateRule
{
    private readonly float a1 = 1 - beta1, a2 = 1 - beta2, alpha = alpha, epsilon = epsilon;
    private readonly bool amsgrad = amsgrad;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* m, float* v, float* vHat) where V : unmanaged, ILanes<V>
    {
        // One fused pass: each of g, w, m and v is read and written once instead of once per term of the formula.
        V wk = V.Load(w);
        V mk = V.Load(m), vk = V.Load(v);
        mk += (g - mk) * V.Broadcast(a1);
        vk += (g * g - vk) * V.Broadcast(a2);
        mk.Store(m);
        vk.Store(v);
        if (amsgrad)
        {
            vk = V.Max(V.Load(vHat), vk);
            vk.Store(vHat);
        }
        (wk - mk * V.Broadcast(alpha) / (V.Sqrt(vk) + V.Broadcast(epsilon))).Store(w);
    }
}
