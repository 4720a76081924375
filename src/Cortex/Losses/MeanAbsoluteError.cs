[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.MeanAbsoluteError))]

namespace Cortex.Losses;

/// <summary>Mean of absolute differences: <c>mean(|yTrue − yPred|)</c> over the last axis, then over the batch.</summary>
/// <example>
/// <code>
/// var mae = new MeanAbsoluteError();
/// Tensor j = mae.Call(Tensor.FromArray(new float[,] { { 0, 1 } }), Tensor.FromArray(new float[,] { { 1, 1 } }));   // 0.5
/// </code>
/// </example>
public sealed class MeanAbsoluteError : Loss
{
    /// <summary>Creates the loss (Keras name <c>mean_absolute_error</c>).</summary>
    public MeanAbsoluteError() : base("mean_absolute_error") { }

    /// <inheritdoc/>
    public override Tensor Call(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        return (yPred - yTrue).Abs().Mean(); // the gradient at yPred = yTrue is 0, as in Keras and PyTorch
    }
}
