[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.CosineSimilarity))]

namespace Cortex.Losses;

/// <summary>
/// The negated cosine similarity along <see cref="Axis"/>: <c>−Σ (y/‖y‖)·(p/‖p‖)</c> per sample, each norm at least
/// 1e-7 as in Keras (so a zero vector gives 0); then reduced over the batch. −1 for the same direction, 1 for the
/// opposite one: minimising it aligns predictions with labels.
/// </summary>
/// <example>
/// <code>
/// var loss = new CosineSimilarity(axis: -1);
/// Tensor j = loss.Call(Tensor.FromArray(new float[,] { { 0, 1 }, { 1, 1 } }), Tensor.FromArray(new float[,] { { 1, 0 }, { 1, 1 } }));   // −0.5
/// </code>
/// </example>
public sealed class CosineSimilarity : Loss
{
    /// <summary>Creates the loss (Keras name <c>cosine_similarity</c>).</summary>
    /// <param name="axis">The axis the similarity is computed along (the features axis; default the last).</param>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public CosineSimilarity(int axis = -1, string reduction = "sum_over_batch_size") : base("cosine_similarity", reduction) => Axis = axis;

    /// <summary>The axis the similarity is computed along.</summary>
    public int Axis { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ, or <see cref="Axis"/> is out of range.</exception>
    protected override Tensor Compute(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        int axis = AxisOf(Axis, yPred);
        if (yPred.Rank == 0) return -(Normalize(yTrue, 0) * Normalize(yPred, 0));
        return -(Normalize(yTrue, axis) * Normalize(yPred, axis)).Sum(axis);
    }

    // Keras's normalize: x · min(1/‖x‖, 1/ε), i.e. x / max(‖x‖, ε).
    private static Tensor Normalize(Tensor x, int axis) =>
        x / Tensor.Maximum((x.Rank == 0 ? x.Square() : x.Square().Sum(axis, keepDims: true)).Sqrt(), Epsilon);
}
