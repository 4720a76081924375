using Cortex.Losses;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.Accuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.BinaryAccuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.CategoricalAccuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.SparseCategoricalAccuracy))]

namespace Cortex.Metrics;

/// <summary>
/// Keras's <c>"accuracy"</c> string metric: the fraction of correct predictions, with the kind of accuracy chosen
/// on the first batch as Keras's compile does — binary when the loss is <see cref="BinaryCrossentropy"/> or the
/// predictions have one column; sparse categorical when the loss is <see cref="SparseCategoricalCrossentropy"/>, the
/// labels have lower rank than the predictions, or the labels have one column and the predictions several;
/// categorical otherwise.
/// </summary>
/// <remarks>
/// Keras's class <c>keras.metrics.Accuracy</c> is a different thing (exact equality of labels and predictions);
/// this class is the resolution behind the string <c>"accuracy"</c>, which is what Keras users mean by it.
/// </remarks>
/// <example>
/// <code>
/// var acc = new Accuracy(new BinaryCrossentropy());
/// acc.UpdateState(Tensor.FromArray(new float[] { 1, 0 }), Tensor.FromArray(new float[,] { { 0.8f }, { 0.6f } }));
/// float a = acc.Result();   // 0.5
/// </code>
/// </example>
public sealed class Accuracy : Metric
{
    private readonly Loss? loss;
    private Metric? resolved;

    /// <summary>Creates the metric.</summary>
    /// <param name="loss">The compiled loss, if known; it decides the kind of accuracy and whether predictions are logits.</param>
    /// <param name="name">The reporting name (<c>"accuracy"</c> or <c>"acc"</c>).</param>
    public Accuracy([Config(Skip = true)] Loss? loss = null, string name = "accuracy") : base(name) => this.loss = loss;

    /// <summary>The concrete accuracy chosen on the first batch, or null before it.</summary>
    public Metric? Resolved => resolved;

    /// <inheritdoc/>
    public override void UpdateState(Tensor yTrue, Tensor yPred)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        (resolved ??= Resolve(yTrue, yPred)).UpdateState(yTrue, yPred);
    }

    private Metric Resolve(Tensor yTrue, Tensor yPred)
    {
        if (loss is BinaryCrossentropy bce) return new BinaryAccuracy(fromLogits: bce.FromLogits, name: Name);
        if (loss is SparseCategoricalCrossentropy) return new SparseCategoricalAccuracy(Name);
        if (loss is CategoricalCrossentropy) return new CategoricalAccuracy(Name);
        int pLast = yPred.Rank == 0 ? 1 : yPred.ShapeRef[^1];
        int tLast = yTrue.Rank == 0 ? 1 : yTrue.ShapeRef[^1];
        if (pLast == 1) return new BinaryAccuracy(name: Name);
        if (yTrue.Rank < yPred.Rank || (tLast == 1 && pLast > 1)) return new SparseCategoricalAccuracy(Name);
        return new CategoricalAccuracy(Name);
    }

    /// <inheritdoc/>
    public override float Result() => resolved?.Result() ?? float.NaN;

    /// <inheritdoc/>
    public override void ResetState() => resolved?.ResetState();
}

/// <summary>
/// The fraction of binary predictions that match the labels, a prediction counting as 1 when it exceeds the
/// threshold: <c>mean(yTrue == (yPred &gt; threshold))</c>.
/// </summary>
/// <remarks>
/// With <c>fromLogits: true</c> the threshold applies to σ(yPred), i.e. the logits are compared with
/// logit(threshold) — 0 for the default 0.5. This deliberately differs from Keras, whose metric compares logits
/// with 0.5 directly even after <c>BinaryCrossentropy(from_logits=True)</c>, miscounting logits in (0, 0.5].
/// </remarks>
/// <example>
/// <code>
/// var acc = new BinaryAccuracy();
/// acc.UpdateState(Tensor.FromArray(new float[] { 1, 0, 1 }), Tensor.FromArray(new float[] { 0.9f, 0.2f, 0.4f }));
/// float a = acc.Result();   // 2/3
/// </code>
/// </example>
public sealed class BinaryAccuracy : Mean
{
    private readonly float cut;

    /// <summary>Creates the metric.</summary>
    /// <param name="threshold">The probability above which a prediction counts as 1.</param>
    /// <param name="fromLogits">Whether predictions are logits (compared with logit(threshold)).</param>
    /// <param name="name">The reporting name.</param>
    /// <exception cref="ArgumentException"><paramref name="threshold"/> is outside (0, 1) with logits, or NaN.</exception>
    public BinaryAccuracy(float threshold = 0.5f, bool fromLogits = false, string name = "binary_accuracy") : base(name)
    {
        if (float.IsNaN(threshold) || (fromLogits && !(threshold > 0 && threshold < 1)))
            throw new ArgumentException($"BinaryAccuracy: threshold must be a probability in (0, 1) when predictions are logits. Received: threshold={threshold}", nameof(threshold));
        Threshold = threshold;
        FromLogits = fromLogits;
        cut = fromLogits ? (threshold == 0.5f ? 0f : MathF.Log(threshold / (1 - threshold))) : threshold;
    }

    /// <summary>The probability above which a prediction counts as 1.</summary>
    public float Threshold { get; }

    /// <summary>Whether predictions are logits.</summary>
    public bool FromLogits { get; }

    /// <inheritdoc/>
    /// <remarks>As Keras, labels are not checked: a label other than 0 or 1 simply never matches (the loss, not the
    /// metric, refuses labels outside [0, 1] — before Fit updates anything).</remarks>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan();
        int hits = 0;
        for (int i = 0; i < p.Length; i++)
            if (t[i] == (p[i] > cut ? 1f : 0f)) hits++;
        Accumulate(hits, p.Length);
    }
}

/// <summary>
/// The fraction of rows whose largest prediction is at the position of the largest label (one-hot labels):
/// <c>mean(argmax(yTrue) == argmax(yPred))</c>. Ties go to the first index.
/// </summary>
/// <example>
/// <code>
/// var acc = new CategoricalAccuracy();
/// acc.UpdateState(Tensor.FromArray(new float[,] { { 0, 1 } }), Tensor.FromArray(new float[,] { { 0.3f, 0.7f } }));   // 1.0
/// </code>
/// </example>
public sealed class CategoricalAccuracy : Mean
{
    /// <summary>Creates the metric.</summary>
    public CategoricalAccuracy(string name = "categorical_accuracy") : base(name) { }

    /// <inheritdoc/>
    /// <remarks>As Keras, labels are not checked (only their largest position counts).</remarks>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        if (!ShapeUtil.SameShape(yTrue.ShapeRef, yPred.ShapeRef) || yPred.Rank == 0)
            throw new ArgumentException($"Metric '{Name}': yTrue (one-hot) and yPred must have the same shape with a class axis. Received: yTrue shape {ShapeUtil.Format(yTrue.ShapeRef)}, yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        int classes = yPred.ShapeRef[^1];
        if (classes == 0) return;
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan();
        int rows = p.Length / classes, hits = 0;
        for (int r = 0; r < rows; r++)
            if (ArgMax(t.Slice(r * classes, classes)) == ArgMax(p.Slice(r * classes, classes))) hits++;
        Accumulate(hits, rows);
    }

    internal static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
        return best;
    }
}

/// <summary>
/// The fraction of rows whose largest prediction is at the labelled class index: <c>mean(yTrue == argmax(yPred))</c>,
/// with labels of shape (N,) or (N, 1) for predictions (N, classes).
/// </summary>
/// <example>
/// <code>
/// var acc = new SparseCategoricalAccuracy();
/// acc.UpdateState(Tensor.FromArray(new float[] { 1 }), Tensor.FromArray(new float[,] { { 0.3f, 0.7f } }));   // 1.0
/// </code>
/// </example>
public sealed class SparseCategoricalAccuracy : Mean
{
    /// <summary>Creates the metric.</summary>
    public SparseCategoricalAccuracy(string name = "sparse_categorical_accuracy") : base(name) { }

    /// <inheritdoc/>
    public override void UpdateState(Tensor yTrue, Tensor yPred)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        int classes = yPred.Rank == 0 ? 0 : yPred.ShapeRef[^1];
        int rows = classes == 0 ? 0 : yPred.Size / classes;
        if (yPred.Rank == 0 || yTrue.Size != rows || yTrue.Rank > yPred.Rank)
            throw new ArgumentException($"Metric '{Name}': expected one class index per row of yPred. Received: yTrue shape {ShapeUtil.Format(yTrue.ShapeRef)}, yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        if (rows == 0) return;
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan();
        int hits = 0;
        for (int r = 0; r < rows; r++)
            if (t[r] == CategoricalAccuracy.ArgMax(p.Slice(r * classes, classes))) hits++;
        Accumulate(hits, rows);
    }
}
