using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.SparseCategoricalCrossentropy))]

namespace Cortex.Losses;

/// <summary>
/// Categorical cross-entropy with integer labels: <c>−log p[label]</c> per sample, averaged over the batch. Labels
/// are class indices stored as floats, of shape (N,) or (N, 1) for predictions (N, classes) — more generally the
/// predictions' shape without its last axis, optionally followed by 1.
/// </summary>
/// <remarks>
/// With probabilities (the default) each row is divided by its sum and clipped to [1e-7, 1 − 1e-7], as Keras does.
/// With <c>fromLogits: true</c> the loss is <c>logsumexp(z) − z[label]</c>, finite for any logits, in one fused op
/// whose gradient is <c>(softmax(z) − onehot(label)) / N</c>.
/// </remarks>
/// <example>
/// <code>
/// var loss = new SparseCategoricalCrossentropy(fromLogits: true);
/// Tensor j = loss.Call(Tensor.FromArray(new float[] { 2, 0 }), Tensor.FromArray(new float[,] { { 1, 0, 4 }, { 3, 1, 0 } }));
/// </code>
/// </example>
public sealed class SparseCategoricalCrossentropy : ProbabilisticLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="fromLogits">Whether predictions are logits (no softmax applied) rather than probabilities.</param>
    public SparseCategoricalCrossentropy(bool fromLogits = false) : base("sparse_categorical_crossentropy", fromLogits) { }

    /// <inheritdoc/>
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        RequireClassAxis(yPred);
        int[] labels = Labels(yTrue, yPred);
        if (FromLogits) return KernelOp("SparseCategoricalCrossentropyFromLogits", FromLogitsKernel, yTrue, yPred);
        int classes = yPred.ShapeRef[^1];
        Tensor p = (yPred / yPred.Sum(-1, keepDims: true)).Clip(Epsilon, 1f - Epsilon);
        // Pick log p[label] per row by a one-hot mask; the mask carries the gradient to the labelled entries only.
        var mask = Tensor.Zeros(yPred.ShapeRef);
        Span<float> m = mask.Span;
        for (int r = 0; r < labels.Length; r++) m[r * classes + labels[r]] = 1f;
        return -(mask * p.Log()).Sum(-1).Mean();
    }

    /// <summary>
    /// The mean over rows of logsumexp(z) − z[label], and (when <paramref name="grad"/> is not empty) its gradient, (softmax(z) − onehot)/rows, in one pass per row. Labels must already be validated class indices.
    /// Shared by the tape op and the training loop's fused step so both give the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double FromLogitsKernel(ReadOnlySpan<float> labels, ReadOnlySpan<float> z, int rows, int classes, Span<float> grad)
    {
        Span<float> scratch = classes <= 1024 ? stackalloc float[classes] : new float[classes];
        double sum = 0;
        float invRows = 1f / rows;
        for (int r = 0; r < rows; r++)
        {
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
        return sum / rows;
    }

    /// <inheritdoc/>
    private protected override LossKernel? Kernel(int labels, int rows, int columns) => FromLogits && labels == rows ? FromLogitsKernel : null;

    /// <summary>Checks the labels' shape and values and returns them as row-major class indices.</summary>
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
            if (!(v >= 0 && v < classes) || v != MathF.Floor(v))
                throw new ArgumentException($"{GetType().Name}: label {v} in row {r} is not a class index in [0, {classes}) for {classes} classes.");
            labels[r] = (int)v;
        }
        return labels;
    }
}
