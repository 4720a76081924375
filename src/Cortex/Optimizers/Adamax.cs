using Cortex.Kernels;
using System.Runtime.CompilerServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.Adamax))]

namespace Cortex.Optimizers;

/// <summary>
/// Adamax (Kingma &amp; Ba 2015, §7.1), Adam with the infinity norm, in Keras's form: <c>m += (1 − β1)(g − m)</c>,
/// <c>u = max(β2·u, |g|)</c>, <c>w −= lr·m/((1 − β1ᵗ)(u + ε))</c>.
/// </summary>
/// <remarks>Keras adds ε to u in the denominator; PyTorch takes <c>max(β2·u, |g| + ε)</c> instead.</remarks>
/// <example>
/// <code>
/// var opt = new Adamax(learningRate: 2e-3f);
/// </code>
/// </example>
public sealed class Adamax : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (default 0.001).</param>
    /// <param name="beta1">Decay rate of the first-moment estimate.</param>
    /// <param name="beta2">Decay rate of the infinity norm u.</param>
    /// <param name="epsilon">Added to u (Keras default 1e-7).</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or
    /// not finite, <paramref name="epsilon"/> is not a finite number &gt; 0, or a β is outside [0, 1).</exception>
    public Adamax(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
    {
        Beta1 = Hyperparameter.DecayFraction(nameof(Adamax), nameof(beta1), beta1);
        Beta2 = Hyperparameter.DecayFraction(nameof(Adamax), nameof(beta2), beta2);
        Epsilon = Hyperparameter.Positive(nameof(Adamax), nameof(epsilon), epsilon);
    }

    /// <summary>Decay rate of the first-moment estimate.</summary>
    [Saving.Config(Key = "beta_1")]
    public float Beta1 { get; }

    /// <summary>Decay rate of the infinity norm.</summary>
    [Saving.Config(Key = "beta_2")]
    public float Beta2 { get; }

    /// <summary>The stability constant added to u.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; } = ["momentum", "norm"];

    /// <inheritdoc/>
    private protected override PieceStep? Rule(float learningRate) =>
        Step(new AdamaxRule(Beta1, Beta2, learningRate, (float)(1 - Math.Pow(Beta1, Iterations + 1)), Epsilon), learningRate);
}

/// <summary>Adamax's update of one block (see <see cref="Adamax"/>): slots m and u.</summary>
/// <param name="beta1">β₁.</param>
/// <param name="beta2">β₂.</param>
/// <param name="learningRate">This step's rate.</param>
/// <param name="correction">1 − β₁ᵗ for this step t.</param>
/// <param name="epsilon">Added to u.</param>
internal readonly struct AdamaxRule(float beta1, float beta2, float learningRate, float correction, float epsilon) : IUpdateRule
{
    private readonly float a1 = 1 - beta1, beta2 = beta2, learningRate = learningRate, correction = correction, epsilon = epsilon;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* m, float* u, float* s2) where V : unmanaged, ILanes<V>
    {
        V mk = V.Load(m);
        mk += (g - mk) * V.Broadcast(a1);
        mk.Store(m);
        V uk = V.Max(V.Load(u) * V.Broadcast(beta2), V.Abs(g));
        uk.Store(u);
        (V.Load(w) - mk * V.Broadcast(learningRate) / ((uk + V.Broadcast(epsilon)) * V.Broadcast(correction))).Store(w);
    }
}
