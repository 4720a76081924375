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
public sealed class GroupNormalization : Layer
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
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null, string? name = null) : base(name)
    {
        if (groups <= 0)
            throw new ArgumentOutOfRangeException(nameof(groups), $"GroupNormalization: groups must be a positive integer. Received: groups={groups}");
        if (axis == 0)
            throw new ArgumentOutOfRangeException(nameof(axis), $"GroupNormalization: axis cannot be the batch axis 0. Received: axis={axis}");
        if (!(epsilon > 0f))
            throw new ArgumentOutOfRangeException(nameof(epsilon), $"GroupNormalization: epsilon must be positive. Received: epsilon={epsilon}");
        Groups = groups;
        Axis = axis;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        BetaRegularizer = betaRegularizer;
        GammaRegularizer = gammaRegularizer;
    }

    /// <summary>How many groups the channels are split into.</summary>
    public int Groups { get; }
    /// <summary>The channel axis, as given (negative counts from the end).</summary>
    public int Axis { get; }
    /// <summary>Added to the variance.</summary>
    public float Epsilon { get; }
    /// <summary>Whether β is learned.</summary>
    public bool Center { get; }
    /// <summary>Whether γ is learned.</summary>
    public bool Scale { get; }
    /// <summary>Initializer of β.</summary>
    public Initializer BetaInitializer { get; }
    /// <summary>Initializer of γ.</summary>
    public Initializer GammaInitializer { get; }
    /// <summary>Penalty on β, if any.</summary>
    public Regularizer? BetaRegularizer { get; }
    /// <summary>Penalty on γ, if any.</summary>
    public Regularizer? GammaRegularizer { get; }
    /// <summary>γ, one per channel (null without scale or before building).</summary>
    public Variable? Gamma { get; private set; }
    /// <summary>β, one per channel (null without center or before building).</summary>
    public Variable? Beta { get; private set; }

    private int[]? builtShape;

    /// <summary>The channel axis in the full shape (batch axis 0), checked against the rank and the groups.</summary>
    private int ResolvedAxis(int[] shape)
    {
        int a = Axis < 0 ? Axis + shape.Length : Axis;
        if (shape.Length < 2 || a <= 0 || a >= shape.Length)
            throw new ArgumentException($"GroupNormalization '{Name}' expects input of rank at least 2 with axis {Axis} other than the batch axis. Received: shape {ImageLayers.Format(shape)}");
        if (shape[a] % Groups != 0)
            throw new ArgumentException($"GroupNormalization '{Name}': groups={Groups} must divide the number of channels on axis {Axis}. Received: shape {ImageLayers.Format(shape)} ({shape[a]} channels)");
        return a;
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        int c = inputShape[ResolvedAxis(inputShape)];
        builtShape = (int[])inputShape.Clone();
        if (Scale) Gamma = AddWeight("gamma", [c], GammaInitializer, regularizer: GammaRegularizer);
        if (Center) Beta = AddWeight("beta", [c], BetaInitializer, regularizer: BetaRegularizer);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = inputs.ShapeRef;
        int c = builtShape![ResolvedAxis(builtShape)];
        if (s.Length != builtShape.Length || s[ResolvedAxis(s)] != c)
            throw new ArgumentException($"GroupNormalization '{Name}' expects input of rank {builtShape.Length} with {c} channels on axis {Axis}. Received: shape {ImageLayers.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] sample = context.Sample;
        int a = ResolvedAxis([-1, .. sample]) - 1, c = sample[a], perGroup = c / Groups;
        int inner = sample[(a + 1)..].Aggregate(1, (x, y) => x * y), outer = sample[..a].Aggregate(1, (x, y) => x * y);
        // Element (o, k, i) of the sample's (outer, c, inner) view: set k / (c / groups), γ and β indexed by k.
        var sets = new int[context.InputWidth];
        var parameters = new int[context.InputWidth];
        for (int o = 0, e = 0; o < outer; o++)
            for (int k = 0; k < c; k++)
                for (int i = 0; i < inner; i++, e++) (sets[e], parameters[e]) = (k / perGroup, k);
        var s = new GroupedNormStage(sets, parameters, Groups, c, Epsilon, Gamma, Beta, context.Batch) { Width = context.InputWidth };
        if (Trainable) (s.GammaGrad, s.BetaGrad) = (context.AddWeight(Gamma), context.AddWeight(Beta));
        stage = s;
        return true;
    }
}
