using Cortex.Kernels;
using System.Runtime.CompilerServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.Nadam))]

namespace Cortex.Optimizers;

/// <summary>
/// Nadam (Dozat 2016), Adam with Nesterov momentum, in Keras 3's form: with the momentum schedule
/// <c>uₜ = β1(1 − 0.5·0.96ᵗ)</c> and its running product <c>Πₜ = u₁⋯uₜ</c>, <c>m += (1 − β1)(g − m)</c>,
/// <c>v += (1 − β2)(g² − v)</c>, <c>m̂ = uₜ₊₁·m/(1 − Πₜ₊₁) + (1 − uₜ)·g/(1 − Πₜ)</c>,
/// <c>w −= lr·m̂/(√(v/(1 − β2ᵗ)) + ε)</c>.
/// </summary>
/// <remarks>
/// Keras's schedule is 0.96 to the power t; PyTorch's <c>NAdam</c> uses 0.96^(0.004·t) (its <c>momentum_decay</c>
/// ψ = 0.004) and equals Keras's with <c>momentum_decay=1</c>. Πₜ depends only on t, so it is recomputed from
/// <see cref="Optimizer.Iterations"/> (cached per step) rather than kept as state: a restored optimizer continues exactly.
/// </remarks>
/// <example>
/// <code>
/// var opt = new Nadam(learningRate: 2e-3f);
/// </code>
/// </example>
public sealed class Nadam : Optimizer
{
    private long productStep;        // Π is cached for this t (0: Π₀ = 1)
    private double product = 1;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (default 0.001).</param>
    /// <param name="beta1">Decay rate of the first-moment estimate (and the scale of the momentum schedule).</param>
    /// <param name="beta2">Decay rate of the second-moment estimate.</param>
    /// <param name="epsilon">Added to √v̂ (Keras default 1e-7).</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or
    /// not finite, <paramref name="epsilon"/> is not a finite number &gt; 0, or a β is outside [0, 1).</exception>
    public Nadam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
    {
        Beta1 = Hyperparameter.DecayFraction(nameof(Nadam), nameof(beta1), beta1);
        Beta2 = Hyperparameter.DecayFraction(nameof(Nadam), nameof(beta2), beta2);
        Epsilon = Hyperparameter.Positive(nameof(Nadam), nameof(epsilon), epsilon);
    }

    /// <summary>Decay rate of the first-moment estimate.</summary>
    [Saving.Config(Key = "beta_1")]
    public float Beta1 { get; }

    /// <summary>Decay rate of the second-moment estimate.</summary>
    [Saving.Config(Key = "beta_2")]
    public float Beta2 { get; }

    /// <summary>The stability constant added to √v̂.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; } = ["momentum", "velocity"];

    /// <summary>uₜ = β1(1 − 0.5·0.96ᵗ).</summary>
    private double U(long t) => Beta1 * (1 - 0.5 * Math.Pow(0.96, t));

    /// <summary>Πₜ = u₁⋯uₜ, extended from the cached step (restarted when t went back, e.g. after loading).</summary>
    private double Product(long t)
    {
        if (t < productStep) (productStep, product) = (0, 1);
        for (; productStep < t; productStep++) product *= U(productStep + 1);
        return product;
    }

    /// <inheritdoc/>
    private protected override PieceStep? Rule(float learningRate)
    {
        long t = Iterations + 1;
        double ut = U(t), ut1 = U(t + 1), pt = Product(t), pt1 = pt * ut1;
        return Step(new NadamRule(Beta1, Beta2, learningRate, (float)(ut1 / (1 - pt1)), (float)((1 - ut) / (1 - pt)),
            (float)(1 - Math.Pow(Beta2, t)), Epsilon), learningRate);
    }
}

/// <summary>Nadam's update of one block (see <see cref="Nadam"/>): slots m and v.</summary>
/// <param name="beta1">β₁.</param>
/// <param name="beta2">β₂.</param>
/// <param name="learningRate">This step's rate.</param>
/// <param name="momentumWeight">uₜ₊₁/(1 − Πₜ₊₁), m's weight in m̂.</param>
/// <param name="gradientWeight">(1 − uₜ)/(1 − Πₜ), g's weight in m̂.</param>
/// <param name="correction">1 − β₂ᵗ, v's bias correction.</param>
/// <param name="epsilon">Added to √v̂.</param>
internal readonly struct NadamRule(float beta1, float beta2, float learningRate, float momentumWeight, float gradientWeight,
    float correction, float epsilon) : IUpdateRule
{
    private readonly float a1 = 1 - beta1, a2 = 1 - beta2, learningRate = learningRate, momentumWeight = momentumWeight,
        gradientWeight = gradientWeight, correction = correction, epsilon = epsilon;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* m, float* v, float* s2) where V : unmanaged, ILanes<V>
    {
        V mk = V.Load(m), vk = V.Load(v);
        mk += (g - mk) * V.Broadcast(a1);
        vk += (g * g - vk) * V.Broadcast(a2);
        mk.Store(m);
        vk.Store(v);
        V mHat = mk * V.Broadcast(momentumWeight) + g * V.Broadcast(gradientWeight);
        (V.Load(w) - mHat * V.Broadcast(learningRate) / (V.Sqrt(vk / V.Broadcast(correction)) + V.Broadcast(epsilon))).Store(w);
    }
}
