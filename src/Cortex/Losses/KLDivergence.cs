[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.KLDivergence))]

namespace Cortex.Losses;

/// <summary>
/// The Kullback–Leibler divergence of the predicted distribution from the labels' over the last axis:
/// <c>Σ y·log(y / p)</c> per sample with y and p clipped to [1e-7, 1] as Keras does; then reduced over the batch.
/// </summary>
/// <example>
/// <code>
/// var kld = new KLDivergence();
/// Tensor j = kld.Call(Tensor.FromArray(new float[,] { { 0.5f, 0.5f } }), Tensor.FromArray(new float[,] { { 0.9f, 0.1f } }));
/// </code>
/// </example>
public sealed class KLDivergence : Loss
{
    /// <summary>Creates the loss (Keras name <c>kl_divergence</c>, alias <c>kld</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public KLDivergence(string reduction = "sum_over_batch_size") : base("kl_divergence", reduction) { }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    protected override Tensor Compute(Tensor yTrue, Tensor yPred)
    {
        Tensor y = AlignLabels(yTrue, yPred).Clip(Epsilon, 1f), p = yPred.Clip(Epsilon, 1f);
        Tensor e = y * (y / p).Log();
        return yPred.Rank == 0 ? e : e.Sum(-1);
    }
}
