using Cortex.Initializers;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.LayerNormalization))]

namespace Cortex.Layers;

/// <summary>
/// Normalises each sample along one axis (by default the last, the features) to mean 0 and variance 1, then scales by
/// γ and shifts by β, as <c>keras.layers.LayerNormalization</c>: <c>y = γ·(x − μ)/√(σ² + ε) + β</c>, with μ and σ²
/// (biased) taken over the axis separately for every sample and every position on the other axes. γ and β have one
/// entry per position on the axis. Unlike BatchNormalization it behaves the same in training and inference.
/// </summary>
/// <remarks>Keras's ε is 1e-3; PyTorch's <c>nn.LayerNorm</c> defaults to 1e-5. One axis only (Keras also takes a list).</remarks>
/// <example><code>var model = new Sequential(new Input([10, 16]), new LayerNormalization(), new Dense(8));</code></example>
public sealed class LayerNormalization : GroupedNormalization
{
    /// <summary>Creates the layer.</summary>
    /// <param name="axis">The axis normalised over (−1: the last; the batch axis 0 cannot be).</param>
    /// <param name="epsilon">Added to the variance before the square root.</param>
    /// <param name="center">Whether to learn β.</param>
    /// <param name="scale">Whether to learn γ.</param>
    /// <param name="betaInitializer">How β starts (zeros).</param>
    /// <param name="gammaInitializer">How γ starts (ones).</param>
    /// <param name="betaRegularizer">Penalty on β.</param>
    /// <param name="gammaRegularizer">Penalty on γ.</param>
    /// <param name="name">Layer name; <c>layer_normalization</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="axis"/> is 0 or <paramref name="epsilon"/> is not positive.</exception>
    public LayerNormalization(int axis = -1, float epsilon = 1e-3f, bool center = true, bool scale = true,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null, string? name = null)
        : base("LayerNormalization", axis, epsilon, center, scale, betaInitializer, gammaInitializer, betaRegularizer, gammaRegularizer, name)
    {
    }

    /// <inheritdoc/>
    private protected override string AxisEntries => "entries";

    /// <summary>One set per position on the other axes: (o, i).</summary>
    private protected override int SetOf(int o, int k, int i, int outer, int c, int inner, out int set)
    {
        set = o * inner + i;
        return outer * inner;
    }
}
