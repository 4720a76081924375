using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

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
    /// <param name="clipNorm">See <see cref="Optimizer.ClipNorm"/>.</param>
    /// <param name="clipValue">See <see cref="Optimizer.ClipValue"/>.</param>
    /// <param name="globalClipNorm">See <see cref="Optimizer.GlobalClipNorm"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="learningRate"/> is negative or not finite, or
    /// <paramref name="momentum"/> is outside [0, 1].</exception>
    public SGD(float learningRate = 0.01f, float momentum = 0f, bool nesterov = false,
        float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null)
        : base(learningRate, clipNorm, clipValue, globalClipNorm)
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
    protected override void UpdateStep(ReadOnlySpan<float> gradient, Span<float> variable, int variableIndex, float learningRate)
    {
        if (Momentum == 0)
        {
            TensorPrimitives.MultiplyAdd(gradient, -learningRate, variable, variable);
            return;
        }
        Span<float> m = Slot(variableIndex, 0);
        float mu = Momentum, lr = learningRate;
        bool nesterov = Nesterov;
        int i = 0;
        if (Vector.IsHardwareAccelerated && m.Length >= Vector<float>.Count)
        {
            var gv = MemoryMarshal.Cast<float, Vector<float>>(gradient);
            var wv = MemoryMarshal.Cast<float, Vector<float>>(variable);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            for (int k = 0; k < mv.Length; k++)
            {
                var step = gv[k] * lr;
                var mk = mv[k] * mu - step;
                mv[k] = mk;
                wv[k] += nesterov ? mk * mu - step : mk;
            }
            i = mv.Length * Vector<float>.Count;
        }
        for (; i < m.Length; i++)
        {
            float step = gradient[i] * lr;
            float mk = m[i] * mu - step;
            m[i] = mk;
            variable[i] += nesterov ? mk * mu - step : mk;
        }
    }
}
