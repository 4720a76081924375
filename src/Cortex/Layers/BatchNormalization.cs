using System.Runtime.CompilerServices;
using Cortex.Initializers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.BatchNormalization))]

namespace Cortex.Layers;

/// <summary>
/// Normalises each channel (by default the last axis) to mean 0 and variance 1, then scales by γ and shifts by β, as
/// <c>keras.layers.BatchNormalization</c>: <c>y = γ·(x − μ)/√(σ² + ε) + β</c>.
/// </summary>
/// <remarks>
/// In training (<c>Fit</c>, or <c>Call(x, training: true)</c>) μ and σ² are the batch's mean and biased variance, and
/// the moving statistics follow them: <c>moving = moving·momentum + batch·(1 − momentum)</c> (Keras updates the moving
/// variance with the biased batch variance; PyTorch uses the unbiased one). In inference the moving statistics are
/// used. γ and β are trainable; the moving mean and variance are not, and are saved with the model. A layer with
/// <c>Trainable = false</c> always runs in inference mode, as in Keras.
/// </remarks>
/// <example><code>var model = new Sequential(new Conv2D(32, 3), new BatchNormalization(), new Activation("relu"));</code></example>
public sealed class BatchNormalization : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="axis">The channel axis (default −1, channels last).</param>
    /// <param name="momentum">Weight of the old moving statistics in each update.</param>
    /// <param name="epsilon">Added to the variance before the square root.</param>
    /// <param name="center">Whether to learn β.</param>
    /// <param name="scale">Whether to learn γ.</param>
    /// <param name="betaInitializer">How β starts (zeros).</param>
    /// <param name="gammaInitializer">How γ starts (ones).</param>
    /// <param name="movingMeanInitializer">How the moving mean starts (zeros).</param>
    /// <param name="movingVarianceInitializer">How the moving variance starts (ones).</param>
    /// <param name="name">Layer name.</param>
    /// <exception cref="ArgumentOutOfRangeException">momentum is outside [0, 1] or epsilon is not positive.</exception>
    public BatchNormalization(int axis = -1, float momentum = 0.99f, float epsilon = 1e-3f, bool center = true, bool scale = true,
        Initializer? betaInitializer = null, Initializer? gammaInitializer = null,
        Initializer? movingMeanInitializer = null, Initializer? movingVarianceInitializer = null, string? name = null)
        : base(name)
    {
        if (!(momentum >= 0f && momentum <= 1f))
            throw new ArgumentOutOfRangeException(nameof(momentum), $"BatchNormalization: momentum must be in [0, 1]. Received: momentum={momentum}");
        if (!(epsilon > 0f))
            throw new ArgumentOutOfRangeException(nameof(epsilon), $"BatchNormalization: epsilon must be positive. Received: epsilon={epsilon}");
        Axis = axis;
        Momentum = momentum;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        MovingMeanInitializer = movingMeanInitializer ?? new Zeros();
        MovingVarianceInitializer = movingVarianceInitializer ?? new Ones();
    }

    /// <summary>The channel axis as given (negative counts from the end).</summary>
    public int Axis { get; }
    /// <summary>Weight of the old moving statistics.</summary>
    public float Momentum { get; }
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
    /// <summary>Initializer of the moving mean.</summary>
    public Initializer MovingMeanInitializer { get; }
    /// <summary>Initializer of the moving variance.</summary>
    public Initializer MovingVarianceInitializer { get; }
    /// <summary>γ, one per channel (null without scale or before building).</summary>
    public Variable? Gamma { get; private set; }
    /// <summary>β, one per channel (null without center or before building).</summary>
    public Variable? Beta { get; private set; }
    /// <summary>The moving mean (non-trainable).</summary>
    public Variable? MovingMean { get; private set; }
    /// <summary>The moving variance (non-trainable).</summary>
    public Variable? MovingVariance { get; private set; }

    private int rank;

    private int ResolvedAxis(int[] shape)
    {
        if (Axis < -shape.Length || Axis >= shape.Length || shape.Length < 2)
            throw new ArgumentException($"BatchNormalization '{Name}': axis {Axis} is out of range for input of rank {shape.Length} (shape {ShapeUtil.Format(shape)}); the batch axis cannot be normalised along.");
        int a = Axis < 0 ? Axis + shape.Length : Axis;
        if (a == 0)
            throw new ArgumentException($"BatchNormalization '{Name}': axis {Axis} is the batch axis of shape {ShapeUtil.Format(shape)}; pass the channel axis (−1 for channels last).");
        return a;
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        int c = inputShape[ResolvedAxis(inputShape)];
        rank = inputShape.Length;
        if (Scale) Gamma = AddWeight("gamma", [c], GammaInitializer);
        if (Center) Beta = AddWeight("beta", [c], BetaInitializer);
        MovingMean = AddWeight("moving_mean", [c], MovingMeanInitializer, trainable: false);
        MovingVariance = AddWeight("moving_variance", [c], MovingVarianceInitializer, trainable: false);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = inputs.ShapeRef;
        int c = MovingMean!.Size;
        if (s.Length != rank || s[ResolvedAxis(s)] != c)
            throw new ArgumentException($"BatchNormalization '{Name}' expects input of rank {rank} with {c} channels on axis {Axis}. Received: shape {ShapeUtil.Format(s)}");
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] shape = [-1, .. context.Sample];
        int axis = ResolvedAxis(shape), channels = shape[axis];
        int outerPerRow = 1;
        for (int i = 1; i < axis; i++) outerPerRow *= shape[i];
        var bn = new BatchNormStage(this, outerPerRow, channels, context.InputWidth / outerPerRow / channels, context.Training && Trainable)
            { Width = context.InputWidth };
        if (Trainable) (bn.GammaGrad, bn.BetaGrad) = (context.AddWeight(Gamma), context.AddWeight(Beta));   // frozen: inference mode
        stage = bn;
        return true;
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <summary>moving = moving·momentum + batch·(1 − momentum), for the mean and the variance (training steps).</summary>
    internal void UpdateMovingStatistics(ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchVariance)
    {
        Update(MovingMean!.Span, batchMean);
        Update(MovingVariance!.Span, batchVariance);
    }

    private void Update(Span<float> moving, ReadOnlySpan<float> batch)
    {
        for (int i = 0; i < moving.Length; i++) moving[i] = moving[i] * Momentum + batch[i] * (1f - Momentum);
    }
}

/// <summary>
/// BatchNormalization with <see cref="BatchNormOp"/>'s kernels on buffers made once, over the (outer, channels, inner)
/// view of the batch (channels last: inner = 1). In training (a trainable layer, training call) it normalises with the
/// batch's statistics, updates its moving averages and learns γ and β; otherwise (inference, or a frozen layer being
/// fine-tuned) it normalises with its moving statistics and only passes the gradient through, as Keras.
/// </summary>
internal sealed class BatchNormStage(BatchNormalization layer, int outerPerRow, int channels, int inner, bool training) : Stage
{
    public override bool LendsBuffers => true;

    public Tensor? GammaGrad, BetaGrad;
    private readonly float[] mean = new float[channels], variance = new float[channels], invStd = new float[channels],
        scale = new float[channels], shift = new float[channels], k = new float[channels],
        meanG = new float[channels], meanGx = new float[channels];
    private readonly double[] sumG = new double[channels], sumGx = new double[channels], scratch = new double[4 * channels];

    private ReadOnlySpan<float> Gamma => layer.Gamma == null ? default : layer.Gamma.AsSpan();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Forward(float[] input, int rows)
    {
        int n = rows * Width;
        BatchNormOp.ForwardCore(input.AsSpan(0, n), rows * outerPerRow, channels, inner, Gamma, layer.Beta == null ? default : layer.Beta.AsSpan(),
            layer.Epsilon, training, layer.MovingMean!.AsSpan(), layer.MovingVariance!.AsSpan(), mean, variance, invStd, scale, shift,
            scratch, Output.AsSpan(0, n));
        if (training && n > 0) layer.UpdateMovingStatistics(mean, variance);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        int n = rows * Width;
        if (GammaGrad == null && BetaGrad == null && inputGrad == null) return; // nothing to learn here and nothing to pass on
        BatchNormOp.BackwardCore(input.AsSpan(0, n), OutputGrad.AsSpan(0, n), rows * outerPerRow, channels, inner, mean, invStd, Gamma,
            training, inputGrad == null ? default : inputGrad.AsSpan(0, n), sumG, sumGx, scratch, k, meanG, meanGx);
        if (GammaGrad != null)
            for (int c = 0; c < channels; c++) GammaGrad.Span[c] = (float)sumGx[c];
        if (BetaGrad != null)
            for (int c = 0; c < channels; c++) BetaGrad.Span[c] = (float)sumG[c];
    }
}
