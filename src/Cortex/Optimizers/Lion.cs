using Cortex.Kernels;
using System.Runtime.CompilerServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.Lion))]

namespace Cortex.Optimizers;

/// <summary>
/// Lion (Chen et al. 2023) in Keras's form: <c>w −= lr·sign(β1·m + (1 − β1)·g)</c>, then <c>m = β2·m + (1 − β2)·g</c>.
/// Every element moves by exactly the learning rate, so Lion wants a rate 3–10× smaller than Adam's.
/// </summary>
/// <example>
/// <code>
/// var opt = new Lion(learningRate: 1e-4f, weightDecay: 0.01f);
/// </code>
/// </example>
public sealed class Lion : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (default 0.001).</param>
    /// <param name="beta1">The weight of the momentum in the step's direction, in (0, 1].</param>
    /// <param name="beta2">Decay rate of the momentum.</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or
    /// not finite, <paramref name="beta1"/> is outside (0, 1] (Keras's check: at 0 Lion degenerates to SignSGD), or
    /// <paramref name="beta2"/> outside [0, 1].</exception>
    public Lion(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.99f,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
    {
        Beta1 = beta1 is > 0 and <= 1 ? beta1
            : throw Hyperparameter.Invalid(nameof(Lion), nameof(beta1), "a number in (0, 1] (at 0 the optimizer degenerates to SignSGD)", beta1);
        Beta2 = Hyperparameter.Momentum(nameof(Lion), nameof(beta2), beta2);
    }

    /// <summary>The momentum's weight in the step's direction.</summary>
    [Saving.Config(Key = "beta_1")]
    public float Beta1 { get; }

    /// <summary>Decay rate of the momentum.</summary>
    [Saving.Config(Key = "beta_2")]
    public float Beta2 { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; } = ["momentum"];

    /// <inheritdoc/>
    private protected override PieceStep? Rule(float learningRate) => Step(new LionRule(Beta1, Beta2, learningRate), learningRate);
}

/// <summary>Lion's update of one block (see <see cref="Lion"/>): slot m.</summary>
/// <param name="beta1">β₁, the momentum's weight in the direction.</param>
/// <param name="beta2">β₂, the momentum's decay.</param>
/// <param name="learningRate">This step's rate.</param>
internal readonly struct LionRule(float beta1, float beta2, float learningRate) : IUpdateRule
{
    private readonly float beta1 = beta1, c1 = 1 - beta1, beta2 = beta2, c2 = 1 - beta2, learningRate = learningRate;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* m, float* s1, float* s2) where V : unmanaged, ILanes<V>
    {
        V mk = V.Load(m);
        (V.Load(w) - V.Broadcast(learningRate) * V.Sign(mk * V.Broadcast(beta1) + g * V.Broadcast(c1))).Store(w);
        (mk * V.Broadcast(beta2) + g * V.Broadcast(c2)).Store(m);
    }
}
