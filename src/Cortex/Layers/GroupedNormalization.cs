using Cortex.Initializers;
using Cortex.Regularizers;

namespace Cortex.Layers;

/// <summary>
/// What LayerNormalization and GroupNormalization share: each sample's floats are standardised in sets
/// (<c>x̂ = (x − μ)/√(σ² + ε)</c>, μ and the biased σ² of the set) and scaled and shifted per position on the axis
/// (<c>y = γ·x̂ + β</c>); the same in training and inference. The subclass says which axis and which sets.
/// </summary>
public abstract class GroupedNormalization : Layer
{
    private int[]? builtShape;

    /// <summary>Stores and checks the shared arguments (see the subclasses).</summary>
    private protected GroupedNormalization(string layer, int axis, float epsilon, bool center, bool scale, Initializer? betaInitializer,
        Initializer? gammaInitializer, Regularizer? betaRegularizer, Regularizer? gammaRegularizer, string? name) : base(name)
    {
        if (axis == 0)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{layer}: axis cannot be the batch axis 0. Received: axis={axis}");
        if (!(epsilon > 0f))
            throw new ArgumentOutOfRangeException(nameof(epsilon), $"{layer}: epsilon must be positive. Received: epsilon={epsilon}");
        Axis = axis;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        BetaRegularizer = betaRegularizer;
        GammaRegularizer = gammaRegularizer;
    }

    /// <summary>The axis γ and β run along, as given (negative counts from the end).</summary>
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

    /// <summary>The axis in the full shape (batch axis 0); throws naming the layer when the rank or the axis does not fit.</summary>
    private protected int ResolvedAxis(int[] shape)
    {
        int a = Axis < 0 ? Axis + shape.Length : Axis;
        if (shape.Length < 2 || a <= 0 || a >= shape.Length)
            throw new ArgumentException($"{GetType().Name} '{Name}' expects input of rank at least 2 with axis {Axis} other than the batch axis. Received: shape {ImageLayers.Format(shape)}");
        CheckAxis(shape, a);
        return a;
    }

    /// <summary>Further checks of the axis's size (GroupNormalization: the groups divide it).</summary>
    private protected virtual void CheckAxis(int[] shape, int axis) { }

    /// <summary>What the axis holds, for messages (<c>entries</c>, <c>channels</c>).</summary>
    private protected abstract string AxisEntries { get; }

    /// <summary>For a sample viewed as (outer, c, inner) around the axis of size <paramref name="c"/>, the set of element
    /// (o, k, i); returns the number of sets.</summary>
    private protected abstract int SetOf(int o, int k, int i, int outer, int c, int inner, out int set);

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
            throw new ArgumentException($"{GetType().Name} '{Name}' expects input of rank {builtShape.Length} with {c} {AxisEntries} on axis {Axis}. Received: shape {ImageLayers.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] sample = context.Sample;
        int a = ResolvedAxis([-1, .. sample]) - 1, c = sample[a], setCount = 0;
        int inner = sample[(a + 1)..].Aggregate(1, (x, y) => x * y), outer = sample[..a].Aggregate(1, (x, y) => x * y);
        var sets = new int[context.InputWidth];
        var parameters = new int[context.InputWidth];
        for (int o = 0, e = 0; o < outer; o++)
            for (int k = 0; k < c; k++)
                for (int i = 0; i < inner; i++, e++)
                {
                    setCount = SetOf(o, k, i, outer, c, inner, out sets[e]);
                    parameters[e] = k;
                }
        var s = new GroupedNormStage(sets, parameters, setCount, c, Epsilon, Gamma, Beta, context.Batch) { Width = context.InputWidth };
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
