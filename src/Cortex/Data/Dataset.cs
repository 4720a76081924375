namespace Cortex.Data;

/// <summary>
/// A data set split into training and test parts, the four arrays Keras's <c>load_data()</c> returns. It
/// deconstructs, so the Keras idiom carries over:
/// <code>
/// var (xTrain, yTrain, xTest, yTest) = Datasets.Digits.Load();   // (8000, 784), (8000,), (2000, 784), (2000,)
/// </code>
/// </summary>
/// <param name="TrainX">Training inputs; the first axis indexes samples.</param>
/// <param name="TrainY">Training targets (class indices of shape (N,) for the built-in data sets).</param>
/// <param name="TestX">Test inputs, shaped like <paramref name="TrainX"/> after the first axis.</param>
/// <param name="TestY">Test targets, shaped like <paramref name="TrainY"/> after the first axis.</param>
public sealed record Dataset(Tensor TrainX, Tensor TrainY, Tensor TestX, Tensor TestY)
{
    /// <summary>A one-line description: the shapes of the four tensors.</summary>
    public override string ToString() =>
        $"Dataset(TrainX {ShapeUtil.Format(TrainX.ShapeRef)}, TrainY {ShapeUtil.Format(TrainY.ShapeRef)}, " +
        $"TestX {ShapeUtil.Format(TestX.ShapeRef)}, TestY {ShapeUtil.Format(TestY.ShapeRef)})";
}
