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
/// <remarks>Keras's ε is 1e-3; PyTorch's <c>nn.LayerNorm</c> defaults to 1e-5.</remarks>
/// <example><code>var model = new Sequential(new Input([10, 16]), new LayerNormalization(), new Dense(8));</code></example>
public sealed class LayerNormalization : Layer
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
        Regularizer? betaRegularizer = null, Regularizer? gammaRegularizer = null, string? name = null) : base(name)
    {
        if (axis == 0)
            throw new ArgumentOutOfRangeException(nameof(axis), $"LayerNormalization: axis cannot be the batch axis 0. Received: axis={axis}");
        if (!(epsilon > 0f))
            throw new ArgumentOutOfRangeException(nameof(epsilon), $"LayerNormalization: epsilon must be positive. Received: epsilon={epsilon}");
        Axis = axis;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        BetaRegularizer = betaRegularizer;
        GammaRegularizer = gammaRegularizer;
    }

    /// <summary>The axis normalised over, as given (negative counts from the end).</summary>
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
    /// <summary>γ, one per position on the axis (null without scale or before building).</summary>
    public Variable? Gamma { get; private set; }
    /// <summary>β, one per position on the axis (null without center or before building).</summary>
    public Variable? Beta { get; private set; }

    private int[]? builtShape;

    /// <summary>The axis in the full shape (batch axis 0), checked against the rank.</summary>
    private int ResolvedAxis(int[] shape)
    {
        int a = Axis < 0 ? Axis + shape.Length : Axis;
        if (shape.Length < 2 || a <= 0 || a >= shape.Length)
            throw new ArgumentException($"LayerNormalization '{Name}' expects input of rank at least 2 with axis {Axis} other than the batch axis. Received: shape {ImageLayers.Format(shape)}");
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
        if (s.Length != builtShape!.Length || s[ResolvedAxis(s)] != builtShape[ResolvedAxis(builtShape)])
            throw new ArgumentException($"LayerNormalization '{Name}' expects input of rank {builtShape.Length} with {builtShape[ResolvedAxis(builtShape)]} entries on axis {Axis}. Received: shape {ImageLayers.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] sample = context.Sample;
        int a = ResolvedAxis([-1, .. sample]) - 1, c = sample[a];
        int inner = sample[(a + 1)..].Aggregate(1, (x, y) => x * y), outer = sample[..a].Aggregate(1, (x, y) => x * y);
        // Element (o, k, i) of the sample's (outer, c, inner) view: one set per (o, i), γ and β indexed by k.
        var sets = new int[context.InputWidth];
        var parameters = new int[context.InputWidth];
        for (int o = 0, e = 0; o < outer; o++)
            for (int k = 0; k < c; k++)
                for (int i = 0; i < inner; i++, e++) (sets[e], parameters[e]) = (o * inner + i, k);
        var s = new GroupedNormStage(sets, parameters, outer * inner, c, Epsilon, Gamma, Beta, context.Batch) { Width = context.InputWidth };
        if (Trainable) (s.GammaGrad, s.BetaGrad) = (context.AddWeight(Gamma), context.AddWeight(Beta));
        stage = s;
        return true;
    }
}

/// <summary>
/// The stage of LayerNormalization and GroupNormalization: each sample's floats fall into sets normalised separately
/// (<c>x̂ = (x − μ)/√(σ² + ε)</c>, μ and the biased σ² of the set, summed in double) and each float has a γ/β index
/// (<c>y = γ·x̂ + β</c>). Backward: with <c>ĝ = γ·g</c>, <c>dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))/√(σ² + ε)</c> over the set;
/// <c>dγ = Σ g·x̂</c>, <c>dβ = Σ g</c> over the batch.
/// </summary>
internal sealed class GroupedNormStage : Stage
{
    private readonly int[] sets, parameters;
    private readonly int setCount, parameterCount;
    private readonly float epsilon;
    private readonly Variable? gamma, beta;
    private readonly float[] normalized;
    private readonly double[] invStd, sum, sumSquares, dGamma, dBeta;
    public Tensor? GammaGrad, BetaGrad;

    public GroupedNormStage(int[] sets, int[] parameters, int setCount, int parameterCount, float epsilon, Variable? gamma, Variable? beta, int batch)
    {
        (this.sets, this.parameters, this.setCount, this.parameterCount, this.epsilon, this.gamma, this.beta) =
            (sets, parameters, setCount, parameterCount, epsilon, gamma, beta);
        normalized = new float[batch * sets.Length];
        invStd = new double[batch * setCount];
        sum = new double[setCount];
        sumSquares = new double[setCount];
        dGamma = new double[parameterCount];
        dBeta = new double[parameterCount];
    }

    public override void Forward(float[] input, int rows)
    {
        int width = sets.Length;
        double count = width / setCount;
        ReadOnlySpan<float> g = gamma == null ? default : gamma.AsSpan(), b = beta == null ? default : beta.AsSpan();
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = input.AsSpan(r * width, width);
            Span<float> xh = normalized.AsSpan(r * width, width), y = Output.AsSpan(r * width, width);
            Span<double> inv = invStd.AsSpan(r * setCount, setCount);
            sum.AsSpan().Clear();
            sumSquares.AsSpan().Clear();
            for (int e = 0; e < width; e++) sum[sets[e]] += x[e];
            for (int s = 0; s < setCount; s++) sum[s] /= count;   // now the mean
            for (int e = 0; e < width; e++)
            {
                double d = x[e] - sum[sets[e]];
                sumSquares[sets[e]] += d * d;
            }
            for (int s = 0; s < setCount; s++) inv[s] = 1.0 / Math.Sqrt(sumSquares[s] / count + epsilon);
            for (int e = 0; e < width; e++)
            {
                int p = parameters[e];
                double n = (x[e] - sum[sets[e]]) * inv[sets[e]];
                xh[e] = (float)n;
                y[e] = (float)(n * (g.IsEmpty ? 1.0 : g[p]) + (b.IsEmpty ? 0.0 : b[p]));
            }
        }
    }

    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        int width = sets.Length;
        double count = width / setCount;
        ReadOnlySpan<float> g = gamma == null ? default : gamma.AsSpan();
        dGamma.AsSpan().Clear();
        dBeta.AsSpan().Clear();
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> dy = OutputGrad.AsSpan(r * width, width), xh = normalized.AsSpan(r * width, width);
            for (int e = 0; e < width; e++)
            {
                dGamma[parameters[e]] += (double)dy[e] * xh[e];
                dBeta[parameters[e]] += dy[e];
            }
            if (inputGrad == null) continue;
            ReadOnlySpan<double> inv = invStd.AsSpan(r * setCount, setCount);
            sum.AsSpan().Clear();          // Σ ĝ per set
            sumSquares.AsSpan().Clear();   // Σ ĝ·x̂ per set
            for (int e = 0; e < width; e++)
            {
                double gh = dy[e] * (g.IsEmpty ? 1.0 : g[parameters[e]]);
                sum[sets[e]] += gh;
                sumSquares[sets[e]] += gh * xh[e];
            }
            Span<float> dx = inputGrad.AsSpan(r * width, width);
            for (int e = 0; e < width; e++)
            {
                int s = sets[e];
                double gh = dy[e] * (g.IsEmpty ? 1.0 : g[parameters[e]]);
                dx[e] = (float)((gh - sum[s] / count - xh[e] * sumSquares[s] / count) * inv[s]);
            }
        }
        if (GammaGrad != null) for (int p = 0; p < parameterCount; p++) GammaGrad.Span[p] = (float)dGamma[p];
        if (BetaGrad != null) for (int p = 0; p < parameterCount; p++) BetaGrad.Span[p] = (float)dBeta[p];
    }
}
