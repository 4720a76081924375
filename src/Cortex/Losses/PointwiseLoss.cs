namespace Cortex.Losses;

/// <summary>
/// The base of the losses that compare labels and predictions element by element and average over the last axis
/// per sample (Keras's <c>mean(f(y_true, y_pred), axis=-1)</c>): mean squared, absolute, percentage and squared
/// logarithmic error, Huber, log-cosh, Poisson, hinge and squared hinge. Labels (N,) meet predictions (N, 1) as in
/// every loss.
/// </summary>
/// <example><code>Loss loss = new Huber(delta: 0.5f);   // a PointwiseLoss</code></example>
public abstract class PointwiseLoss : Loss
{
    /// <summary>Stores the name and the reduction.</summary>
    private protected PointwiseLoss(string name, string reduction) : base(name, reduction) { }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    protected sealed override Tensor Compute(Tensor yTrue, Tensor yPred)
    {
        Tensor e = Elementwise(AlignLabels(yTrue, yPred), yPred);
        return yPred.Rank == 0 ? e : e.Mean(-1);
    }

    /// <summary>The loss of each element, from labels already of the predictions' shape.</summary>
    private protected abstract Tensor Elementwise(Tensor yTrue, Tensor yPred);
}
