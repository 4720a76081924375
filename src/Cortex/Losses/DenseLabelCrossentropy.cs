namespace Cortex.Losses;

/// <summary>
/// The base of the cross-entropies whose labels have the predictions' shape — <see cref="BinaryCrossentropy"/> and
/// <see cref="CategoricalCrossentropy"/>: their label smoothing, their axis, and their span kernel from logits (the
/// fused training step's and the tape's, over the last axis with the default reduction).
/// </summary>
/// <example><code>DenseLabelCrossentropy loss = new CategoricalCrossentropy(fromLogits: true, labelSmoothing: 0.1f);</code></example>
public abstract class DenseLabelCrossentropy : ProbabilisticLoss
{
    private readonly LossKernel kernel;
    private readonly string op;

    /// <summary>Validates and stores the arguments; <paramref name="kernelFor"/> gives the kernel for a smoothing.</summary>
    private protected DenseLabelCrossentropy(string name, bool fromLogits, float labelSmoothing, int axis, string reduction, Func<float, LossKernel> kernelFor)
        : base(name, fromLogits, reduction)
    {
        LabelSmoothing = UnitInterval(GetType().Name, "labelSmoothing", labelSmoothing);
        Axis = axis;
        kernel = kernelFor(labelSmoothing);
        op = GetType().Name + "FromLogits";
    }

    /// <summary>How far labels are pulled towards the uniform distribution, in [0, 1]: y becomes
    /// <c>y·(1 − ls) + ls/2</c> (binary) or <c>y·(1 − ls) + ls/classes</c> (categorical).</summary>
    public float LabelSmoothing { get; }

    /// <summary>The axis the loss is taken over (the class axis; default the last).</summary>
    public int Axis { get; }

    /// <summary>The labels aligned with the predictions and checked, as this loss takes them.</summary>
    private protected abstract Tensor Labels(Tensor yTrue, Tensor yPred);

    /// <inheritdoc/>
    private protected sealed override Tensor? KernelCall(Tensor yTrue, Tensor yPred) =>
        FromLogits && AxisOf(Axis, yPred) == Math.Max(0, yPred.Rank - 1) ? KernelOp(op, kernel, Labels(yTrue, yPred), yPred) : null;

    /// <inheritdoc/>
    private protected sealed override LossKernel? Kernel(int labels, int rows, int columns) =>
        FromLogits && labels == rows * columns && Axis is -1 or 1 ? kernel : null;
}
