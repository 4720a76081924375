using Cortex.Saving;
using System.Text.Json;
using Cortex.Losses;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Metrics.Mean))]

namespace Cortex.Metrics;

/// <summary>
/// A stateful measure of model quality, accumulated over batches as Keras metrics are: <see cref="UpdateState"/>
/// after each batch, <see cref="Result"/> for the value so far (a running mean weighted by batch size),
/// <see cref="ResetState"/> at the start of each epoch.
/// </summary>
/// <example>
/// <code>
/// var acc = Metric.Get("accuracy", new SparseCategoricalCrossentropy());
/// acc.UpdateState(labels, probabilities);
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
    public abstract void UpdateState(Tensor yTrue, Tensor yPred);

    /// <summary>The value over every batch since the last reset (NaN before any — Keras reports 0).</summary>
    public abstract float Result();

    /// <summary>Forgets all batches.</summary>
    public abstract void ResetState();

    /// <summary>The constructor arguments, Keras-named (<c>name</c>, …), for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly string[] ValidNames =
        ["accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "mse", "mean_squared_error", "mae", "mean_absolute_error"];

    /// <summary>
    /// The metric for a Keras name, reporting under that name: <c>"accuracy"</c>/<c>"acc"</c> (binary, categorical or
    /// sparse categorical, chosen from the loss and the first batch's shapes), <c>"binary_accuracy"</c>,
    /// <c>"categorical_accuracy"</c>, <c>"sparse_categorical_accuracy"</c>, <c>"mse"</c>/<c>"mean_squared_error"</c>,
    /// <c>"mae"</c>/<c>"mean_absolute_error"</c>.
    /// </summary>
    /// <param name="identifier">The Keras name.</param>
    /// <param name="loss">The compiled loss, if any: it tells accuracy which kind to use, and whether predictions are logits.</param>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Metric Get(string identifier, Loss? loss = null)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        bool logits = loss is BinaryCrossentropy { FromLogits: true };
        return identifier switch
        {
            "accuracy" or "acc" => new Accuracy(loss, identifier),
            "binary_accuracy" => new BinaryAccuracy(fromLogits: logits),
            "categorical_accuracy" => new CategoricalAccuracy(),
            "sparse_categorical_accuracy" => new SparseCategoricalAccuracy(),
            "mse" or "mean_squared_error" => new MeanSquaredError(identifier),
            "mae" or "mean_absolute_error" => new MeanAbsoluteError(identifier),
            _ => throw new ArgumentException($"Unknown metric '{identifier}'. Valid names: {string.Join(", ", ValidNames)}"),
        };
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

    /// <summary>Not meaningful for a plain mean, which tracks values: use <see cref="UpdateState(float, float)"/>.</summary>
    /// <exception cref="InvalidOperationException">Always, for <see cref="Mean"/> itself.</exception>
    public override void UpdateState(Tensor yTrue, Tensor yPred) =>
        throw new InvalidOperationException($"Metric '{Name}' is a running mean of values: call UpdateState(value, weight) instead.");

    /// <inheritdoc/>
    public override float Result() => (float)(total / count);

    /// <inheritdoc/>
    public override void ResetState() => total = count = 0;
}
