using Cortex.Losses;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.AutoAccuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.Accuracy))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.BinaryAccuracy))]

namespace Cortex.Metrics;

/// <summary>
/// What the string <c>"accuracy"</c> means in Keras's compile: the fraction of correct predictions, with the kind of
/// accuracy chosen on the first batch as Keras does — binary when the loss is <see cref="BinaryCrossentropy"/> or the
/// predictions have one column; sparse categorical when the loss is <see cref="SparseCategoricalCrossentropy"/>, the
/// labels have lower rank than the predictions, or the labels have one column and the predictions several;
/// categorical otherwise.
/// </summary>
/// <remarks>
/// Keras's class <c>keras.metrics.Accuracy</c> is another thing (exact equality of labels and predictions), which
/// Cortex names <see cref="Accuracy"/> too; <c>Metric.Get("accuracy", loss)</c> gives this class.
/// </remarks>
/// <example>
/// <code>
/// var acc = new AutoAccuracy(new BinaryCrossentropy());
/// acc.UpdateState(Tensor.FromArray(new float[] { 1, 0 }), Tensor.FromArray(new float[,] { { 0.8f }, { 0.6f } }));
/// float a = acc.Result();   // 0.5
/// </code>
/// </example>
public sealed class AutoAccuracy : Metric
{
    private readonly Loss? loss;
    private Metric? resolved;

    /// <summary>Creates the metric.</summary>
    /// <param name="loss">The compiled loss, if known; it decides the kind of accuracy and whether predictions are logits.</param>
    /// <param name="name">The reporting name (<c>"accuracy"</c> or <c>"acc"</c>).</param>
    public AutoAccuracy([Config(Skip = true)] Loss? loss = null, string name = "accuracy") : base(name) => this.loss = loss;

    /// <summary>The concrete accuracy chosen on the first batch, or null before it.</summary>
    public Metric? Resolved => resolved;

    /// <inheritdoc/>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        (resolved ??= Resolve(yTrue, yPred)).UpdateState(yTrue, yPred, sampleWeight);
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

    // Every accuracy it resolves to is a Mean (total, count); before the first batch the state is zeros.
    internal override int ReducibleStateLength => 2;

    internal override void ExchangeState(Span<double> state, bool write)
    {
        if (resolved != null) resolved.ExchangeState(state, write);
        else if (!write) state.Clear();
    }
}

/// <summary>
/// Keras's <c>Accuracy</c>: how often predictions equal labels exactly, <c>mean(yTrue == yPred)</c> — for
/// predictions that are already classes (e.g. rounded or argmax'ed). For probabilities or logits use
/// <c>"accuracy"</c> (<see cref="AutoAccuracy"/>), <see cref="BinaryAccuracy"/> or <see cref="CategoricalAccuracy"/>.
/// </summary>
/// <example>
/// <code>
/// var acc = new Accuracy();
/// acc.UpdateState(Tensor.FromArray(new float[] { 1, 2, 3, 4 }), Tensor.FromArray(new float[] { 0, 2, 3, 4 }));
/// float a = acc.Result();   // 0.75
/// </code>
/// </example>
public sealed class Accuracy : Mean
{
    /// <summary>Creates the metric.</summary>
    public Accuracy(string name = "accuracy") : base(name) { }

    /// <inheritdoc/>
    /// <remarks>Weights are one per sample or one per value.</remarks>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        AddElementwise(yTrue, yPred, sampleWeight, static (t, p) => t == p ? 1 : 0);
    }
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
    private readonly Func<float, float, double> match;

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
        float cut = fromLogits ? (threshold == 0.5f ? 0f : MathF.Log(threshold / (1 - threshold))) : threshold;
        match = (t, p) => t == (p > cut ? 1f : 0f) ? 1 : 0;
    }

    /// <summary>The probability above which a prediction counts as 1.</summary>
    public float Threshold { get; }

    /// <summary>Whether predictions are logits.</summary>
    public bool FromLogits { get; }

    /// <inheritdoc/>
    /// <remarks>As Keras, labels are not checked: a label other than 0 or 1 simply never matches (the loss, not the
    /// metric, refuses labels outside [0, 1] — before Fit updates anything). Weights are one per sample or one per value.</remarks>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight)
    {
        AddElementwise(yTrue, yPred, sampleWeight, match);
    }
}
