using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.SparseCategoricalCrossentropy))]

namespace Cortex.Losses;

/// <summary>
/// Categorical cross-entropy with integer labels: <c>−log p[label]</c> per sample, then reduced over the batch (by
/// default, averaged). Labels are class indices stored as floats, of shape (N,) or (N, 1) for predictions
/// (N, classes) — more generally the predictions' shape without its last axis, optionally followed by 1.
/// </summary>
/// <remarks>
/// With probabilities (the default) each row is divided by its sum and clipped to [1e-7, 1 − 1e-7], as Keras does.
/// With <c>fromLogits: true</c> the loss is <c>logsumexp(z) − z[label]</c>, finite for any logits; with the default
/// reduction it is one fused op (the training step's kernel) whose gradient is <c>(softmax(z) − onehot(label)) / N</c>.
/// With <c>ignoreClass</c>, as Keras 3: entries labelled with it (any value, e.g. −1 or 255) cost 0, take no
/// gradient, and are left out of the mean — the default reduction divides by the number of the other entries (in the
/// kernel too, so such a loss still trains on the fused step).
/// </remarks>
/// <example>
/// <code>
/// var loss = new SparseCategoricalCrossentropy(fromLogits: true, ignoreClass: -1);
/// Tensor j = loss.Call(Tensor.FromArray(new float[] { 2, -1 }), Tensor.FromArray(new float[,] { { 1, 0, 4 }, { 3, 1, 0 } }));
/// </code>
/// </example>
public sealed class SparseCategoricalCrossentropy : ProbabilisticLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="fromLogits">Whether predictions are logits (no softmax applied) rather than probabilities.</param>
    /// <param name="ignoreClass">A label value whose entries count for nothing (padding), or null.</param>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="reduction"/> is unknown.</exception>
    public SparseCategoricalCrossentropy(bool fromLogits = false, int? ignoreClass = null, string reduction = "sum_over_batch_size")
        : base("sparse_categorical_crossentropy", fromLogits, reduction)
    {
        IgnoreClass = ignoreClass;
        kernel = ignoreClass is int ignored ? (y, z, rows, classes, grad) => IgnoringKernel(y, z, rows, classes, grad, ignored) : FromLogitsKernel;
    }

    private readonly LossKernel kernel;

    /// <summary>The label value whose entries cost nothing and are left out of the mean, or null.</summary>
    public int? IgnoreClass { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The labels' shape does not fit, or a label is not a class index (the message names it and its row).</exception>
    protected override Tensor Compute(Tensor yTrue, Tensor yPred)
    {
        RequireClassAxis(yPred);
        int[] labels = Labels(yTrue, yPred);
        int classes = yPred.ShapeRef[^1];
        Tensor logP = FromLogits ? NN.LogSoftmax(yPred, -1) : (yPred / yPred.Sum(-1, keepDims: true)).Clip(Epsilon, 1f - Epsilon).Log();
        // Pick log p[label] per row by a one-hot mask; the mask carries the gradient to the labelled entries only,
        // and an ignored row's mask is all zero.
        var mask = Tensor.Zeros(yPred.ShapeRef);
        Span<float> m = mask.Span;
        for (int r = 0; r < labels.Length; r++)
            if (labels[r] >= 0) m[r * classes + labels[r]] = 1f;
        return -(mask * logP).Sum(-1);
    }

    /// <inheritdoc/>
    private protected override Tensor? KernelCall(Tensor yTrue, Tensor yPred)
    {
        if (!FromLogits) return null;
        RequireClassAxis(yPred);
        Labels(yTrue, yPred);
        return KernelOp("SparseCategoricalCrossentropyFromLogits", kernel, yTrue, yPred);
    }

    /// <inheritdoc/>
    private protected override Tensor? Mask(Tensor yTrue, Tensor yPred)
    {
        if (IgnoreClass is not int ignored) return null;
        var mask = Tensor.Zeros(yPred.ShapeRef[..^1]);
        Span<float> m = mask.Span;
        ReadOnlySpan<float> y = yTrue.AsSpan();
        for (int r = 0; r < m.Length; r++) m[r] = y[r] == ignored ? 0f : 1f;
        return mask;
    }

    private static double FromLogitsKernel(ReadOnlySpan<float> labels, ReadOnlySpan<float> z, int rows, int classes, Span<float> grad) =>
        IgnoringKernel(labels, z, rows, classes, grad, float.NaN);

    /// <summary>
    /// The mean over rows of logsumexp(z) − z[label], and (when <paramref name="grad"/> is not empty) its gradient, (softmax(z) − onehot)/rows, in one pass per row. Labels must already be validated class indices.
    /// Rows labelled <paramref name="ignored"/> (NaN: none) cost 0, take a zero gradient and are not counted in the
    /// mean. Shared by the tape op and the training loop's fused step so both give the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double IgnoringKernel(ReadOnlySpan<float> labels, ReadOnlySpan<float> z, int rows, int classes, Span<float> grad, float ignored)
    {
        Span<float> scratch = classes <= 1024 ? stackalloc float[classes] : new float[classes];
        double sum = 0;
        int counted = rows;
        if (!float.IsNaN(ignored))
            foreach (float label in labels[..rows]) if (label == ignored) counted--;
        if (counted == 0)
        {
            grad.Clear();
            return 0;   // Keras's divide_no_nan: nothing counted costs nothing
        }
        float invRows = 1f / counted;
        for (int r = 0; r < rows; r++)
        {
            if (labels[r] == ignored)
            {
                if (!grad.IsEmpty) grad.Slice(r * classes, classes).Clear();
                continue;
            }
            var zr = z.Slice(r * classes, classes);
            float max = TensorPrimitives.Max(zr);
            TensorPrimitives.Subtract(zr, max, scratch);
            TensorPrimitives.Exp(scratch, scratch);
            float total = TensorPrimitives.Sum(scratch);
            int label = (int)labels[r];
            sum += MathF.Log(total) - (zr[label] - max); // logsumexp(z) − z[label], the max cancelling exactly
            if (!grad.IsEmpty)
            {
                var gr = grad.Slice(r * classes, classes);
                TensorPrimitives.Multiply(scratch, invRows / total, gr);
                gr[label] -= invRows;
            }
        }
        return sum / counted;
    }

    /// <inheritdoc/>
    private protected override LossKernel? Kernel(int labels, int rows, int columns) =>
        FromLogits && labels == rows ? kernel : null;

    /// <summary>Checks the labels' shape and values and returns them as row-major class indices (−1 for an ignored entry).</summary>
    private int[] Labels(Tensor yTrue, Tensor yPred)
    {
        int[] p = yPred.ShapeRef, t = yTrue.ShapeRef;
        var rowShape = p.AsSpan(0, p.Length - 1);
        bool fits = t.AsSpan().SequenceEqual(rowShape) || (t.Length == p.Length && t[^1] == 1 && t.AsSpan(0, t.Length - 1).SequenceEqual(rowShape));
        if (!fits)
            throw new ArgumentException($"{GetType().Name}: labels must be class indices of shape {ShapeUtil.Format(rowShape)} or {ShapeUtil.Format([.. rowShape, 1])} for yPred of shape {ShapeUtil.Format(p)}. Received: yTrue shape {ShapeUtil.Format(t)}");
        int classes = p[^1];
        ReadOnlySpan<float> y = yTrue.AsSpan();
        var labels = new int[y.Length];
        for (int r = 0; r < y.Length; r++)
        {
            float v = y[r];
            if (IgnoreClass is int ignored && v == ignored)
            {
                labels[r] = -1;
                continue;
            }
            if (!(v >= 0 && v < classes) || v != MathF.Floor(v))
                throw new ArgumentException($"{GetType().Name}: label {v} in row {r} is not a class index in [0, {classes}) for {classes} classes{(IgnoreClass is int i ? $" (nor the ignored class {i})" : "")}.");
            labels[r] = (int)v;
        }
        return labels;
    }
}
