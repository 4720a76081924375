using System.Globalization;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.Precision))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.Recall))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.AUC))]

namespace Cortex.Metrics;

/// <summary>
/// The base of the metrics that count, at one or more thresholds, the (weighted) true and false positives and
/// negatives over every batch — <see cref="Precision"/>, <see cref="Recall"/>, <see cref="AUC"/> — as Keras's
/// update_confusion_matrix_variables does: a prediction is positive at a threshold when it exceeds it, a label is
/// positive when it is not 0. The counts are sums (exact over batches, not averages of batch averages).
/// </summary>
/// <example><code>ConfusionMetric m = new Precision(topK: 2, classId: 1);</code></example>
public abstract class ConfusionMetric : Metric
{
    /// <summary>Keras's NEG_INF: what top-k filtering gives the predictions outside the top k, and the threshold
    /// with top k and no thresholds (so every prediction in the top k counts as positive).</summary>
    private protected const float NegInf = -1e10f;

    private readonly float[] thresholds;   // ascending
    private readonly int? topK, classId;

    /// <summary>The counts per threshold: true positives, false positives, true negatives, false negatives.</summary>
    private protected readonly double[] Tp, Fp, Tn, Fn;

    /// <summary>Stores the ascending thresholds and the top-k and class filters.</summary>
    private protected ConfusionMetric(string name, float[] thresholds, int? topK, int? classId) : base(name)
    {
        if (topK is < 1)
            throw new ArgumentException($"{GetType().Name}: invalid value for argument topK: expected a positive integer or null. Received: topK={topK}", nameof(topK));
        if (classId is < 0)
            throw new ArgumentException($"{GetType().Name}: invalid value for argument classId: expected a class index >= 0 or null. Received: classId={classId}", nameof(classId));
        this.thresholds = thresholds;
        (this.topK, this.classId) = (topK, classId);
        (Tp, Fp, Tn, Fn) = (new double[thresholds.Length], new double[thresholds.Length], new double[thresholds.Length], new double[thresholds.Length]);
    }

    /// <inheritdoc/>
    /// <remarks>Weights are one per sample ((N,) or (N, 1)) or one per prediction.</remarks>
    /// <exception cref="ArgumentException">The shapes differ, classId is not a class of the predictions, or the weights fit neither.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        yTrue = AlignLabels(yTrue, yPred);
        int classes = yPred.Rank == 0 ? 1 : yPred.ShapeRef[^1], samples = yPred.Rank == 0 ? 1 : yPred.ShapeRef[0];
        if (classes == 0 || yPred.Size == 0) return;
        if (classId is int c && c >= classes)
            throw new ArgumentException($"Metric '{Name}': classId {c} is not a class of predictions with {classes} classes. Received: yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        ReadOnlySpan<float> w = sampleWeight == null ? default : sampleWeight.AsSpan();
        if (sampleWeight != null && w.Length != samples && w.Length != yPred.Size)
            throw new ArgumentException($"Metric '{Name}': sampleWeight must hold one weight per sample ({samples}) or per prediction ({yPred.Size}). Received: sampleWeight shape {ShapeUtil.Format(sampleWeight.ShapeRef)}");
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = topK is int k ? TopK(yPred.AsSpan(), classes, k) : yPred.AsSpan();
        int perSample = yPred.Size / samples;
        // How many predictions, of positive and of negative labels, exceed exactly the first i thresholds: one binary
        // search each, then the counts at every threshold are running sums.
        var positives = new double[thresholds.Length + 1];
        var negatives = new double[thresholds.Length + 1];
        for (int i = 0; i < p.Length; i++)
        {
            if (classId is int id && i % classes != id) continue;
            double wi = w.IsEmpty ? 1 : w.Length == p.Length ? w[i] : w[i / perSample];
            int above = Below(p[i]);
            if (t[i] != 0) positives[above] += wi;
            else negatives[above] += wi;
        }
        double pos = 0, neg = 0;
        for (int j = thresholds.Length - 1; j >= 0; j--)
        {
            pos += positives[j + 1];   // exceed threshold j
            neg += negatives[j + 1];
            Tp[j] += pos;
            Fp[j] += neg;
        }
        pos = neg = 0;
        for (int j = 0; j < thresholds.Length; j++)
        {
            pos += positives[j];       // exceed at most threshold j − 1, so not threshold j
            neg += negatives[j];
            Fn[j] += pos;
            Tn[j] += neg;
        }
    }

    /// <summary>The number of thresholds <paramref name="v"/> exceeds (they are ascending).</summary>
    private int Below(float v)
    {
        int lo = 0, hi = thresholds.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (v > thresholds[mid]) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Keras's _filter_top_k: per row, the k largest predictions (ties to the lower index) kept, the rest NegInf.</summary>
    private static float[] TopK(ReadOnlySpan<float> p, int classes, int k)
    {
        var filtered = new float[p.Length];
        filtered.AsSpan().Fill(NegInf);
        var taken = new bool[classes];
        for (int r = 0; r < p.Length / classes; r++)
        {
            var row = p.Slice(r * classes, classes);
            Array.Clear(taken);
            for (int n = 0; n < Math.Min(k, classes); n++)
            {
                int best = -1;
                for (int c = 0; c < classes; c++)
                    if (!taken[c] && (best < 0 || row[c] > row[best])) best = c;
                taken[best] = true;
                filtered[r * classes + best] = row[best];
            }
        }
        return filtered;
    }

    /// <summary>Keras's divide_no_nan: a / b, or 0 when b is 0.</summary>
    private protected static double Ratio(double a, double b) => b == 0 ? 0 : a / b;

    /// <inheritdoc/>
    internal override int ReducibleStateLength => 4 * Tp.Length;

    /// <summary>The four counts per threshold: they add up over the ranks of distributed training, so precision,
    /// recall and AUC are the global ones.</summary>
    internal override void ExchangeState(Span<double> state, bool write)
    {
        int n = Tp.Length;
        double[][] counts = [Tp, Fp, Tn, Fn];
        for (int k = 0; k < 4; k++)
            if (write) state.Slice(k * n, n).CopyTo(counts[k]);
            else counts[k].CopyTo(state.Slice(k * n, n));
    }

    /// <inheritdoc/>
    public override void ResetState()
    {
        Array.Clear(Tp);
        Array.Clear(Fp);
        Array.Clear(Tn);
        Array.Clear(Fn);
    }
}

/// <summary>
/// The base of <see cref="Precision"/> and <see cref="Recall"/>: confusion counts at one threshold, optionally over
/// each row's top k predictions only, or over one class's column.
/// </summary>
/// <example><code>ThresholdMetric m = new Recall(thresholds: 0.7f);</code></example>
public abstract class ThresholdMetric : ConfusionMetric
{
    /// <summary>Validates and stores the arguments (see <see cref="Precision(float?, int?, int?, string)"/>).</summary>
    private protected ThresholdMetric(string name, float? thresholds, int? topK, int? classId)
        : base(name, [thresholds ?? (topK == null ? 0.5f : NegInf)], topK, classId)
    {
        if (thresholds is float t && !(t >= 0 && t <= 1))
            throw new ArgumentException($"{GetType().Name}: invalid value for argument thresholds: threshold values must be in [0, 1]. Received: thresholds={t.ToString(CultureInfo.InvariantCulture)}", nameof(thresholds));
        (Thresholds, TopK, ClassId) = (thresholds, topK, classId);
    }

    /// <summary>The threshold given, or null for the default.</summary>
    public float? Thresholds { get; }

    /// <summary>How many of each row's largest predictions may count as positive, or null.</summary>
    public int? TopK { get; }

    /// <summary>The one class counted, or null.</summary>
    public int? ClassId { get; }
}

/// <summary>
/// Precision, <c>tp / (tp + fp)</c>: of the predictions counted positive (above the threshold, 0.5 by default), the
/// fraction whose label is positive; 0 before any positive prediction. With <c>topK</c>, only each row's k largest
/// predictions can count as positive; with <c>classId</c>, only that class's column is counted.
/// </summary>
/// <example>
/// <code>
/// var precision = new Precision();
/// precision.UpdateState(Tensor.FromArray(new float[] { 0, 1, 1, 1 }), Tensor.FromArray(new float[] { 1, 0, 1, 1 }));   // 2/3
/// </code>
/// </example>
public sealed class Precision : ThresholdMetric
{
    /// <summary>Creates the metric.</summary>
    /// <param name="thresholds">The threshold in [0, 1] a prediction must exceed to count as positive; null for 0.5
    /// (or, with <paramref name="topK"/>, for any prediction in the top k).</param>
    /// <param name="topK">Only each row's k largest predictions may count as positive; null for all.</param>
    /// <param name="classId">The one class (column) counted; null for all.</param>
    /// <param name="name">The reporting name.</param>
    /// <exception cref="ArgumentException">A threshold outside [0, 1], a topK below 1 or a negative classId.</exception>
    public Precision(float? thresholds = null, int? topK = null, int? classId = null, string name = "precision")
        : base(name, thresholds, topK, classId) { }

    /// <inheritdoc/>
    public override float Result() => (float)Ratio(Tp[0], Tp[0] + Fp[0]);
}

/// <summary>
/// Recall, <c>tp / (tp + fn)</c>: of the positive labels, the fraction predicted positive (above the threshold, 0.5
/// by default); 0 before any positive label. <c>topK</c> and <c>classId</c> as in <see cref="Precision"/>.
/// </summary>
/// <example>
/// <code>
/// var recall = new Recall();
/// recall.UpdateState(Tensor.FromArray(new float[] { 0, 1, 1, 1 }), Tensor.FromArray(new float[] { 1, 0, 1, 1 }));   // 2/3
/// </code>
/// </example>
public sealed class Recall : ThresholdMetric
{
    /// <inheritdoc cref="Precision(float?, int?, int?, string)"/>
    public Recall(float? thresholds = null, int? topK = null, int? classId = null, string name = "recall")
        : base(name, thresholds, topK, classId) { }

    /// <inheritdoc/>
    public override float Result() => (float)Ratio(Tp[0], Tp[0] + Fn[0]);
}

/// <summary>
/// The area under the ROC curve (true against false positive rate) or the precision–recall curve, as Keras computes
/// it: confusion counts at <c>numThresholds</c> thresholds evenly spaced over [0, 1] (the ends moved out by 1e-7),
/// summed over every batch, then a Riemann sum — trapezoids for ROC (<c>"interpolation"</c>), and for PR Davis &amp;
/// Goadrich's interpolation of precision between thresholds. Predictions are probabilities; every value of a
/// multi-column prediction counts as one binary prediction.
/// </summary>
/// <remarks>
/// With 200 thresholds the result differs from the exact area (all distinct predictions as thresholds) by up to
/// about 1/200 for scores spread over [0, 1] — the predictions between two thresholds are merged.
/// </remarks>
/// <example>
/// <code>
/// var auc = new AUC(numThresholds: 200, curve: "ROC");
/// auc.UpdateState(Tensor.FromArray(new float[] { 0, 0, 1, 1 }), Tensor.FromArray(new float[] { 0.1f, 0.4f, 0.35f, 0.8f }));   // ≈ 0.75
/// </code>
/// </example>
public sealed class AUC : ConfusionMetric
{
    /// <summary>Creates the metric.</summary>
    /// <param name="numThresholds">How many thresholds: more than 1.</param>
    /// <param name="curve"><c>"ROC"</c> or <c>"PR"</c>.</param>
    /// <param name="summationMethod"><c>"interpolation"</c>, <c>"minoring"</c> (left sums) or <c>"majoring"</c> (right sums).</param>
    /// <param name="name">The reporting name.</param>
    /// <exception cref="ArgumentException">An argument has none of its allowed values.</exception>
    public AUC(int numThresholds = 200, string curve = "ROC", string summationMethod = "interpolation", string name = "auc")
        : base(name, Thresholds(numThresholds), null, null)
    {
        if (curve is not ("ROC" or "PR"))
            throw new ArgumentException($"AUC: invalid value for argument curve. Expected one of \"ROC\", \"PR\". Received: curve={Quote(curve)}", nameof(curve));
        if (summationMethod is not ("interpolation" or "minoring" or "majoring"))
            throw new ArgumentException($"AUC: invalid value for argument summationMethod. Expected one of \"interpolation\", \"minoring\", \"majoring\". Received: summationMethod={Quote(summationMethod)}", nameof(summationMethod));
        (NumThresholds, Curve, SummationMethod) = (numThresholds, curve, summationMethod);
    }

    private static string Quote(string? s) => s == null ? "null" : $"\"{Excerpt.Of(s)}\"";

    // Keras's: −ε, (i + 1)/(n − 1) for i < n − 2, 1 + ε.
    private static float[] Thresholds(int n)
    {
        if (n <= 1) throw new ArgumentException($"AUC: invalid value for argument numThresholds: expected an integer > 1. Received: numThresholds={n}", "numThresholds");
        var t = new float[n];
        t[0] = -1e-7f;
        for (int i = 0; i < n - 2; i++) t[i + 1] = (float)((i + 1) / (double)(n - 1));
        t[n - 1] = 1f + 1e-7f;
        return t;
    }

    /// <summary>How many thresholds.</summary>
    public int NumThresholds { get; }

    /// <summary>The curve: <c>"ROC"</c> or <c>"PR"</c>.</summary>
    public string Curve { get; }

    /// <summary>How the area is summed: <c>"interpolation"</c>, <c>"minoring"</c> or <c>"majoring"</c>.</summary>
    public string SummationMethod { get; }

    /// <inheritdoc/>
    public override float Result()
    {
        const double eps = 1e-7;
        int n = NumThresholds;
        double area = 0;
        if (Curve == "PR" && SummationMethod == "interpolation")
        {
            for (int i = 0; i < n - 1; i++)
            {
                double dtp = Tp[i] - Tp[i + 1], p0 = Tp[i] + Fp[i], p1 = Tp[i + 1] + Fp[i + 1];
                double slope = dtp / Math.Max(p0 - p1, eps), intercept = Tp[i + 1] - slope * p1;
                double ratio = p0 > 0 && p1 > 0 ? p0 / Math.Max(p1, eps) : 1;
                area += slope * (dtp + intercept * Math.Log(ratio)) / Math.Max(Tp[i + 1] + Fn[i + 1], eps);
            }
            return (float)area;
        }
        for (int i = 0; i < n - 1; i++)
        {
            double x0 = X(i), x1 = X(i + 1), y0 = Y(i), y1 = Y(i + 1);
            double height = SummationMethod == "interpolation" ? (y0 + y1) / 2 : SummationMethod == "minoring" ? Math.Min(y0, y1) : Math.Max(y0, y1);
            area += (x0 - x1) * height;
        }
        return (float)area;

        double Recall(int i) => Tp[i] / Math.Max(Tp[i] + Fn[i], eps);
        double X(int i) => Curve == "ROC" ? Fp[i] / Math.Max(Fp[i] + Tn[i], eps) : Recall(i);
        double Y(int i) => Curve == "ROC" ? Recall(i) : Tp[i] / Math.Max(Tp[i] + Fp[i], eps);
    }
}
