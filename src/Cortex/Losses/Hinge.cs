[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.Hinge))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.SquaredHinge))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.CategoricalHinge))]

namespace Cortex.Losses;

/// <summary>
/// The hinge loss for −1/1 labels, <c>mean(max(1 − y·yPred, 0))</c> over the last axis, then reduced over the batch.
/// As in Keras, labels that are all 0 or 1 are first mapped to −1 and 1.
/// </summary>
/// <example>
/// <code>
/// var hinge = new Hinge();
/// Tensor j = hinge.Call(Tensor.FromArray(new float[,] { { 1, 0 } }), Tensor.FromArray(new float[,] { { 0.3f, -0.4f } }));   // 0.65
/// </code>
/// </example>
public sealed class Hinge : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>hinge</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public Hinge(string reduction = "sum_over_batch_size") : base("hinge", reduction) { }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred) => Margin(yTrue, yPred);

    /// <summary><c>max(1 − y·yPred, 0)</c>, with 0/1 labels (when every label is 0 or 1) taken as −1/1, as Keras's
    /// convert_binary_labels_to_hinge.</summary>
    internal static Tensor Margin(Tensor yTrue, Tensor yPred)
    {
        bool binary = true;
        foreach (float v in yTrue.AsSpan()) binary &= v == 0 || v == 1;
        Tensor y = binary ? 2f * yTrue - 1f : yTrue;
        return Tensor.Maximum(1f - y * yPred, 0f);
    }
}

/// <summary>
/// The squared hinge loss, <c>mean(max(1 − y·yPred, 0)²)</c> over the last axis, then reduced over the batch; labels
/// that are all 0 or 1 are first mapped to −1 and 1, as in Keras.
/// </summary>
/// <example>
/// <code>
/// var loss = new SquaredHinge();
/// Tensor j = loss.Call(Tensor.FromArray(new float[,] { { 1, -1 } }), Tensor.FromArray(new float[,] { { 0.3f, -0.4f } }));   // 0.425
/// </code>
/// </example>
public sealed class SquaredHinge : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>squared_hinge</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public SquaredHinge(string reduction = "sum_over_batch_size") : base("squared_hinge", reduction) { }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred) => Hinge.Margin(yTrue, yPred).Square();
}

/// <summary>
/// The categorical hinge loss for one-hot labels over the last axis: <c>max(neg − pos + 1, 0)</c> per sample, with
/// <c>pos = Σ y·yPred</c> (the true class's score) and <c>neg = max((1 − y)·yPred)</c> (the best other score); then
/// reduced over the batch.
/// </summary>
/// <example>
/// <code>
/// var loss = new CategoricalHinge();
/// Tensor j = loss.Call(Tensor.FromArray(new float[,] { { 0, 1, 0 } }), Tensor.FromArray(new float[,] { { 0.2f, 0.5f, 0.4f } }));   // 0.9
/// </code>
/// </example>
public sealed class CategoricalHinge : Loss
{
    /// <summary>Creates the loss (Keras name <c>categorical_hinge</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public CategoricalHinge(string reduction = "sum_over_batch_size") : base("categorical_hinge", reduction) { }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shapes differ, or the predictions have no class axis.</exception>
    protected override Tensor Compute(Tensor yTrue, Tensor yPred)
    {
        yTrue = AlignLabels(yTrue, yPred);
        RequireClassAxis(yPred);
        Tensor pos = (yTrue * yPred).Sum(-1), neg = ((1f - yTrue) * yPred).Max(-1);
        return Tensor.Maximum(neg - pos + 1f, 0f);
    }
}
