using Cortex.Initializers;
using Cortex.Regularizers;

namespace Cortex.Layers;

/// <summary>
/// What LayerNormalization and GroupNormalization share: each sample's floats are standardised in sets
/// (<c>x̂ = (x − μ)/√(σ² + ε)</c>, μ and the biased σ² of the set) and scaled and shifted by γ and β, which run along
/// some of the sample's axes (<c>y = γ·x̂ + β</c>); the same in training and inference. The subclass says which axes
/// γ and β run along and which floats form a set.
/// </summary>
public abstract class GroupedNormalization : Layer
{
    private int[]? builtShape;

    /// <summary>Stores and checks the shared arguments (see the subclasses).</summary>
    private protected GroupedNormalization(string layer, float epsilon, bool center, bool scale, Initializer? betaInitializer,
        Initializer? gammaInitializer, Regularizer? betaRegularizer, Regularizer? gammaRegularizer, string? name) : base(name)
    {
        if (!(epsilon > 0f))
            throw new ArgumentOutOfRangeException(nameof(epsilon), $"{layer}: epsilon must be positive. Received: epsilon={epsilon}");
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
        BetaInitializer = betaInitializer ?? new Zeros();
        GammaInitializer = gammaInitializer ?? new Ones();
        BetaRegularizer = betaRegularizer;
        GammaRegularizer = gammaRegularizer;
    }

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
    /// <summary>γ, one per position on the normalised axes (null without scale or before building).</summary>
    public Variable? Gamma { get; private set; }
    /// <summary>β, one per position on the normalised axes (null without center or before building).</summary>
    public Variable? Beta { get; private set; }

    /// <summary>The axes of <paramref name="shape"/> (batch axis 0) that γ and β run along, ascending; throws naming the
    /// layer when the rank or the axes do not fit.</summary>
    private protected abstract int[] ParameterAxes(int[] shape);

    /// <summary>γ's and β's shape for inputs of <paramref name="shape"/> (Keras's: the axes' sizes in the order given).</summary>
    private protected abstract int[] ParameterShape(int[] shape);

    /// <summary>The set of each float of a sample of shape <paramref name="sample"/>, and the number of sets.</summary>
    private protected abstract (int[] Sets, int Count) SetsOf(int[] sample);

    /// <summary>What the built layer expects, for the message when an input does not fit.</summary>
    private protected abstract string Expected(int[] builtShape);

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        int[] shape = ParameterShape(inputShape);
        builtShape = (int[])inputShape.Clone();
        if (Scale) Gamma = AddWeight("gamma", shape, GammaInitializer, regularizer: GammaRegularizer);
        if (Center) Beta = AddWeight("beta", shape, BetaInitializer, regularizer: BetaRegularizer);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] s = inputs.ShapeRef, axes = ParameterAxes(builtShape!);
        if (s.Length != builtShape!.Length || !ParameterAxes(s).SequenceEqual(axes) || axes.Any(a => s[a] != builtShape[a]))
            throw new ArgumentException($"{GetType().Name} '{Name}' expects input of rank {builtShape.Length} with {Expected(builtShape)}. Received: shape {ImageLayers.Format(s)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] sample = context.Sample;
        int[] axes = [.. ParameterAxes([-1, .. sample]).Select(a => a - 1)];
        var (sets, count) = SetsOf(sample);
        // Each float's γ/β index: its position on the parameter axes, the first slowest (Keras reshapes γ so).
        var parameters = new int[context.InputWidth];
        var at = new int[sample.Length];
        for (int e = 0; e < parameters.Length; e++)
        {
            int p = 0;
            foreach (int a in axes) p = p * sample[a] + at[a];
            parameters[e] = p;
            for (int d = sample.Length - 1; d >= 0 && ++at[d] == sample[d]; d--) at[d] = 0;
        }
        int parameterCount = axes.Aggregate(1, (n, a) => n * sample[a]);
        var s = new GroupedNormStage(sets, parameters, count, parameterCount, Epsilon, Gamma, Beta, context.Batch) { Width = context.InputWidth };
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
