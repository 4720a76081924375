using Cortex.Kernels;
using System.Runtime.CompilerServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.Adadelta))]

namespace Cortex.Optimizers;

/// <summary>
/// Adadelta (Zeiler 2012) in Keras's form: <c>a = ρa + (1 − ρ)g²</c>, <c>Δ = −√(d + ε)·g/√(a + ε)</c>,
/// <c>d = ρd + (1 − ρ)Δ²</c>, <c>w += lr·Δ</c> — the step's size comes from the running size of past steps, so
/// Keras's default rate of 0.001 moves slowly; the paper (and PyTorch) use 1.
/// </summary>
/// <remarks>The same formula as PyTorch's <c>torch.optim.Adadelta</c>.</remarks>
/// <example>
/// <code>
/// var opt = new Adadelta(learningRate: 1f, rho: 0.95f);
/// </code>
/// </example>
public sealed class Adadelta : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The factor on each step (Keras default 0.001).</param>
    /// <param name="rho">Decay rate of the running averages of g² and Δ².</param>
    /// <param name="epsilon">Added under both square roots (Keras default 1e-7).</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or
    /// not finite, <paramref name="epsilon"/> is not a finite number &gt; 0, or <paramref name="rho"/> is outside [0, 1).</exception>
    public Adadelta(float learningRate = 1e-3f, float rho = 0.95f, float epsilon = 1e-7f,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
    {
        Rho = Hyperparameter.DecayFraction(nameof(Adadelta), nameof(rho), rho);
        Epsilon = Hyperparameter.Positive(nameof(Adadelta), nameof(epsilon), epsilon);
    }

    /// <summary>Decay rate of the running averages.</summary>
    public float Rho { get; }

    /// <summary>The stability constant added under the square roots.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; } = ["accumulated_grad", "accumulated_delta_var"];

    /// <inheritdoc/>
    private protected override PieceStep? Rule(float learningRate) => Step(new AdadeltaRule(Rho, Epsilon, learningRate), learningRate);
}

/// <summary>Adadelta's update of one block (see <see cref="Adadelta"/>): slots a (the average of g²) and d (of Δ²).</summary>
/// <param name="rho">ρ.</param>
/// <param name="epsilon">Added under both square roots.</param>
/// <param name="learningRate">This step's rate.</param>
internal readonly struct AdadeltaRule(float rho, float epsilon, float learningRate) : IUpdateRule
{
    private readonly float rho = rho, a = 1 - rho, epsilon = epsilon, learningRate = learningRate;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* grads, float* deltas, float* s2) where V : unmanaged, ILanes<V>
    {
        V rhoV = V.Broadcast(rho), aV = V.Broadcast(a), eps = V.Broadcast(epsilon);
        V ak = V.Load(grads) * rhoV + g * g * aV;
        ak.Store(grads);
        V dk = V.Load(deltas);
        // Keras's delta is −(√(d + ε)·g/√(a + ε)); it keeps the positive one here and subtracts (negation is exact).
        V delta = V.Sqrt(dk + eps) * g / V.Sqrt(ak + eps);
        (dk * rhoV + delta * delta * aV).Store(deltas);
        (V.Load(w) - delta * V.Broadcast(learningRate)).Store(w);
    }
}
