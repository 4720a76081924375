[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.MeanSquaredError))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.MeanAbsoluteError))]

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
    public override void UpdateState(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan();
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double d = p[i] - t[i];
            sum += d * d;
        }
        // Every sample has the same number of elements, so the element mean equals Keras's mean of per-sample means.
        Accumulate(sum, p.Length);
    }
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
    public override void UpdateState(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan();
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += Math.Abs((double)p[i] - t[i]);
        Accumulate(sum, p.Length);
    }
}
