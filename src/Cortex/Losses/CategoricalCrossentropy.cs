using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.CategoricalCrossentropy))]

namespace Cortex.Losses;

/// <summary>
/// Categorical cross-entropy for one-hot (or soft) labels over the last axis: <c>−Σ y·log p</c> per sample, averaged
/// over the batch. A label outside [0, 1] (NaN included) is refused, naming its row and column.
/// </summary>
/// <remarks>
/// With probabilities (the default) each row is first divided by its sum and clipped to [1e-7, 1 − 1e-7], as Keras
/// does. With <c>fromLogits: true</c> the loss is <c>Σy·logsumexp(z) − Σ y·z</c>, finite for any logits, computed in
/// one fused op whose gradient is <c>(softmax(z)·Σy − y) / rows</c> — for one-hot labels, <c>(softmax − y) / N</c>.
/// </remarks>
/// <example>
/// <code>
/// var cce = new CategoricalCrossentropy(fromLogits: true);
/// Tensor j = cce.Call(Tensor.FromArray(new float[,] { { 0, 1, 0 } }), Tensor.FromArray(new float[,] { { 1, 3, -2 } }));
/// </code>
/// </example>
public sealed class CategoricalCrossentropy : ProbabilisticLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="fromLogits">Whether predictions are logits (no softmax applied) rather than probabilities.</param>
    public CategoricalCrossentropy(bool fromLogits = false) : base("categorical_crossentropy", fromLogits) { }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ, or a label is outside [0, 1] (the message names its row).</exception>
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        RequireClassAxis(yPred);
        CheckLabels(nameof(CategoricalCrossentropy), yTrue);
        if (FromLogits) return KernelOp("CategoricalCrossentropyFromLogits", FromLogitsKernel, yTrue, yPred);
        Tensor p = (yPred / yPred.Sum(-1, keepDims: true)).Clip(Epsilon, 1f - Epsilon);
        return -(yTrue * p.Log()).Sum(-1).Mean();
    }

    /// <summary>Rejects labels outside [0, 1], naming the first one, its row and column. One-hot rows and soft labels
    /// (any probabilities, summing to 1 or not, as Keras takes them) pass; see <see cref="Loss.CheckLabelsInUnitInterval"/>.</summary>
    internal static void CheckLabels(string owner, Tensor yTrue) =>
        CheckLabelsInUnitInterval(owner, yTrue, "a class probability: expected one-hot labels or probabilities in [0, 1]");

    /// <summary>
    /// The mean over rows of Σy·logsumexp(z) − Σy·z and (when <paramref name="grad"/> is not empty) its gradient,
    /// (Σy·softmax(z) − y)/rows, one pass per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double FromLogitsKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> z, int rows, int classes, Span<float> grad)
    {
        Span<float> scratch = classes <= 1024 ? stackalloc float[classes] : new float[classes];
        double sum = 0;
        float invRows = 1f / rows;
        for (int r = 0; r < rows; r++)
        {
            var zr = z.Slice(r * classes, classes);
            var yr = y.Slice(r * classes, classes);
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

    /// <inheritdoc/>
    private protected override LossKernel? Kernel(int labels, int rows, int columns) =>
        FromLogits && labels == rows * columns ? FromLogitsKernel : null;
}
