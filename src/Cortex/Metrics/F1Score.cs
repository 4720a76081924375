using System.Globalization;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.F1Score))]

namespace Cortex.Metrics;

/// <summary>
/// The F1 score, <c>2·precision·recall / (precision + recall)</c>, per class over every batch (true positives, false
/// positives and false negatives summed per class), for one-hot or multi-label predictions (N, classes), as Keras's
/// F1Score: a prediction counts as positive above <c>threshold</c>, or, without one, where it is its row's largest
/// (and not 0). Epsilons as Keras's (1e-7 in each ratio).
/// </summary>
/// <remarks>
/// <c>average</c>: <c>"micro"</c> (counts summed over classes first), <c>"macro"</c> (the mean of the classes'
/// scores), <c>"weighted"</c> (their mean weighted by each class's number of positive labels), or null (no average:
/// Keras's result is then the vector of the classes' scores — <see cref="ResultPerClass"/> here — and
/// <see cref="Result"/>, one number for the logs, is their unweighted mean).
/// </remarks>
/// <example>
/// <code>
/// var f1 = new F1Score(threshold: 0.5f);
/// f1.UpdateState(Tensor.FromArray(new float[,] { { 1, 1, 1 }, { 1, 0, 0 }, { 1, 1, 0 } }),
///                Tensor.FromArray(new float[,] { { 0.2f, 0.6f, 0.7f }, { 0.2f, 0.6f, 0.6f }, { 0.6f, 0.8f, 0f } }));
/// float[] perClass = f1.ResultPerClass();   // [0.5, 0.8, 0.667]
/// </code>
/// </example>
public sealed class F1Score : Metric
{
    private const double Eps = 1e-7;
    private double[] tp = [], fp = [], fn = [], support = [];

    /// <summary>Creates the metric.</summary>
    /// <param name="average">null, <c>"micro"</c>, <c>"macro"</c> or <c>"weighted"</c>.</param>
    /// <param name="threshold">In (0, 1]: predictions above it count as positive; null: each row's largest.</param>
    /// <param name="name">The reporting name.</param>
    /// <exception cref="ArgumentException">An argument has none of its allowed values.</exception>
    public F1Score(string? average = null, float? threshold = null, string name = "f1_score") : base(name)
    {
        if (average is not (null or "micro" or "macro" or "weighted"))
            throw new ArgumentException($"F1Score: invalid value for argument average. Expected one of null, \"micro\", \"macro\", \"weighted\". Received: average=\"{Excerpt.Of(average)}\"", nameof(average));
        if (threshold is float t && !(t > 0 && t <= 1))
            throw new ArgumentException($"F1Score: invalid value for argument threshold: expected a number in (0, 1]. Received: threshold={t.ToString(CultureInfo.InvariantCulture)}", nameof(threshold));
        (Average, Threshold) = (average, threshold);
    }

    /// <summary>How the classes' scores are averaged: null, <c>"micro"</c>, <c>"macro"</c> or <c>"weighted"</c>.</summary>
    public string? Average { get; }

    /// <summary>The threshold above which a prediction counts as positive, or null for each row's largest.</summary>
    public float? Threshold { get; }

    /// <inheritdoc/>
    /// <remarks>Weights are one per sample.</remarks>
    /// <exception cref="ArgumentException">The shapes differ or are not (N, classes), the classes differ from the
    /// first batch's, or the weights are not one per sample.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        yTrue = AlignLabels(yTrue, yPred);
        if (yPred.Rank != 2)
            throw new ArgumentException($"Metric '{Name}': expected predictions of shape (N, classes). Received: yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        int rows = yPred.ShapeRef[0], classes = yPred.ShapeRef[1];
        if (tp.Length == 0) (tp, fp, fn, support) = (new double[classes], new double[classes], new double[classes], new double[classes]);
        if (tp.Length != classes)
            throw new ArgumentException($"Metric '{Name}': expected {tp.Length} classes, as in the first batch. Received: yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        if (sampleWeight != null && sampleWeight.Size != rows)
            throw new ArgumentException($"Metric '{Name}': sampleWeight must hold one weight per sample ({rows}). Received: sampleWeight shape {ShapeUtil.Format(sampleWeight.ShapeRef)}");
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan(), w = sampleWeight == null ? default : sampleWeight.AsSpan();
        for (int r = 0; r < rows; r++)
        {
            var row = p.Slice(r * classes, classes);
            float max = float.NegativeInfinity;
            foreach (float v in row) max = MathF.Max(max, v);
            double wr = w.IsEmpty ? 1 : w[r];
            for (int c = 0; c < classes; c++)
            {
                bool positive = Threshold is float th ? row[c] > th : row[c] >= max && MathF.Abs(row[c]) > 1e-9f;
                double label = t[r * classes + c], predicted = positive ? 1 : 0;
                tp[c] += wr * predicted * label;
                fp[c] += wr * predicted * (1 - label);
                fn[c] += wr * (1 - predicted) * label;
                support[c] += wr * label;
            }
        }
    }

    /// <summary>Each class's F1 score so far (for <c>"micro"</c>, the one score of the summed counts); empty before any batch.</summary>
    public float[] ResultPerClass()
    {
        if (Average == "micro") return tp.Length == 0 ? [] : [(float)Score(tp.Sum(), fp.Sum(), fn.Sum())];
        var scores = new float[tp.Length];
        for (int c = 0; c < tp.Length; c++) scores[c] = (float)Score(tp[c], fp[c], fn[c]);
        return scores;
    }

    private static double Score(double tp, double fp, double fn)
    {
        double precision = tp / (tp + fp + Eps), recall = tp / (tp + fn + Eps);
        return precision * recall / (precision + recall + Eps) * 2;
    }

    /// <inheritdoc/>
    public override float Result()
    {
        if (tp.Length == 0) return float.NaN;
        if (Average == "micro") return (float)Score(tp.Sum(), fp.Sum(), fn.Sum());
        double total = support.Sum(), result = 0;
        for (int c = 0; c < tp.Length; c++)
            result += Score(tp[c], fp[c], fn[c]) * (Average == "weighted" ? support[c] / (total + Eps) : 1.0 / tp.Length);
        return (float)result;
    }

    /// <inheritdoc/>
    public override void ResetState() => tp = fp = fn = support = [];
}
