[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.CategoricalAccuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.SparseCategoricalAccuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.TopKCategoricalAccuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.SparseTopKCategoricalAccuracy))]

namespace Cortex.Metrics;

/// <summary>
/// The base of the accuracies that compare each row's true class — the position of the largest one-hot label, or a
/// class index — with the row's predictions along the last axis: the largest (categorical accuracies) or any of the
/// k largest (top-k accuracies). Weights are one per sample.
/// </summary>
/// <example><code>ClassAccuracy acc = new TopKCategoricalAccuracy(k: 3);</code></example>
public abstract class ClassAccuracy : Mean
{
    private readonly bool sparse;
    private readonly int topK;

    /// <summary>Stores whether labels are class indices, and k (0 for the argmax match).</summary>
    private protected ClassAccuracy(string name, bool sparse, int topK) : base(name) => (this.sparse, this.topK) = (sparse, topK);

    /// <inheritdoc/>
    /// <remarks>As Keras, labels are not checked (a one-hot row's largest position counts; an index outside the classes never matches).</remarks>
    /// <exception cref="ArgumentException">The labels do not fit the predictions.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        int classes = yPred.Rank == 0 ? 0 : yPred.ShapeRef[^1];
        int rows = classes == 0 ? 0 : yPred.Size / classes;
        bool fits = sparse
            ? yPred.Rank > 0 && yTrue.Size == rows && yTrue.Rank <= yPred.Rank
            : ShapeUtil.SameShape(yTrue.ShapeRef, yPred.ShapeRef) && yPred.Rank > 0;
        if (!fits)
            throw new ArgumentException(sparse
                ? $"Metric '{Name}': expected one class index per row of yPred. Received: yTrue shape {ShapeUtil.Format(yTrue.ShapeRef)}, yPred shape {ShapeUtil.Format(yPred.ShapeRef)}"
                : $"Metric '{Name}': yTrue (one-hot) and yPred must have the same shape with a class axis. Received: yTrue shape {ShapeUtil.Format(yTrue.ShapeRef)}, yPred shape {ShapeUtil.Format(yPred.ShapeRef)}");
        if (rows == 0) return;
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan();
        Span<double> values = Scratch(rows);
        for (int r = 0; r < rows; r++)
        {
            var row = p.Slice(r * classes, classes);
            float target = sparse ? t[r] : ArgMax(t.Slice(r * classes, classes));
            values[r] = (topK == 0 ? ArgMax(row) == target : InTopK(row, target, topK)) ? 1 : 0;
        }
        AddSamples(values, Samples(yPred), sampleWeight);
    }

    /// <summary>The first position of the largest value.</summary>
    internal static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
        return best;
    }

    /// <summary>Whether class <paramref name="target"/>'s prediction is among the k largest: fewer than k predictions
    /// exceed it (so ties at the k-th value count, as Keras's in_top_k).</summary>
    private static bool InTopK(ReadOnlySpan<float> row, float target, int k)
    {
        if (!(target >= 0 && target < row.Length) || target != MathF.Floor(target)) return false;
        float v = row[(int)target];
        int above = 0;
        foreach (float x in row) if (x > v) above++;
        return above < k;
    }

    /// <summary>Validates k of a top-k accuracy: a positive integer.</summary>
    private protected static int CheckK(string owner, int k) => k >= 1 ? k
        : throw new ArgumentException($"{owner}: invalid value for argument k: expected a positive integer. Received: k={k}", nameof(k));
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
public sealed class CategoricalAccuracy : ClassAccuracy
{
    /// <summary>Creates the metric.</summary>
    public CategoricalAccuracy(string name = "categorical_accuracy") : base(name, sparse: false, topK: 0) { }
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
public sealed class SparseCategoricalAccuracy : ClassAccuracy
{
    /// <summary>Creates the metric.</summary>
    public SparseCategoricalAccuracy(string name = "sparse_categorical_accuracy") : base(name, sparse: true, topK: 0) { }
}

/// <summary>
/// How often the true class (one-hot labels) is among the <c>k</c> largest predictions. Predictions tied with the
/// k-th largest count as among them, as in Keras.
/// </summary>
/// <example>
/// <code>
/// var acc = new TopKCategoricalAccuracy(k: 2);
/// acc.UpdateState(Tensor.FromArray(new float[,] { { 0, 0, 1 } }), Tensor.FromArray(new float[,] { { 0.5f, 0.2f, 0.3f } }));   // 1.0
/// </code>
/// </example>
public sealed class TopKCategoricalAccuracy : ClassAccuracy
{
    /// <summary>Creates the metric.</summary>
    /// <param name="k">How many of the largest predictions count: a positive integer.</param>
    /// <param name="name">The reporting name.</param>
    /// <exception cref="ArgumentException"><paramref name="k"/> is below 1.</exception>
    public TopKCategoricalAccuracy(int k = 5, string name = "top_k_categorical_accuracy")
        : base(name, sparse: false, topK: CheckK(nameof(TopKCategoricalAccuracy), k)) => K = k;

    /// <summary>How many of the largest predictions count.</summary>
    public int K { get; }
}

/// <summary>
/// How often the labelled class index is among the <c>k</c> largest predictions, labels of shape (N,) or (N, 1).
/// Predictions tied with the k-th largest count as among them, as in Keras.
/// </summary>
/// <example>
/// <code>
/// var acc = new SparseTopKCategoricalAccuracy(k: 2);
/// acc.UpdateState(Tensor.FromArray(new float[] { 2 }), Tensor.FromArray(new float[,] { { 0.5f, 0.2f, 0.3f } }));   // 1.0
/// </code>
/// </example>
public sealed class SparseTopKCategoricalAccuracy : ClassAccuracy
{
    /// <summary>Creates the metric.</summary>
    /// <param name="k">How many of the largest predictions count: a positive integer.</param>
    /// <param name="name">The reporting name.</param>
    /// <exception cref="ArgumentException"><paramref name="k"/> is below 1.</exception>
    public SparseTopKCategoricalAccuracy(int k = 5, string name = "sparse_top_k_categorical_accuracy")
        : base(name, sparse: true, topK: CheckK(nameof(SparseTopKCategoricalAccuracy), k)) => K = k;

    /// <summary>How many of the largest predictions count.</summary>
    public int K { get; }
}
