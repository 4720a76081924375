using Cortex.Kernels;
using System.Runtime.CompilerServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.RMSprop))]

namespace Cortex.Optimizers;

/// <summary>
/// RMSprop in Keras's form: <c>v = ρv + (1 − ρ)g²</c>, <c>Δ = lr·g/√(v + ε)</c> (centred: <c>√(v − ḡ² + ε)</c> with
/// <c>ḡ = ρḡ + (1 − ρ)g</c>), then <c>w −= Δ</c>, or with momentum μ <c>m = μm + Δ; w −= m</c>.
/// </summary>
/// <remarks>Keras adds ε inside the square root; PyTorch adds it outside (<c>√v + ε</c>).</remarks>
/// <example>
/// <code>
/// var opt = new RMSprop(learningRate: 1e-3f, rho: 0.9f);
/// </code>
/// </example>
public sealed class RMSprop : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (default 0.001).</param>
    /// <param name="rho">Decay rate of the running average of g².</param>
    /// <param name="momentum">Momentum μ; 0 for none.</param>
    /// <param name="epsilon">Added to v under the square root (Keras default 1e-7).</param>
    /// <param name="centered">Whether to normalise by the estimated variance rather than the second moment.</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or not finite, <paramref name="epsilon"/>
    /// is not a finite number &gt; 0, <paramref name="rho"/> is outside [0, 1) or <paramref name="momentum"/> outside [0, 1].</exception>
    public RMSprop(float learningRate = 1e-3f, float rho = 0.9f, float momentum = 0f, float epsilon = 1e-7f, bool centered = false,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
    {
        Rho = Hyperparameter.DecayFraction(nameof(RMSprop), nameof(rho), rho);
        Momentum = Hyperparameter.Momentum(nameof(RMSprop), nameof(momentum), momentum);
        Epsilon = Hyperparameter.Positive(nameof(RMSprop), nameof(epsilon), epsilon);
        Centered = centered;
        SlotNames = (Momentum > 0, centered) switch
        {
            (false, false) => ["velocity"],
            (true, false) => ["velocity", "momentum"],
            (false, true) => ["velocity", "average_gradient"],
            (true, true) => ["velocity", "momentum", "average_gradient"],
        };
    }

    /// <summary>Decay rate of the running average of g².</summary>
    public float Rho { get; }

    /// <summary>The momentum μ.</summary>
    public float Momentum { get; }

    /// <summary>The stability constant added under the square root.</summary>
    public float Epsilon { get; }

    /// <summary>Whether the centred variant is used.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; }

    /// <inheritdoc/>
    private protected override PieceStep? Rule(float learningRate) =>
        Step(new RmspropRule(Rho, Momentum, Epsilon, learningRate, usesMomentum: Momentum > 0, Centered), learningRate);
}

/// <summary>RMSprop's update of one block (see <see cref="RMSprop"/>): slots v, then the momentum when
/// <paramref name="usesMomentum"/>, then ḡ when <paramref name="centered"/>.</summary>
/// <param name="rho">ρ, the decay of the running averages.</param>
/// <param name="momentum">μ.</param>
/// <param name="epsilon">Added to v under the square root.</param>
/// <param name="learningRate">This step's rate.</param>
/// <param name="usesMomentum">Whether the step goes through the momentum slot (μ &gt; 0).</param>
/// <param name="centered">Whether the denominator is the variance estimate v − ḡ².</param>
internal readonly struct RmspropRule(float rho, float momentum, float epsilon, float learningRate, bool usesMomentum, bool centered) : IUpdateRule
{
    private readonly float rho = rho, a = 1 - rho, momentum = momentum, epsilon = epsilon, learningRate = learningRate;
    private readonly bool usesMomentum = usesMomentum, centered = centered;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* v, float* s1, float* s2) where V : unmanaged, ILanes<V>
    {
        float* mom = s1, average = usesMomentum ? s2 : s1;
        V rhoV = V.Broadcast(rho), aV = V.Broadcast(a);
        V vk = V.Load(v) * rhoV + g * g * aV;
        vk.Store(v);
        V den = vk + V.Broadcast(epsilon);
        if (centered)
        {
            V ak = V.Load(average) * rhoV + g * aV;
            ak.Store(average);
            den -= ak * ak;
        }
        V inc = g * V.Broadcast(learningRate) / V.Sqrt(den);
        if (usesMomentum)
        {
            inc = V.Load(mom) * V.Broadcast(momentum) + inc;
            inc.Store(mom);
        }
        (V.Load(w) - inc).Store(w);
    }
}
