using Cortex.Saving;
using System.Text.Json;
using Cortex.Losses;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.Mean))]

namespace Cortex.Metrics;

/// <summary>
/// A stateful measure of model quality, accumulated over batches as Keras metrics are: <see cref="UpdateState(Tensor, Tensor, Tensor)"/>
/// after each batch, <see cref="Result"/> for the value so far (a running mean weighted by batch size),
/// <see cref="ResetState"/> at the start of each epoch.
/// </summary>
/// <example>
/// <code>
/// var acc = Metric.Get("accuracy", new SparseCategoricalCrossentropy());
/// acc.UpdateState(labels, probabilities, sampleWeight: null);
/// float value = acc.Result();
/// </code>
/// </example>
public abstract class Metric
{
    /// <summary>Creates a metric with the name it reports under.</summary>
    protected Metric(string name) => Name = name;

    /// <summary>The name the metric reports under in logs and history (e.g. <c>accuracy</c>).</summary>
    public string Name { get; }

    /// <summary>Adds one batch of labels and predictions to the running result.</summary>
    /// <exception cref="ArgumentException">The shapes are incompatible.</exception>
    public void UpdateState(Tensor yTrue, Tensor yPred) => UpdateState(yTrue, yPred, null);

    /// <summary>Adds one batch of labels and predictions, each sample weighted, to the running result (Keras's
    /// <c>update_state(y_true, y_pred, sample_weight)</c>). Weights are one per sample ((N,) or (N, 1)) or, where
    /// the metric says so, one per value.</summary>
    /// <exception cref="ArgumentException">The shapes are incompatible.</exception>
    public abstract void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight);

    /// <summary>The value over every batch since the last reset (NaN before any — Keras reports 0).</summary>
    public abstract float Result();

    /// <summary>Forgets all batches.</summary>
    public abstract void ResetState();

    /// <summary>The length of the additive state that distributed training sums over the ranks at the end of an epoch
    /// (a mean's total and count), so that the metric is global; 0 for a metric whose state does not add up that way
    /// (it then reports each rank's own value).</summary>
    internal virtual int ReducibleStateLength => 0;

    /// <summary>Reads (<paramref name="write"/> false: state into <paramref name="state"/>) or writes the additive state.</summary>
    internal virtual void ExchangeState(Span<double> state, bool write) { }

    /// <summary>The constructor arguments, Keras-named (<c>name</c>, …), for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Loss?, string, Metric> Create)[] Names =
    [
        ("accuracy", (loss, name) => new AutoAccuracy(loss, name)),
        ("acc", (loss, name) => new AutoAccuracy(loss, name)),
        ("binary_accuracy", (loss, _) => new BinaryAccuracy(fromLogits: loss is BinaryCrossentropy { FromLogits: true })),
        ("categorical_accuracy", (_, _) => new CategoricalAccuracy()),
        ("sparse_categorical_accuracy", (_, _) => new SparseCategoricalAccuracy()),
        ("top_k_categorical_accuracy", (_, _) => new TopKCategoricalAccuracy()),
        ("sparse_top_k_categorical_accuracy", (_, _) => new SparseTopKCategoricalAccuracy()),
        ("mse", (_, name) => new MeanSquaredError(name)),
        ("mean_squared_error", (_, name) => new MeanSquaredError(name)),
        ("mae", (_, name) => new MeanAbsoluteError(name)),
        ("mean_absolute_error", (_, name) => new MeanAbsoluteError(name)),
        ("root_mean_squared_error", (_, _) => new RootMeanSquaredError()),
        ("r2_score", (_, _) => new R2Score()),
        ("precision", (_, _) => new Precision()),
        ("recall", (_, _) => new Recall()),
        ("auc", (_, _) => new AUC()),
        ("f1_score", (_, _) => new F1Score()),
    ];

    /// <summary>
    /// The metric for a Keras name, reporting under that name: <c>"accuracy"</c>/<c>"acc"</c> (binary, categorical or
    /// sparse categorical, chosen from the loss and the first batch's shapes: see <see cref="AutoAccuracy"/>),
    /// <c>"binary_accuracy"</c>, <c>"categorical_accuracy"</c>, <c>"sparse_categorical_accuracy"</c>,
    /// <c>"top_k_categorical_accuracy"</c>, <c>"sparse_top_k_categorical_accuracy"</c>, <c>"mse"</c>/<c>"mean_squared_error"</c>,
    /// <c>"mae"</c>/<c>"mean_absolute_error"</c>, <c>"root_mean_squared_error"</c>, <c>"r2_score"</c>, <c>"precision"</c>,
    /// <c>"recall"</c>, <c>"auc"</c>, <c>"f1_score"</c>.
    /// </summary>
    /// <param name="identifier">The Keras name.</param>
    /// <param name="loss">The compiled loss, if any: it tells accuracy which kind to use, and whether predictions are logits.</param>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Metric Get(string identifier, Loss? loss = null)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        foreach (var (name, create) in Names)
            if (name == identifier) return create(loss, identifier);
        throw new ArgumentException($"Unknown metric '{Excerpt.Of(identifier)}'. Valid names: {string.Join(", ", Names.Select(n => n.Name))}");
    }

    /// <summary>Rebuilds a metric from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static Metric FromConfig(string className, JsonElement config) => ConfigRegistry.Metrics.Create(className, config);

    /// <summary>
    /// Keras's squeeze_or_expand_to_same_rank for labels and predictions that differ by a trailing axis of size 1,
    /// then a check that the shapes agree. Returns the labels reshaped to the predictions' shape.
    /// </summary>
    internal Tensor AlignLabels(Tensor yTrue, Tensor yPred)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        int[] t = yTrue.ShapeRef, p = yPred.ShapeRef;
        if ((t.Length + 1 == p.Length && p[^1] == 1) || (p.Length + 1 == t.Length && t[^1] == 1))
            return yTrue.Reshape(p);
        if (!ShapeUtil.SameShape(t, p))
            throw new ArgumentException($"Metric '{Name}': yTrue and yPred must have the same shape. Received: yTrue shape {ShapeUtil.Format(t)}, yPred shape {ShapeUtil.Format(p)}");
        return yTrue;
    }
}

/// <summary>A running, weighted mean of values: the base of every averaged metric, and the training loop's loss tracker.</summary>
/// <example>
/// <code>
/// var loss = new Mean("loss");
/// loss.UpdateState(0.5f, weight: 32);
/// loss.UpdateState(0.3f, weight: 16);
/// float avg = loss.Result();   // (0.5·32 + 0.3·16) / 48
/// </code>
/// </example>
public class Mean : Metric
{
    private double total, count;

    /// <summary>Creates the metric.</summary>
    public Mean(string name = "mean") : base(name) { }

    /// <summary>Adds <paramref name="value"/> with weight <paramref name="weight"/> (e.g. the batch size).</summary>
    public void UpdateState(float value, float weight = 1f)
    {
        total += (double)value * weight;
        count += weight;
    }

    /// <summary>Adds a sum of values and their total weight directly.</summary>
    protected void Accumulate(double sum, double weight)
    {
        total += sum;
        count += weight;
    }

    /// <summary>
    /// Adds a batch's values the way Keras's reduce_to_samplewise_values and Mean do: <paramref name="values"/> holds
    /// <paramref name="samples"/> consecutive runs of equal length, one per sample. Without weights each sample adds
    /// the mean of its run and counts 1; with one weight per sample, w·mean and w; with one weight per value,
    /// mean(w·v) and mean(w).
    /// </summary>
    /// <exception cref="ArgumentException">The weights are neither one per sample nor one per value.</exception>
    private protected void AddSamples(ReadOnlySpan<double> values, int samples, Tensor? sampleWeight)
    {
        ReadOnlySpan<float> w = sampleWeight == null ? default : sampleWeight.AsSpan();
        if (sampleWeight != null && w.Length != samples && w.Length != values.Length)
            throw new ArgumentException($"Metric '{Name}': sampleWeight must hold one weight per sample ({samples}) or per value ({values.Length}). Received: sampleWeight shape {ShapeUtil.Format(sampleWeight.ShapeRef)}");
        if (samples == 0) return;
        int per = values.Length / samples;
        bool perValue = sampleWeight != null && w.Length == values.Length;
        for (int i = 0; i < samples; i++)
        {
            double sum = 0, weights = 0;
            for (int j = 0; j < per; j++)
            {
                double wj = perValue ? w[i * per + j] : 1;
                sum += values[i * per + j] * wj;
                weights += wj;
            }
            double scale = sampleWeight == null || perValue ? 1 : w[i];
            total += scale * sum / per;
            count += scale * weights / per;
        }
    }

    /// <summary>Adds <paramref name="value"/>(label, prediction) of every element, labels aligned with the predictions
    /// first (Keras's squeeze_or_expand_to_same_rank), through <see cref="AddSamples"/>.</summary>
    /// <exception cref="ArgumentException">The shapes differ, or the weights fit neither the samples nor the values.</exception>
    private protected void AddElementwise(Tensor yTrue, Tensor yPred, Tensor? sampleWeight, Func<float, float, double> value)
    {
        yTrue = AlignLabels(yTrue, yPred);
        ReadOnlySpan<float> t = yTrue.AsSpan(), p = yPred.AsSpan();
        Span<double> values = Scratch(p.Length);
        for (int i = 0; i < p.Length; i++) values[i] = value(t[i], p[i]);
        AddSamples(values, Samples(yPred), sampleWeight);
    }

    private double[] scratch = [];

    /// <summary>A buffer of <paramref name="length"/> values for one batch, kept between batches so that a training
    /// step's metrics allocate nothing once the batch size is known.</summary>
    private protected Span<double> Scratch(int length)
    {
        if (scratch.Length < length) scratch = new double[length];
        return scratch.AsSpan(0, length);
    }

    /// <summary>The number of samples in a batch of predictions: the first axis (1 for a scalar).</summary>
    private protected static int Samples(Tensor yPred) => yPred.Rank == 0 ? 1 : yPred.ShapeRef[0];

    /// <summary>Not meaningful for a plain mean, which tracks values: use <see cref="UpdateState(float, float)"/>.</summary>
    /// <exception cref="InvalidOperationException">Always, for <see cref="Mean"/> itself.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred, Tensor? sampleWeight) =>

        throw new InvalidOperationException($"Metric '{Name}' is a running mean of values: call UpdateState(value, weight) instead.");

    /// <inheritdoc/>
    public override float Result() => (float)(total / count);

    internal override int ReducibleStateLength => 2;

    internal override void ExchangeState(Span<double> state, bool write)
    {
        if (write) (total, count) = (state[0], state[1]);
        else (state[0], state[1]) = (total, count);
    }

    /// <inheritdoc/>
    public override void ResetState() => total = count = 0;
}
