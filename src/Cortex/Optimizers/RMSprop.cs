using System.Numerics;
using System.Runtime.InteropServices;

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
    /// <param name="clipNorm">See <see cref="Optimizer.ClipNorm"/>.</param>
    /// <param name="clipValue">See <see cref="Optimizer.ClipValue"/>.</param>
    /// <param name="globalClipNorm">See <see cref="Optimizer.GlobalClipNorm"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> is negative or not finite, <paramref name="epsilon"/>
    /// is not a finite number &gt; 0, <paramref name="rho"/> is outside [0, 1) or <paramref name="momentum"/> outside [0, 1].</exception>
    public RMSprop(float learningRate = 1e-3f, float rho = 0.9f, float momentum = 0f, float epsilon = 1e-7f, bool centered = false,
        float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm)
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
    protected override void UpdateStep(ReadOnlySpan<float> gradient, Span<float> variable, int variableIndex, float learningRate)
    {
        bool useMomentum = Momentum > 0, centered = Centered;
        Span<float> v = Slot(variableIndex, 0);
        Span<float> mom = useMomentum ? Slot(variableIndex, 1) : default;
        Span<float> avg = centered ? Slot(variableIndex, useMomentum ? 2 : 1) : default;
        float rho = Rho, a = 1 - Rho, mu = Momentum, eps = Epsilon, lr = learningRate;
        int i = 0;
        if (Vector.IsHardwareAccelerated && v.Length >= Vector<float>.Count)
        {
            var gv = MemoryMarshal.Cast<float, Vector<float>>(gradient);
            var wv = MemoryMarshal.Cast<float, Vector<float>>(variable);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(mom);
            var av = MemoryMarshal.Cast<float, Vector<float>>(avg);
            var epsV = new Vector<float>(eps);
            for (int k = 0; k < vv.Length; k++)
            {
                var g = gv[k];
                var vk = vv[k] * rho + g * g * a;
                vv[k] = vk;
                var den = vk + epsV;
                if (centered)
                {
                    var ak = av[k] * rho + g * a;
                    av[k] = ak;
                    den -= ak * ak;
                }
                var inc = g * lr / Vector.SquareRoot(den);
                if (useMomentum) inc = mv[k] = mv[k] * mu + inc;
                wv[k] -= inc;
            }
            i = vv.Length * Vector<float>.Count;
        }
        for (; i < v.Length; i++)
        {
            float g = gradient[i];
            float vk = v[i] * rho + g * g * a;
            v[i] = vk;
            float den = vk + eps;
            if (centered)
            {
                float ak = avg[i] * rho + g * a;
                avg[i] = ak;
                den -= ak * ak;
            }
            float inc = g * lr / MathF.Sqrt(den);
            if (useMomentum) inc = mom[i] = mom[i] * mu + inc;
            variable[i] -= inc;
        }
    }
}
