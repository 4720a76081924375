using Cortex.Initializers;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.LayerNormalization))]

namespace Cortex.Layers;

/// <summary>
/// Normalises each sample over one or several axes (by default the last, the features) to mean 0 and variance 1, then
/// scales by γ and shifts by β, as <c>keras.layers.LayerNormalization</c>: <c>y = γ·(x − μ)/√(σ² + ε) + β</c>, with μ
/// and σ² (biased) taken over the listed axes together, separately for every sample and every position on the other
/// axes. γ and β have one entry per position on the listed axes. Unlike BatchNormalization it behaves the same in
/// training and inference.
/// </summary>
/// <remarks>Keras's ε is 1e-3; PyTorch's <c>nn.LayerNorm</c> defaults to 1e-5.</remarks>
/// <example>
/// <code>
/// var model = new Sequential(new Input([10, 16]), new LayerNormalization(), new Dense(8));
/// var perImage = new LayerNormalization(axis: [1, 2, 3]);   // NHWC: one mean and variance per image
/// </code>
/// </example>
public sealed class LayerNormalization : GroupedNormalization
{
    /// <summary>Creates the layer.</summary>
    /// <param name="axis">The axes normalised over together (negative counts from the end; the batch axis 0 cannot be
    /// one); null for Keras's default, the last axis.</param>
    /// <param name="epsilon">Added to the variance before the square root.</param>
    /// <param name="center">Whether to learn β.</param>
    /// <param name="scale">Whether to learn γ.</param>
    /// <param name="betaInitializer">How β starts (zeros).</param>
    /// <param name="gammaInitializer">How γ starts (ones).</param>
    /// <param name="betaRegularizer">Penalty on β.</param>
    /// <param name="gammaRegularizer">Penalty on γ.</param>
    /// <param name="name">Layer name; <c>layer_normalization</c>, … when null.</param>
    /// <exception cref="ArgumentException"><paramref name="axis"/> is empty, names an axis twice, or names axis 0.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epsilon"/> is not positive.</exception>
    public LayerNormalization(int[]? axis = null, float epsilon = 1e-3f, bool center = true, bool scale = true,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null, string? name = null)
        : base("LayerNormalization", epsilon, center, scale, betaInitializer, gammaInitializer, betaRegularizer, gammaRegularizer, name)
    {
        Axis = axis is null ? [-1] : (int[])axis.Clone();
        if (Axis.Length == 0 || Axis.Contains(0) || Axis.Distinct().Count() != Axis.Length)
            throw new ArgumentException($"LayerNormalization: axis must name distinct axes other than the batch axis 0. Received: axis={ShapeUtil.Format(Axis)}", nameof(axis));
    }

    /// <summary>The axes normalised over, as given (negative counts from the end).</summary>
    public int[] Axis { get; }

    /// <summary>The listed axes in <paramref name="shape"/>, in the order given.</summary>
    private int[] Resolved(int[] shape)
    {
        int[] axes = [.. Axis.Select(a => a < 0 ? a + shape.Length : a)];
        if (shape.Length < 2 || axes.Any(a => a <= 0 || a >= shape.Length) || axes.Distinct().Count() != axes.Length)
            throw new ArgumentException($"LayerNormalization '{Name}' expects input of rank at least 2 with axis {ShapeUtil.Format(Axis)} other than the batch axis. Received: shape {ImageLayers.Format(shape)}");
        return axes;
    }

    /// <inheritdoc/>
    private protected override int[] ParameterAxes(int[] shape) => [.. Resolved(shape).Order()];

    /// <inheritdoc/>
    private protected override int[] ParameterShape(int[] shape) => [.. Resolved(shape).Select(a => shape[a])];

    /// <inheritdoc/>
    private protected override string Expected(int[] builtShape) =>
        $"sizes {ShapeUtil.Format(ParameterShape(builtShape))} on axis {ShapeUtil.Format(Axis)}";

    /// <summary>One set per position on the other axes.</summary>
    private protected override (int[] Sets, int Count) SetsOf(int[] sample)
    {
        int[] axes = [.. ParameterAxes([-1, .. sample]).Select(a => a - 1)];
        var sets = new int[sample.Aggregate(1, (a, b) => a * b)];
        var at = new int[sample.Length];
        int count = 1;
        for (int d = 0; d < sample.Length; d++) if (!axes.Contains(d)) count *= sample[d];
        for (int e = 0; e < sets.Length; e++)
        {
            int s = 0;
            for (int d = 0; d < sample.Length; d++) if (!axes.Contains(d)) s = s * sample[d] + at[d];
            sets[e] = s;
            for (int d = sample.Length - 1; d >= 0 && ++at[d] == sample[d]; d--) at[d] = 0;
        }
        return (sets, count);
    }
}
