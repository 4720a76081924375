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
    /// <summary>Creates a loss with its Keras name.</summary>
    protected Loss([Config(Skip = true)] string name) => Name = name;

    /// <summary>The Keras name, e.g. <c>binary_crossentropy</c>.</summary>
    public string Name { get; }

    /// <summary>The loss averaged over the batch: a scalar tensor, differentiable with respect to <paramref name="yPred"/>.</summary>
    /// <param name="yTrue">The labels.</param>
    /// <param name="yPred">The model's predictions (probabilities or logits, as the loss was configured).</param>
    /// <exception cref="ArgumentException">The shapes are incompatible, or a label is invalid.</exception>
    public abstract Tensor Call(Tensor yTrue, Tensor yPred);

    /// <summary>The constructor arguments, Keras-named (e.g. <c>from_logits</c>), for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Loss> Create)[] Names =
    [
        ("binary_crossentropy", () => new BinaryCrossentropy()),
        ("categorical_crossentropy", () => new CategoricalCrossentropy()),
        ("sparse_categorical_crossentropy", () => new SparseCategoricalCrossentropy()),
        ("mean_squared_error", () => new MeanSquaredError()),
        ("mse", () => new MeanSquaredError()),
        ("mean_absolute_error", () => new MeanAbsoluteError()),
        ("mae", () => new MeanAbsoluteError()),
    ];

    /// <summary>
    /// The loss for a Keras name (<c>"binary_crossentropy"</c>, <c>"categorical_crossentropy"</c>,
    /// <c>"sparse_categorical_crossentropy"</c>, <c>"mean_squared_error"</c>/<c>"mse"</c>,
    /// <c>"mean_absolute_error"</c>/<c>"mae"</c>) or class name, with default arguments.
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
    private protected ProbabilisticLoss(string name, bool fromLogits) : base(name) => FromLogits = fromLogits;

    /// <summary>Whether predictions are logits (no sigmoid or softmax applied) rather than probabilities.</summary>
    public bool FromLogits { get; }
}
