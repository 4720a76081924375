using Cortex.Kernels;
using System.Runtime.CompilerServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.SGD))]

namespace Cortex.Optimizers;

/// <summary>
/// Stochastic gradient descent, optionally with momentum, in Keras's form:
/// <c>w −= lr·g</c>; with momentum μ, <c>m = μ·m − lr·g; w += m</c>; with Nesterov, <c>w += μ·m − lr·g</c>.
/// </summary>
/// <example>
/// <code>
/// var opt = new SGD(learningRate: 0.1f, momentum: 0.9f, nesterov: true);
/// </code>
/// </example>
public sealed class SGD : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (Keras default 0.01).</param>
    /// <param name="momentum">The momentum μ in [0, 1]; 0 for plain gradient descent.</param>
    /// <param name="nesterov">Whether to use Nesterov momentum.</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or not finite, or
    /// <paramref name="momentum"/> is outside [0, 1].</exception>
    public SGD(float learningRate = 0.01f, float momentum = 0f, bool nesterov = false,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
    {
        Momentum = Hyperparameter.Momentum(nameof(SGD), nameof(momentum), momentum);
        Nesterov = nesterov;
        SlotNames = momentum > 0 ? ["momentum"] : [];
    }

    /// <summary>The momentum μ.</summary>
    public float Momentum { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; }

    /// <inheritdoc/>
    private protected override PieceStep? Rule(float learningRate) =>
        Step(new SgdRule(learningRate, Momentum, usesMomentum: Momentum > 0, Nesterov), learningRate);
}

/// <summary>SGD's update of one block (see <see cref="SGD"/>): slot m when <paramref name="usesMomentum"/>.</summary>
/// <param name="learningRate">This step's rate.</param>
/// <param name="momentum">μ.</param>
/// <param name="usesMomentum">Whether there is a momentum slot (μ &gt; 0).</param>
/// <param name="nesterov">Whether the step looks ahead along the momentum.</param>
internal readonly struct SgdRule(float learningRate, float momentum = 0f, bool usesMomentum = false, bool nesterov = false) : IUpdateRule
{
    private readonly float learningRate = learningRate, momentum = momentum;
    private readonly bool usesMomentum = usesMomentum, nesterov = nesterov;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* m, float* s1, float* s2) where V : unmanaged, ILanes<V>
    {
        V step = g * V.Broadcast(learningRate);
        if (!usesMomentum)
        {
            // w − lr·g: the bits of w + g·(−lr), as negation is exact.
            (V.Load(w) - step).Store(w);
            return;
        }
        V mu = V.Broadcast(momentum);
        V mk = V.Load(m) * mu - step;
        mk.Store(m);
        (V.Load(w) + (nesterov ? mk * mu - step : mk)).Store(w);
    }
}
