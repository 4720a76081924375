[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.MeanSquaredError))]

namespace Cortex.Losses;

/// <summary>Mean of squared differences: <c>mean((yTrue − yPred)²)</c> over the last axis, then reduced over the batch.</summary>
/// <example>
/// <code>
/// var mse = new MeanSquaredError();
/// Tensor j = mse.Call(Tensor.FromArray(new float[,] { { 0, 1 } }), Tensor.FromArray(new float[,] { { 1, 1 } }));   // 0.5
/// </code>
/// </example>
public sealed class MeanSquaredError : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>mean_squared_error</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public MeanSquaredError(string reduction = "sum_over_batch_size") : base("mean_squared_error", reduction) { }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred) => (yPred - yTrue).Square();
}
