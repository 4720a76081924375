using Cortex.Autodiff;
using Cortex.Saving;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;

namespace Cortex.Losses;

/// <summary>
/// A loss function: compares labels with predictions and returns a scalar to minimise — the mean of the per-sample
/// losses over the batch (Keras's <c>"sum_over_batch_size"</c> reduction), differentiable with respect to the
/// predictions on a <see cref="GradientTape"/>.
/// </summary>
/// <remarks>
/// As in Keras, labels of shape (N,) with predictions of shape (N, 1) (or the reverse) are reshaped to match; any
/// other difference in shape is an error rather than a silent broadcast. Labels never take a gradient.
/// </remarks>
/// <example>
/// <code>
/// var loss = Loss.Get("mse");
/// Tensor j = loss.Call(Tensor.FromArray(new float[] { 1, 0 }), Tensor.FromArray(new float[] { 0.5f, 0.5f }));   // 0.25
/// </code>
/// </example>
public abstract class Loss
{
    /// <summary>Creates a loss with its Keras name and reduction.</summary>
    /// <param name="name">The Keras name.</param>
    /// <param name="reduction">How the per-sample losses become the result: <c>"sum_over_batch_size"</c> (their sum
    /// divided by their number, the default), <c>"mean"</c> (the same), <c>"sum"</c>, <c>"mean_with_sample_weight"</c>
    /// (their weighted sum divided by the sum of the sample weights) or <c>"none"</c> (the per-sample losses).</param>
    /// <exception cref="ArgumentException"><paramref name="reduction"/> is none of these.</exception>
    protected Loss([Config(Skip = true)] string name, string reduction = "sum_over_batch_size")
    {
        Name = name;
        Reduction = reduction is "sum_over_batch_size" or "mean" or "sum" or "mean_with_sample_weight" or "none"
            ? reduction
            : throw new ArgumentException($"{GetType().Name}: invalid value for argument reduction. Expected one of \"sum_over_batch_size\", \"sum\", \"mean\", \"mean_with_sample_weight\", \"none\". Received: reduction={(reduction == null ? "null" : $"\"{Excerpt.Of(reduction)}\"")}", nameof(reduction));
    }

    /// <summary>The Keras name, e.g. <c>binary_crossentropy</c>.</summary>
    public string Name { get; }

    /// <summary>How per-sample losses are reduced: <c>"sum_over_batch_size"</c>, <c>"mean"</c>, <c>"sum"</c>,
    /// <c>"mean_with_sample_weight"</c> or <c>"none"</c>.</summary>
    public string Reduction { get; }

    /// <summary>Whether the reduction is a mean over the samples when no sample weights are given (what a span kernel computes).</summary>
    private bool MeanOverSamples => Reduction is "sum_over_batch_size" or "mean" or "mean_with_sample_weight";

    /// <summary>The loss of a batch, reduced as <see cref="Reduction"/> says (by default the mean of the per-sample
    /// losses: a scalar tensor), differentiable with respect to <paramref name="yPred"/>.</summary>
    /// <param name="yTrue">The labels.</param>
    /// <param name="yPred">The model's predictions (probabilities or logits, as the loss was configured).</param>
    /// <exception cref="ArgumentException">The shapes are incompatible, or a label is invalid.</exception>
    public Tensor Call(Tensor yTrue, Tensor yPred) => Call(yTrue, yPred, null);

    /// <summary>
    /// The loss of a batch with a weight per sample, as Keras's <c>loss(y_true, y_pred, sample_weight)</c>: the
    /// per-sample losses are multiplied by the weights, then reduced — <c>"sum_over_batch_size"</c> divides the weighted
    /// sum by the number of per-sample losses, not by the weights' sum (that is <c>"mean_with_sample_weight"</c>).
    /// </summary>
    /// <param name="yTrue">The labels.</param>
    /// <param name="yPred">The model's predictions.</param>
    /// <param name="sampleWeight">Null, or weights of the per-sample losses' shape (for predictions (N, classes):
    /// (N,) or (N, 1)), or of a shape that broadcasts to it; weights of lower rank apply to whole samples.</param>
    /// <exception cref="ArgumentException">The shapes are incompatible, or a label is invalid.</exception>
    public Tensor Call(Tensor yTrue, Tensor yPred, Tensor? sampleWeight) => Call(yTrue, yPred, sampleWeight, null);

    /// <summary>
    /// The loss of a batch whose predictions carry a mask, as Keras's loss on a <c>y_pred</c> with <c>_keras_mask</c>
    /// (a sequence model's padded steps): the mask (1 counts, 0 is left out) multiplies the sample weights and, for the
    /// mean reductions, the mean is over the counted entries only. Fit and Evaluate pass a Sequential's output mask here.
    /// </summary>
    /// <param name="yTrue">The labels.</param>
    /// <param name="yPred">The model's predictions.</param>
    /// <param name="sampleWeight">Null, or weights as for <see cref="Call(Tensor, Tensor, Tensor)"/>.</param>
    /// <param name="mask">Null, or the per-sample losses' shape (for predictions (N, T, classes): (N, T)).</param>
    /// <example><code>// logits (2, 3, 5), the last step of the second sequence padded
    /// Tensor loss = new SparseCategoricalCrossentropy(fromLogits: true).Call(labels, logits, null, Tensor.FromArray([1f, 1, 1, 1, 1, 0], 2, 3));</code></example>
    /// <exception cref="ArgumentException">The shapes are incompatible, or a label is invalid.</exception>
    public Tensor Call(Tensor yTrue, Tensor yPred, Tensor? sampleWeight, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        // The default reduction without weights is the batch mean a span kernel computes: the fused step's bits.
        if (sampleWeight == null && mask == null && MeanOverSamples && KernelCall(yTrue, yPred) is { } mean) return mean;
        var values = Compute(yTrue, yPred);
        if (mask != null && !ShapeUtil.SameShape(mask.ShapeRef, values.ShapeRef))
            throw new ArgumentException($"{GetType().Name}: mask must have the per-sample losses' shape {ShapeUtil.Format(values.ShapeRef)}. Received: mask shape {ShapeUtil.Format(mask.ShapeRef)}", nameof(mask));
        var own = Mask(yTrue, yPred);   // as Keras: the input mask and the loss's own (ignoreClass) are and-ed
        return Reduce(values, sampleWeight, mask == null ? own : own == null ? mask : mask * own);
    }

    /// <summary>
    /// The per-sample losses, unreduced (Keras's <c>loss.call</c>): for predictions of shape (N, …, k), shape
    /// (N, …) — one loss per row of the reduced axis. <see cref="LossFunctions"/> returns these by name.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes are incompatible, or a label is invalid.</exception>
    public Tensor PerSample(Tensor yTrue, Tensor yPred)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        return Compute(yTrue, yPred);
    }

    /// <summary>Validates and computes the per-sample losses with tensor ops (so a tape differentiates them).</summary>
    /// <param name="yTrue">The labels (not null).</param>
    /// <param name="yPred">The predictions (not null).</param>
    protected abstract Tensor Compute(Tensor yTrue, Tensor yPred);

    /// <summary>The tape op of this loss's span kernel on the default reduction, after validating the labels, or
    /// null when the kernel does not apply (the loss is then computed by <see cref="Compute"/>).</summary>
    private protected virtual Tensor? KernelCall(Tensor yTrue, Tensor yPred) => null;

    /// <summary>Which per-sample losses count (1) and which are left out (0) of the reduction, or null for all
    /// (<see cref="SparseCategoricalCrossentropy.IgnoreClass"/>).</summary>
    private protected virtual Tensor? Mask(Tensor yTrue, Tensor yPred) => null;

    /// <summary>Keras's reduce_weighted_values: the mask folded into the weights (scaled, for a mean, so the mean is
    /// over the counted losses only), the weights applied, then the reduction.</summary>
    private Tensor Reduce(Tensor values, Tensor? sampleWeight, Tensor? mask)
    {
        Tensor? weight = sampleWeight == null ? null : AlignWeights(sampleWeight, values);
        if (mask != null)
        {
            if (Reduction is "sum_over_batch_size" or "mean")
            {
                float valid = mask.Sum().Item();
                mask = mask * (valid == 0 ? 0f : mask.Size / valid);
            }
            weight = weight == null ? mask : weight * mask;
        }
        if (weight != null) values = values * weight;
        if (Reduction == "none" || values.Rank == 0) return values;
        Tensor sum = values.Sum();
        if (Reduction == "sum") return sum;
        if (Reduction == "mean_with_sample_weight" && weight != null)   // the weights' sum: with a mask alone, the entries counted
        {
            float total = weight!.Size == values.Size ? weight.Sum().Item() : (weight * Tensor.Ones(values.ShapeRef)).Sum().Item();
            return total == 0 ? sum * 0f : sum / total;
        }
        return values.Size == 0 ? sum : sum / (float)values.Size;
    }

    /// <summary>Keras's squeeze_or_expand_to_same_rank for sample weights, then trailing axes of 1 so weights of
    /// lower rank weigh whole samples; the result must broadcast to the losses' shape.</summary>
    private Tensor AlignWeights(Tensor weight, Tensor values)
    {
        int[] shape = weight.ShapeRef, w = shape, v = values.ShapeRef;
        if (w.Length == v.Length + 1 && w[^1] == 1) weight = weight.Reshape(w[..^1]);
        else if (w.Length < v.Length && w.Length > 0) weight = weight.Reshape([.. w, .. Enumerable.Repeat(1, v.Length - w.Length)]);
        w = weight.ShapeRef;
        bool fits = w.Length <= v.Length;
        for (int i = 1; fits && i <= w.Length; i++) fits = w[^i] == 1 || w[^i] == v[^i];
        if (!fits)
            throw new ArgumentException($"{GetType().Name}: sampleWeight must have the per-sample losses' shape {ShapeUtil.Format(v)} (or one that broadcasts to it). Received: sampleWeight shape {ShapeUtil.Format(shape)}");
        return weight;
    }

    /// <summary>The constructor arguments, Keras-named (e.g. <c>from_logits</c>), for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Loss> Create)[] Names =
    [
        ("binary_crossentropy", () => new BinaryCrossentropy()),
        ("bce", () => new BinaryCrossentropy()),
        ("categorical_crossentropy", () => new CategoricalCrossentropy()),
        ("sparse_categorical_crossentropy", () => new SparseCategoricalCrossentropy()),
        ("mean_squared_error", () => new MeanSquaredError()),
        ("mse", () => new MeanSquaredError()),
        ("mean_absolute_error", () => new MeanAbsoluteError()),
        ("mae", () => new MeanAbsoluteError()),
        ("mean_absolute_percentage_error", () => new MeanAbsolutePercentageError()),
        ("mape", () => new MeanAbsolutePercentageError()),
        ("mean_squared_logarithmic_error", () => new MeanSquaredLogarithmicError()),
        ("msle", () => new MeanSquaredLogarithmicError()),
        ("huber", () => new Huber()),
        ("huber_loss", () => new Huber()),
        ("log_cosh", () => new LogCosh()),
        ("hinge", () => new Hinge()),
        ("squared_hinge", () => new SquaredHinge()),
        ("categorical_hinge", () => new CategoricalHinge()),
        ("kl_divergence", () => new KLDivergence()),
        ("kld", () => new KLDivergence()),
        ("kullback_leibler_divergence", () => new KLDivergence()),
        ("poisson", () => new Poisson()),
        ("cosine_similarity", () => new CosineSimilarity()),
    ];

    /// <summary>
    /// The loss for a Keras name or alias, with default arguments: <c>"binary_crossentropy"</c>/<c>"bce"</c>,
    /// <c>"categorical_crossentropy"</c>, <c>"sparse_categorical_crossentropy"</c>, <c>"mean_squared_error"</c>/<c>"mse"</c>,
    /// <c>"mean_absolute_error"</c>/<c>"mae"</c>, <c>"mean_absolute_percentage_error"</c>/<c>"mape"</c>,
    /// <c>"mean_squared_logarithmic_error"</c>/<c>"msle"</c>, <c>"huber"</c>, <c>"log_cosh"</c>/<c>"logcosh"</c>,
    /// <c>"hinge"</c>, <c>"squared_hinge"</c>, <c>"categorical_hinge"</c>, <c>"kl_divergence"</c>/<c>"kld"</c>,
    /// <c>"poisson"</c>, <c>"cosine_similarity"</c>; or a class name. Underscores and case are ignored, as in
    /// <c>"logcosh"</c> or <c>"KLD"</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Loss Get(string identifier) => ConfigJson.Resolve("loss", identifier, Names);

    /// <summary>Rebuilds a loss from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static Loss FromConfig(string className, JsonElement config) => ConfigRegistry.Losses.Create(className, config);

    /// <summary>Keras's epsilon: probabilities are clipped to [ε, 1 − ε] before taking logarithms.</summary>
    internal const float Epsilon = 1e-7f;

    /// <summary>
    /// A loss computed on spans in one pass, for a batch of <paramref name="rows"/> × <paramref name="columns"/>
    /// predictions: returns the loss (the batch mean) and, when <paramref name="grad"/> is not empty, writes its gradient
    /// with respect to the predictions. The one definition of such a loss: the tape op (<see cref="KernelOp"/>) and the
    /// training loop's fused step (<see cref="TryFused"/>) both run it, so they give the same bits.
    /// </summary>
    private protected delegate double LossKernel(ReadOnlySpan<float> yTrue, ReadOnlySpan<float> yPred, int rows, int columns, Span<float> grad);

    /// <summary>This loss's span kernel for <paramref name="labels"/> label floats and <paramref name="rows"/> ×
    /// <paramref name="columns"/> predictions, or null when it has none for them (it is then made of tensor ops).</summary>
    private protected virtual LossKernel? Kernel(int labels, int rows, int columns) => null;

    /// <summary>
    /// For the training loop's allocation-free step: the loss of a 2-D batch (<paramref name="rows"/> ×
    /// <paramref name="columns"/> predictions) and its gradient with respect to the predictions, written into
    /// <paramref name="grad"/>. Returns false when this loss has no kernel for these inputs (the loop then
    /// takes the GradientTape path). Labels have been validated by the caller.
    /// </summary>
    internal bool TryFused(ReadOnlySpan<float> yTrue, ReadOnlySpan<float> yPred, int rows, int columns, Span<float> grad, out float loss)
    {
        loss = 0;
        if (!MeanOverSamples) return false;
        if (Kernel(yTrue.Length, rows, columns) is not { } kernel) return false;
        loss = (float)kernel(yTrue, yPred, rows, columns, grad);
        return true;
    }

    /// <summary>
    /// The tape op of a loss with a <see cref="LossKernel"/>, over the predictions' last axis. When a tape records it,
    /// the forward pass writes the gradient for an upstream gradient of 1 while its values are at hand (a softmax row);
    /// backward only rescales.
    /// </summary>
    private protected static Tensor KernelOp(string op, LossKernel kernel, Tensor yTrue, Tensor yPred)
    {
        int columns = yPred.Rank == 0 ? 1 : yPred.ShapeRef[^1], rows = columns == 0 ? 0 : yPred.Size / columns;
        bool recording = GradientTape.IsRecording;
        Tensor? grad = recording ? Tensor.Uninitialized(yPred.Size, yPred.ShapeRef) : null;
        var loss = Tensor.Scalar((float)kernel(yTrue.AsSpan(), yPred.AsSpan(), rows, columns, grad == null ? default : grad.Span));
        if (recording)
        {
            var node = GradientTape.Record(op, loss, static (g, n) =>
            {
                var unit = (Tensor)n.State!;
                float s = g.Item();
                return [null, s == 1f ? unit : unit * s];
            }, yTrue, yPred);
            if (node != null) node.State = grad;
        }
        return loss;
    }

    /// <summary>
    /// Keras's squeeze_or_expand_to_same_rank: labels (N,) meet predictions (N, 1) by gaining a trailing axis, labels
    /// (N, 1) meet predictions (N,) by losing it. Only the labels are reshaped, so the predictions' gradient keeps
    /// their shape. Afterwards the shapes must be equal.
    /// </summary>
    internal Tensor AlignLabels(Tensor yTrue, Tensor yPred)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        int[] t = yTrue.ShapeRef, p = yPred.ShapeRef;
        if (t.Length + 1 == p.Length && p[^1] == 1) yTrue = yTrue.Reshape(p);
        else if (p.Length + 1 == t.Length && t[^1] == 1) yTrue = yTrue.Reshape(p);
        if (!ShapeUtil.SameShape(yTrue.ShapeRef, p))
            throw new ArgumentException($"{GetType().Name}: yTrue and yPred must have the same shape. Received: yTrue shape {ShapeUtil.Format(t)}, yPred shape {ShapeUtil.Format(p)}");
        return yTrue;
    }

    /// <summary>
    /// Rejects cross-entropy labels outside [0, 1] (NaN included), naming the first one, its row and, in rows of
    /// several, its column. Such labels are 0, 1 or probabilities; −1 or 2 has no meaning there, and can make the loss
    /// unbounded below, so that training runs "downhill" forever instead of failing.
    /// </summary>
    /// <param name="owner">Who refuses, first in the message: <c>Fit</c>, <c>BinaryCrossentropy</c>, <c>Metric 'accuracy'</c>.</param>
    /// <param name="yTrue">The labels, samples along the first axis.</param>
    /// <param name="kind">What a label is, with what is expected: <c>a binary label: expected 0, 1 or a probability in [0, 1]</c>.</param>
    internal static void CheckLabelsInUnitInterval(string owner, Tensor yTrue, string kind)
    {
        ReadOnlySpan<float> y = yTrue.AsSpan();
        // Min and Max propagate NaN, so one SIMD pass each clears valid labels; only a bad one pays for the scan.
        if (y.IsEmpty || (TensorPrimitives.Min(y) >= 0 && TensorPrimitives.Max(y) <= 1)) return;
        int perRow = yTrue.Rank == 0 || yTrue.ShapeRef[0] == 0 ? 1 : Math.Max(1, yTrue.Size / yTrue.ShapeRef[0]);
        for (int i = 0; i < y.Length; i++)
        {
            if (y[i] >= 0 && y[i] <= 1) continue;
            string column = perRow > 1 ? $" (column {i % perRow})" : "";
            throw new ArgumentException($"{owner}: label {y[i].ToString(CultureInfo.InvariantCulture)} in row {i / perRow}{column} is not {kind}.");
        }
    }

    /// <summary>The axis an <paramref name="axis"/> argument names in <paramref name="yPred"/> (negative counts from the
    /// end), checked against its rank.</summary>
    internal int AxisOf(int axis, Tensor yPred)
    {
        int rank = Math.Max(1, yPred.Rank), a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
            throw new ArgumentException($"{GetType().Name}: axis {axis} is out of range for yPred of shape {ShapeUtil.Format(yPred.ShapeRef)} (rank {yPred.Rank}).");
        return a;
    }

    /// <summary>Rejects an argument that must be a number in [0, 1] (label smoothing), naming the loss, the argument
    /// and the value received.</summary>
    internal static float UnitInterval(string owner, string argument, float value) =>
        value >= 0 && value <= 1 ? value
            : throw new ArgumentException($"{owner}: invalid value for argument {argument}: expected a number in [0, 1]. Received: {argument}={value.ToString(CultureInfo.InvariantCulture)}", argument);

    /// <summary>Rejects predictions without a class axis (categorical losses).</summary>
    internal void RequireClassAxis(Tensor yPred)
    {
        if (yPred.Rank == 0 || yPred.ShapeRef[^1] == 0)
            throw new ArgumentException($"{GetType().Name}: yPred needs a class axis as its last dimension. Received: shape {ShapeUtil.Format(yPred.ShapeRef)}");
    }
}

/// <summary>
/// The base of the cross-entropies, whose predictions are probabilities or, with <see cref="FromLogits"/>, logits
/// (scores before the sigmoid or softmax) — the stable form the course recommends.
/// </summary>
/// <example><code>Loss loss = new SparseCategoricalCrossentropy(fromLogits: true);   // a ProbabilisticLoss</code></example>
public abstract class ProbabilisticLoss : Loss
{
    /// <summary>Stores the name and whether predictions are logits.</summary>
    private protected ProbabilisticLoss(string name, bool fromLogits, string reduction) : base(name, reduction) => FromLogits = fromLogits;

    /// <summary>Whether predictions are logits (no sigmoid or softmax applied) rather than probabilities.</summary>
    public bool FromLogits { get; }
}
