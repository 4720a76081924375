[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.MeanSquaredError))]

namespace Cortex.Losses;

/// <summary>Mean of squared differences: <c>mean((yTrue − yPred)²)</c> over the last axis, then over the batch.</summary>
/// <example>
/// <code>
/// var mse = new MeanSquaredError();
/// Tensor j = mse.Call(Tensor.FromArray(new float[,] { { 0, 1 } }), Tensor.FromArray(new float[,] { { 1, 1 } }));   // 0.5
/// </code>
/// </example>
public sealed class MeanSquaredError : Loss
{
    /// <summary>Creates the loss (Keras name <c>mean_squared_error</c>).</summary>
    public MeanSquaredError() : base("mean_squared_error") { }

    /// <inheritdoc/>
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        // Every sample has the same number of elements, so the mean over the last axis and then over the batch is
        // the mean over all elements.
        return (yPred - yTrue).Square().Mean();
    }
}
