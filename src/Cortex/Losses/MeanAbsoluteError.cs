[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.MeanAbsoluteError))]

namespace Cortex.Losses;

/// <summary>Mean of absolute differences: <c>mean(|yTrue − yPred|)</c> over the last axis, then reduced over the batch.</summary>
/// <example>
/// <code>
/// var mae = new MeanAbsoluteError();
/// Tensor j = mae.Call(Tensor.FromArray(new float[,] { { 0, 1 } }), Tensor.FromArray(new float[,] { { 1, 1 } }));   // 0.5
/// </code>
/// </example>
public sealed class MeanAbsoluteError : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>mean_absolute_error</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public MeanAbsoluteError(string reduction = "sum_over_batch_size") : base("mean_absolute_error", reduction) { }

    // The gradient at yPred = yTrue is 0, as in Keras and PyTorch.
    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred) => (yPred - yTrue).Abs();
}
