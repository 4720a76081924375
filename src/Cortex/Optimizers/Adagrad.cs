using Cortex.Kernels;
using Cortex.Saving;
using System.Runtime.CompilerServices;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.Adagrad))]

namespace Cortex.Optimizers;

/// <summary>
/// Adagrad in Keras's form: <c>a += g²</c>, <c>w −= lr·g/√(a + ε)</c>, the accumulator a starting at
/// <c>initialAccumulatorValue</c>. Each element's step shrinks with the squared gradients it has seen.
/// </summary>
/// <remarks>Keras adds ε inside the square root; PyTorch adds it outside (<c>√a + ε</c>).</remarks>
/// <example>
/// <code>
/// var opt = new Adagrad(learningRate: 0.01f, initialAccumulatorValue: 0.1f);
/// </code>
/// </example>
public sealed class Adagrad : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (default 0.001).</param>
    /// <param name="initialAccumulatorValue">The value every accumulator starts at (Keras default 0.1).</param>
    /// <param name="epsilon">Added to the accumulator under the square root (Keras default 1e-7).</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/>, <paramref name="initialAccumulatorValue"/> or
    /// <paramref name="weightDecay"/> is negative or not finite, or <paramref name="epsilon"/> is not a finite number &gt; 0.</exception>
    public Adagrad(float learningRate = 1e-3f, float initialAccumulatorValue = 0.1f, float epsilon = 1e-7f,
        float? weightDecay = null, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm, weightDecay, useEma, emaMomentum, emaOverwriteFrequency)
    {
        InitialAccumulatorValue = ConfigJson.NonNegative(nameof(Adagrad), nameof(initialAccumulatorValue), initialAccumulatorValue);
        Epsilon = Hyperparameter.Positive(nameof(Adagrad), nameof(epsilon), epsilon);
    }

    /// <summary>The value every accumulator starts at.</summary>
    public float InitialAccumulatorValue { get; }

    /// <summary>The stability constant added under the square root.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> SlotNames { get; } = ["accumulator"];

    /// <inheritdoc/>
    private protected override float InitialSlotValue(int slot) => InitialAccumulatorValue;

    /// <inheritdoc/>
    private protected override PieceStep? Rule(float learningRate) => Step(new AdagradRule(learningRate, Epsilon), learningRate);
}

/// <summary>Adagrad's update of one block (see <see cref="Adagrad"/>): slot a, the sum of squared gradients.</summary>
/// <param name="learningRate">This step's rate.</param>
/// <param name="epsilon">Added to a under the square root.</param>
internal readonly struct AdagradRule(float learningRate, float epsilon) : IUpdateRule
{
    private readonly float learningRate = learningRate, epsilon = epsilon;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* a, float* s1, float* s2) where V : unmanaged, ILanes<V>
    {
        V ak = V.Load(a) + g * g;
        ak.Store(a);
        (V.Load(w) - g * V.Broadcast(learningRate) / V.Sqrt(ak + V.Broadcast(epsilon))).Store(w);
    }
}
