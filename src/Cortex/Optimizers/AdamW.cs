[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.AdamW))]

namespace Cortex.Optimizers;

/// <summary>
/// Adam with decoupled weight decay (Loshchilov &amp; Hutter 2019), as Keras's AdamW: before each Adam step the
/// variable shrinks by <c>w −= lr·weightDecay·w</c>, independently of the gradient. Every Cortex optimizer takes
/// <c>weightDecay</c>, as in Keras 3; AdamW is Adam with it on by default.
/// </summary>
/// <example>
/// <code>
/// var opt = new AdamW(learningRate: 1e-3f, weightDecay: 0.004f);
/// </code>
/// </example>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size (default 0.001).</param>
    /// <param name="weightDecay">The decoupled decay rate (Keras default 0.004).</param>
    /// <param name="beta1">Decay rate of the first-moment estimate.</param>
    /// <param name="beta2">Decay rate of the second-moment estimate.</param>
    /// <param name="epsilon">Added to √v for numerical stability.</param>
    /// <param name="amsgrad">Whether to use the AMSGrad variant.</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param[@name!='weightDecay']"/>
    /// <exception cref="ArgumentException"><paramref name="weightDecay"/> is negative or not finite, or another
    /// argument is out of range (see <see cref="Adam(float, float, float, float, bool, float?, float?, float?, float?, bool, float, int?)"/>).</exception>
    public AdamW(float learningRate = 1e-3f, float weightDecay = 0.004f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f,
        bool amsgrad = false, float? clipNorm = null, float? clipValue = null, float? globalClipNorm = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
        : base(learningRate, beta1, beta2, epsilon, amsgrad, weightDecay, clipNorm, clipValue, globalClipNorm, useEma, emaMomentum, emaOverwriteFrequency)
    {
    }
}
