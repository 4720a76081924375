using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.CategoricalCrossentropy))]

namespace Cortex.Losses;

/// <summary>
/// Categorical cross-entropy for one-hot (or soft) labels over the class axis (<see cref="DenseLabelCrossentropy.Axis"/>, the last by
/// default): <c>−Σ y·log p</c> per sample, then reduced over the batch (by default, averaged). A label outside
/// [0, 1] (NaN included) is refused, naming its row and column.
/// </summary>
/// <remarks>
/// With probabilities (the default) each row is first divided by its sum and clipped to [1e-7, 1 − 1e-7], as Keras
/// does. With <c>fromLogits: true</c> the loss is <c>Σy·logsumexp(z) − Σ y·z</c>, finite for any logits; over the last
/// axis with the default reduction it is one fused op (the training step's kernel) whose gradient is
/// <c>(softmax(z)·Σy − y) / rows</c> — for one-hot labels, <c>(softmax − y) / N</c>. With <c>labelSmoothing</c> ls the
/// labels become <c>y·(1 − ls) + ls/classes</c>, as Keras's, in the kernel too. (Keras divides by the size of the
/// last axis even when <c>axis</c> names another; Cortex divides by the class axis's size.)
/// </remarks>
/// <example>
/// <code>
/// var cce = new CategoricalCrossentropy(fromLogits: true, labelSmoothing: 0.1f);
/// Tensor j = cce.Call(Tensor.FromArray(new float[,] { { 0, 1, 0 } }), Tensor.FromArray(new float[,] { { 1, 3, -2 } }));
/// </code>
/// </example>
public sealed class CategoricalCrossentropy : DenseLabelCrossentropy
{
    /// <summary>Creates the loss.</summary>
    /// <param name="fromLogits">Whether predictions are logits (no softmax applied) rather than probabilities.</param>
    /// <param name="labelSmoothing">In [0, 1]: labels y become <c>y·(1 − labelSmoothing) + labelSmoothing/classes</c>.</param>
    /// <param name="axis">The class axis (default the last).</param>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="labelSmoothing"/> is outside [0, 1], or <paramref name="reduction"/> is unknown.</exception>
    public CategoricalCrossentropy(bool fromLogits = false, float labelSmoothing = 0f, int axis = -1, string reduction = "sum_over_batch_size")
        : base("categorical_crossentropy", fromLogits, labelSmoothing, axis, reduction,
            s => s == 0 ? FromLogitsKernel : (y, z, rows, classes, grad) => SmoothedKernel(y, z, rows, classes, grad, s)) { }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ, or a label is outside [0, 1] (the message names its row).</exception>
    protected override Tensor Compute(Tensor yTrue, Tensor yPred)
    {
        yTrue = Labels(yTrue, yPred);
        int axis = AxisOf(Axis, yPred);
        Tensor y = LabelSmoothing == 0 ? yTrue : yTrue * (1f - LabelSmoothing) + LabelSmoothing / yPred.ShapeRef[axis];
        if (FromLogits) return -(y * NN.LogSoftmax(yPred, axis)).Sum(axis);
        Tensor p = (yPred / yPred.Sum(axis, keepDims: true)).Clip(Epsilon, 1f - Epsilon);
        return -(y * p.Log()).Sum(axis);
    }

    /// <inheritdoc/>
    private protected override Tensor Labels(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        RequireClassAxis(yPred);
        CheckLabels(nameof(CategoricalCrossentropy), yTrue);
        return yTrue;
    }

    /// <summary>Rejects labels outside [0, 1], naming the first one, its row and column. One-hot rows and soft labels
    /// (any probabilities, summing to 1 or not, as Keras takes them) pass; see <see cref="Loss.CheckLabelsInUnitInterval"/>.</summary>
    internal static void CheckLabels(string owner, Tensor yTrue) =>
        CheckLabelsInUnitInterval(owner, yTrue, "a class probability: expected one-hot labels or probabilities in [0, 1]");

    private static double FromLogitsKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> z, int rows, int classes, Span<float> grad) =>
        SmoothedKernel(y, z, rows, classes, grad, 0f);

    /// <summary>
    /// The mean over rows of Σy·logsumexp(z) − Σy·z and (when <paramref name="grad"/> is not empty) its gradient,
    /// (Σy·softmax(z) − y)/rows, one pass per row; each row's labels smoothed by <paramref name="smoothing"/> first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double SmoothedKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> z, int rows, int classes, Span<float> grad, float smoothing)
    {
        Span<float> scratch = classes <= 1024 ? stackalloc float[classes] : new float[classes];
        Span<float> smoothed = smoothing == 0 ? default : classes <= 1024 ? stackalloc float[classes] : new float[classes];
        double sum = 0;
        float invRows = 1f / rows;
        for (int r = 0; r < rows; r++)
        {
            var zr = z.Slice(r * classes, classes);
            scoped ReadOnlySpan<float> yr = y.Slice(r * classes, classes);
            if (smoothing != 0)
            {
                float keep = 1f - smoothing, shift = smoothing / classes;
                for (int c = 0; c < classes; c++) smoothed[c] = yr[c] * keep + shift;
                yr = smoothed;
            }
            float max = TensorPrimitives.Max(zr);
            TensorPrimitives.Subtract(zr, max, scratch);
            TensorPrimitives.Exp(scratch, scratch);
            float total = TensorPrimitives.Sum(scratch);
            float ySum = TensorPrimitives.Sum(yr);
            // Σy·(max + log Σe^(z−max)) − Σ y·z, with max folded in as Σ y·(z − max) so large logits cancel exactly.
            float dot = 0;
            for (int c = 0; c < classes; c++) dot += yr[c] * (zr[c] - max);
            sum += ySum * MathF.Log(total) - dot;
            if (!grad.IsEmpty)
            {
                var gr = grad.Slice(r * classes, classes);
                float k = ySum / total * invRows;
                for (int c = 0; c < classes; c++) gr[c] = scratch[c] * k - yr[c] * invRows;
            }
        }
        return sum / rows;
    }
}
