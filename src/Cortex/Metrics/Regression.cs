[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.MeanSquaredError))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.MeanAbsoluteError))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.RootMeanSquaredError))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.R2Score))]

namespace Cortex.Metrics;

/// <summary>The running mean of squared errors <c>(yTrue − yPred)²</c> over all batches.</summary>
/// <example>
/// <code>
/// var mse = new Cortex.Metrics.MeanSquaredError();
/// mse.UpdateState(Tensor.FromArray(new float[] { 1, 2 }), Tensor.FromArray(new float[] { 1, 4 }));   // 2.0
/// </code>
/// </example>
public sealed class MeanSquaredError : Mean
{
    /// <summary>Creates the metric (Keras's class name is <c>mean_squared_error</c>; <c>Metric.Get("mse")</c> reports as <c>mse</c>).</summary>
    public MeanSquaredError(string name = "mean_squared_error") : base(name) { }

    /// <inheritdoc/>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight) =>
        AddElementwise(yTrue, yPred, sampleWeight, static (t, p) => ((double)p - t) * ((double)p - t));
}

/// <summary>The running mean of absolute errors <c>|yTrue − yPred|</c> over all batches.</summary>
/// <example>
/// <code>
/// var mae = new Cortex.Metrics.MeanAbsoluteError();
/// mae.UpdateState(Tensor.FromArray(new float[] { 1, 2 }), Tensor.FromArray(new float[] { 1, 4 }));   // 1.0
/// </code>
/// </example>
public sealed class MeanAbsoluteError : Mean
{
    /// <summary>Creates the metric (Keras's class name is <c>mean_absolute_error</c>; <c>Metric.Get("mae")</c> reports as <c>mae</c>).</summary>
    public MeanAbsoluteError(string name = "mean_absolute_error") : base(name) { }

    /// <inheritdoc/>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight) =>
        AddElementwise(yTrue, yPred, sampleWeight, static (t, p) => Math.Abs((double)p - t));
}

/// <summary>The square root of the running mean of squared errors, <c>sqrt(mean((yTrue − yPred)²))</c> over all
/// batches (the mean accumulated, the root taken at the end, as Keras's).</summary>
/// <example>
/// <code>
/// var rmse = new RootMeanSquaredError();
/// rmse.UpdateState(Tensor.FromArray(new float[] { 1, 2 }), Tensor.FromArray(new float[] { 1, 4 }));   // √2
/// </code>
/// </example>
public sealed class RootMeanSquaredError : Mean
{
    /// <summary>Creates the metric.</summary>
    public RootMeanSquaredError(string name = "root_mean_squared_error") : base(name) { }

    /// <inheritdoc/>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight) =>
        AddElementwise(yTrue, yPred, sampleWeight, static (t, p) => ((double)p - t) * ((double)p - t));

    /// <inheritdoc/>
    public override float Result() => MathF.Sqrt(base.Result());
}

/// <summary>
/// The coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² per output column over every batch (sums
/// accumulated, so exact over batches), averaged over the outputs as <see cref="ClassAggregation"/> says, and
/// adjusted for <see cref="NumRegressors"/> when given: <c>1 − (1 − R²)(n − 1)/(n − p − 1)</c>.
/// </summary>
/// <remarks>Predictions (N,) or (N, outputs); weights one per sample. As Keras, an output whose labels are all equal
/// (an infinite ratio) scores 0.</remarks>
/// <example>
/// <code>
/// var r2 = new R2Score();
/// r2.UpdateState(Tensor.FromArray(new float[] { 1, 2, 3 }), Tensor.FromArray(new float[] { 1, 2.5f, 3 }));   // 0.875
/// </code>
/// </example>
public sealed class R2Score : Metric
{
    private double[] sum = [], squaredSum = [], residual = [], weight = [];
    private long samples;

    /// <summary>Creates the metric.</summary>
    /// <param name="classAggregation"><c>"uniform_average"</c> (the mean over outputs) or <c>"variance_weighted_average"</c>
    /// (weighted by each output's total variance).</param>
    /// <param name="numRegressors">The number of independent variables, for the adjusted R²; 0 for none.</param>
    /// <param name="name">The reporting name.</param>
    /// <exception cref="ArgumentException"><paramref name="classAggregation"/> is neither value, or <paramref name="numRegressors"/> is negative.</exception>
    public R2Score(string classAggregation = "uniform_average", int numRegressors = 0, string name = "r2_score") : base(name)
    {
        if (classAggregation is not ("uniform_average" or "variance_weighted_average"))
            throw new ArgumentException($"R2Score: invalid value for argument classAggregation. Expected one of \"uniform_average\", \"variance_weighted_average\". Received: classAggregation={(classAggregation == null ? "null" : $"\"{Excerpt.Of(classAggregation)}\"")}", nameof(classAggregation));
        if (numRegressors < 0)
            throw new ArgumentException($"R2Score: invalid value for argument numRegressors: expected an integer >= 0. Received: numRegressors={numRegressors}", nameof(numRegressors));
        ClassAggregation = classAggregation;
        NumRegressors = numRegressors;
    }

    /// <summary>How the outputs' scores are averaged: <c>"uniform_average"</c> or <c>"variance_weighted_average"</c>.</summary>
    public string ClassAggregation { get; }

    /// <summary>The number of independent variables for the adjusted R² (0: not adjusted).</summary>
    public int NumRegressors { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ, the predictions are not (N,) or (N, outputs), the outputs
    /// differ from the first batch's, or the weights are not one per sample.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        yTrue = AlignLabels(yTrue, yPred);
        if (yPred.Rank is not (1 or 2))
            throw new ArgumentException($"Metric '{Name}': expected predictions of shape (N,) or (N, outputs). Received: yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        int rows = yPred.ShapeRef[0], outputs = yPred.Rank == 1 ? 1 : yPred.ShapeRef[1];
        if (sum.Length == 0) (sum, squaredSum, residual, weight) = (new double[outputs], new double[outputs], new double[outputs], new double[outputs]);
        if (sum.Length != outputs)
            throw new ArgumentException($"Metric '{Name}': expected {sum.Length} outputs, as in the first batch. Received: yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        if (sampleWeight != null && sampleWeight.Size != rows)
            throw new ArgumentException($"Metric '{Name}': sampleWeight must hold one weight per sample ({rows}). Received: sampleWeight shape {ShapeUtil.Format(sampleWeight.ShapeRef)}");
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan(), w = sampleWeight == null ? default : sampleWeight.AsSpan();
        for (int r = 0; r < rows; r++)
        {
            double wr = w.IsEmpty ? 1 : w[r];
            for (int o = 0; o < outputs; o++)
            {
                double y = t[r * outputs + o], e = y - p[r * outputs + o];
                sum[o] += wr * y;
                squaredSum[o] += wr * y * y;
                residual[o] += wr * e * e;
                weight[o] += wr;
            }
        }
        samples += rows;
    }

    /// <inheritdoc/>
    public override float Result()
    {
        if (sum.Length == 0) return float.NaN;
        double weighted = 0, totals = 0, mean = 0;
        for (int o = 0; o < sum.Length; o++)
        {
            double total = squaredSum[o] - sum[o] * (sum[o] / weight[o]);
            double score = 1 - residual[o] / total;
            if (double.IsInfinity(score)) score = 0;
            mean += score / sum.Length;
            weighted += total * score;
            totals += total;
        }
        double r2 = ClassAggregation == "uniform_average" ? mean : weighted / totals;
        long n = samples;
        if (NumRegressors > 0 && NumRegressors < n - 1) r2 = 1 - (1 - r2) * (n - 1) / (n - NumRegressors - 1);
        return (float)r2;
    }

    /// <inheritdoc/>
    public override void ResetState()
    {
        sum = squaredSum = residual = weight = [];
        samples = 0;
    }
}
