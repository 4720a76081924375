[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.BinaryCrossentropy))]

namespace Cortex.Losses;

/// <summary>
/// Binary cross-entropy for 0/1 labels (or probabilities): <c>−mean(y·log p + (1 − y)·log(1 − p))</c> over
/// <see cref="DenseLabelCrossentropy.Axis"/> per sample, then reduced over the batch (by default, averaged).
/// </summary>
/// <remarks>
/// With probabilities (the default) p is clipped to [1e-7, 1 − 1e-7] first, as Keras does, so a confident wrong answer
/// costs at most −log(1e-7) ≈ 16.1 and its gradient is zero. With <c>fromLogits: true</c> the loss is computed from
/// logits z as <c>max(z, 0) − z·y + log(1 + e^−|z|)</c>, exact and finite for any z; over the last axis with the
/// default reduction this is one fused op (the training step's kernel) whose gradient is <c>(σ(z) − y) / count</c>.
/// With <c>labelSmoothing</c> ls the labels become <c>y·(1 − ls) + ls/2</c>, as Keras's.
/// </remarks>
/// <example>
/// <code>
/// var bce = new BinaryCrossentropy(fromLogits: true, labelSmoothing: 0.1f);
/// Tensor j = bce.Call(Tensor.FromArray(new float[] { 1, 0 }), Tensor.FromArray(new float[,] { { 2 }, { -1 } }));
/// </code>
/// </example>
public sealed class BinaryCrossentropy : DenseLabelCrossentropy
{
    /// <summary>Creates the loss.</summary>
    /// <param name="fromLogits">Whether predictions are logits (no sigmoid applied) rather than probabilities.</param>
    /// <param name="labelSmoothing">In [0, 1]: labels y become <c>y·(1 − labelSmoothing) + labelSmoothing/2</c>.</param>
    /// <param name="axis">The axis the per-sample mean is taken over (default the last).</param>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="labelSmoothing"/> is outside [0, 1], or <paramref name="reduction"/> is unknown.</exception>
    public BinaryCrossentropy(bool fromLogits = false, float labelSmoothing = 0f, int axis = -1, string reduction = "sum_over_batch_size")
        : base("binary_crossentropy", fromLogits, labelSmoothing, axis, reduction,
            s => s == 0 ? FromLogitsKernel : (y, z, rows, columns, grad) => SmoothedKernel(y, z, rows, columns, grad, s)) { }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ, or a label is outside [0, 1] (the message names its row).</exception>
    protected override Tensor Compute(Tensor yTrue, Tensor yPred)
    {
        yTrue = Labels(yTrue, yPred);
        int axis = AxisOf(Axis, yPred);
        Tensor y = LabelSmoothing == 0 ? yTrue : yTrue * (1f - LabelSmoothing) + 0.5f * LabelSmoothing;
        Tensor e;
        if (FromLogits) e = Tensor.Maximum(yPred, 0f) - yPred * y + NN.Softplus(-yPred.Abs());
        else
        {
            Tensor p = yPred.Clip(Epsilon, 1f - Epsilon);
            e = -(y * p.Log() + (1f - y) * (1f - p).Log());
        }
        return yPred.Rank == 0 ? e : e.Mean(axis);
    }

    /// <inheritdoc/>
    private protected override Tensor Labels(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        CheckLabels(nameof(BinaryCrossentropy), yTrue);
        return yTrue;
    }

    /// <summary>Rejects labels outside [0, 1], naming the first one and its row: binary labels are 0 or 1, or a
    /// probability between (see <see cref="Loss.CheckLabelsInUnitInterval"/>).</summary>
    internal static void CheckLabels(string owner, Tensor yTrue) =>
        CheckLabelsInUnitInterval(owner, yTrue, "a binary label: expected 0, 1 or a probability in [0, 1]");

    /// <summary>
    /// The mean over every element of max(z, 0) − z·y + log(1 + e^−|z|) and (when <paramref name="grad"/> is not
    /// empty) its gradient (σ(z) − y)/count, in one pass; labels smoothed by <paramref name="smoothing"/> first.
    /// </summary>
    private static double SmoothedKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> z, int rows, int columns, Span<float> grad, float smoothing)
    {
        int count = rows * columns;
        float keep = 1f - smoothing, shift = 0.5f * smoothing;
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            float zi = z[i], yi = smoothing == 0 ? y[i] : y[i] * keep + shift;
            sum += MathF.Max(zi, 0f) - zi * yi + NN.Log1p(MathF.Exp(-MathF.Abs(zi)));
        }
        if (!grad.IsEmpty)
        {
            float scale = 1f / count;
            for (int i = 0; i < count; i++) grad[i] = (Sigmoid(z[i]) - (smoothing == 0 ? y[i] : y[i] * keep + shift)) * scale;
        }
        return sum / count;
    }

    private static double FromLogitsKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> z, int rows, int columns, Span<float> grad) =>
        SmoothedKernel(y, z, rows, columns, grad, 0f);

    // σ(z) without overflow: e^−z is only evaluated for z ≥ 0 and e^z for z < 0.
    private static float Sigmoid(float z)
    {
        if (z >= 0) return 1f / (1f + MathF.Exp(-z));
        float e = MathF.Exp(z);
        return e / (1f + e);
    }
}
