using Cortex.Initializers;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.GroupNormalization))]

namespace Cortex.Layers;

/// <summary>
/// Splits the channels (by default the last axis) into <c>groups</c> groups of consecutive channels and normalises each
/// group of each sample over its channels and every position, then scales by γ and shifts by β per channel, as
/// <c>keras.layers.GroupNormalization</c>: <c>y = γ·(x − μ)/√(σ² + ε) + β</c>. One group is LayerNormalization over the
/// whole sample; as many groups as channels is instance normalisation. The same in training and inference.
/// </summary>
/// <remarks>Keras's ε is 1e-3; PyTorch's <c>nn.GroupNorm</c> (channels first) defaults to 1e-5.</remarks>
/// <example><code>var model = new Sequential(new Input([8, 8, 16]), new Conv2D(32, 3), new GroupNormalization(groups: 8), new Activation("relu"));</code></example>
public sealed class GroupNormalization : GroupedNormalization
{
    /// <summary>Creates the layer.</summary>
    /// <param name="groups">How many groups the channels are split into; must divide the number of channels.</param>
    /// <param name="axis">The channel axis (−1: channels last; the batch axis 0 cannot be).</param>
    /// <param name="epsilon">Added to the variance before the square root.</param>
    /// <param name="center">Whether to learn β.</param>
    /// <param name="scale">Whether to learn γ.</param>
    /// <param name="betaInitializer">How β starts (zeros).</param>
    /// <param name="gammaInitializer">How γ starts (ones).</param>
    /// <param name="betaRegularizer">Penalty on β.</param>
    /// <param name="gammaRegularizer">Penalty on γ.</param>
    /// <param name="name">Layer name; <c>group_normalization</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="groups"/> is not positive, <paramref name="axis"/> is 0
    /// or <paramref name="epsilon"/> is not positive.</exception>
    public GroupNormalization(int groups = 32, int axis = -1, float epsilon = 1e-3f, bool center = true, bool scale = true,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null, string? name = null)
        : base("GroupNormalization", epsilon, center, scale, betaInitializer, gammaInitializer, betaRegularizer, gammaRegularizer, name)
    {
        if (groups <= 0)
            throw new ArgumentOutOfRangeException(nameof(groups), $"GroupNormalization: groups must be a positive integer. Received: groups={groups}");
        if (axis == 0)
            throw new ArgumentOutOfRangeException(nameof(axis), $"GroupNormalization: axis cannot be the batch axis 0. Received: axis={axis}");
        Groups = groups;
        Axis = axis;
    }

    /// <summary>How many groups the channels are split into.</summary>
    public int Groups { get; }

    /// <summary>The channel axis, as given (negative counts from the end).</summary>
    public int Axis { get; }

    /// <summary>The channel axis in <paramref name="shape"/>, checked against the rank and the groups.</summary>
    private int Resolved(int[] shape)
    {
        int a = Axis < 0 ? Axis + shape.Length : Axis;
        if (shape.Length < 2 || a <= 0 || a >= shape.Length)
            throw new ArgumentException($"GroupNormalization '{Name}' expects input of rank at least 2 with axis {Axis} other than the batch axis. Received: shape {ImageLayers.Format(shape)}");
        if (shape[a] % Groups != 0)
            throw new ArgumentException($"GroupNormalization '{Name}': groups={Groups} must divide the number of channels on axis {Axis}. Received: shape {ImageLayers.Format(shape)} ({shape[a]} channels)");
        return a;
    }

    /// <inheritdoc/>
    private protected override int[] ParameterAxes(int[] shape) => [Resolved(shape)];

    /// <inheritdoc/>
    private protected override int[] ParameterShape(int[] shape) => [shape[Resolved(shape)]];

    /// <inheritdoc/>
    private protected override string Expected(int[] builtShape) => $"{builtShape[Resolved(builtShape)]} channels on axis {Axis}";

    /// <summary>One set per group of consecutive channels, over every position.</summary>
    private protected override (int[] Sets, int Count) SetsOf(int[] sample)
    {
        int a = Resolved([-1, .. sample]) - 1, c = sample[a], perGroup = c / Groups;
        int inner = sample[(a + 1)..].Aggregate(1, (x, y) => x * y);
        var sets = new int[sample.Aggregate(1, (x, y) => x * y)];
        for (int e = 0; e < sets.Length; e++) sets[e] = e / inner % c / perGroup;
        return (sets, Groups);
    }
}
