[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.BinaryCrossentropy))]

namespace Cortex.Losses;

/// <summary>
/// Binary cross-entropy for 0/1 labels (or probabilities): <c>−mean(y·log p + (1 − y)·log(1 − p))</c>, averaged over the
/// last axis and then over the batch.
/// </summary>
/// <remarks>
/// With probabilities (the default) p is clipped to [1e-7, 1 − 1e-7] first, as Keras does, so a confident wrong answer
/// costs at most −log(1e-7) ≈ 16.1 and its gradient is zero. With <c>fromLogits: true</c> the loss is computed from
/// logits z as <c>max(z, 0) − z·y + log(1 + e^−|z|)</c>, exact and finite for any z, in one fused op whose gradient is
/// <c>(σ(z) − y) / count</c>.
/// </remarks>
/// <example>
/// <code>
/// var bce = new BinaryCrossentropy(fromLogits: true);
/// Tensor j = bce.Call(Tensor.FromArray(new float[] { 1, 0 }), Tensor.FromArray(new float[,] { { 2 }, { -1 } }));
/// </code>
/// </example>
public sealed class BinaryCrossentropy : ProbabilisticLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="fromLogits">Whether predictions are logits (no sigmoid applied) rather than probabilities.</param>
    public BinaryCrossentropy(bool fromLogits = false) : base("binary_crossentropy", fromLogits) { }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ, or a label is outside [0, 1] (the message names its row).</exception>
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        CheckLabels(nameof(BinaryCrossentropy), yTrue);
        if (FromLogits) return KernelOp("BinaryCrossentropyFromLogits", FromLogitsKernel, yTrue, yPred);
        Tensor p = yPred.Clip(Epsilon, 1f - Epsilon);
        return -(yTrue * p.Log() + (1f - yTrue) * (1f - p).Log()).Mean();
    }

    /// <summary>Rejects labels outside [0, 1], naming the first one and its row: binary labels are 0 or 1, or a
    /// probability between (see <see cref="Loss.CheckLabelsInUnitInterval"/>).</summary>
    internal static void CheckLabels(string owner, Tensor yTrue) =>
        CheckLabelsInUnitInterval(owner, yTrue, "a binary label: expected 0, 1 or a probability in [0, 1]");

    /// <summary>
    /// The mean over every element of max(z, 0) − z·y + log(1 + e^−|z|) and (when <paramref name="grad"/> is not
    /// empty) its gradient (σ(z) − y)/count, in one pass.
    /// </summary>
    private static double FromLogitsKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> z, int rows, int columns, Span<float> grad)
    {
        int count = rows * columns;
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            float zi = z[i];
            sum += MathF.Max(zi, 0f) - zi * y[i] + NN.Log1p(MathF.Exp(-MathF.Abs(zi)));
        }
        if (!grad.IsEmpty)
        {
            float scale = 1f / count;
            for (int i = 0; i < count; i++) grad[i] = (Sigmoid(z[i]) - y[i]) * scale;
        }
        return sum / count;
    }

    /// <inheritdoc/>
    private protected override LossKernel? Kernel(int labels, int rows, int columns) =>
        FromLogits && labels == rows * columns ? FromLogitsKernel : null;

    // σ(z) without overflow: e^−z is only evaluated for z ≥ 0 and e^z for z < 0.
    private static float Sigmoid(float z)
    {
        if (z >= 0) return 1f / (1f + MathF.Exp(-z));
        float e = MathF.Exp(z);
        return e / (1f + e);
    }
}
