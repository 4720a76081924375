namespace Cortex.Layers;

/// <summary>
/// A layer's computation on rows of floats — one sample per row, whatever its shape (an NHWC image is one row) — on
/// buffers made once per Fit: the fused training step (<see cref="Models.FusedTrainStep"/>) runs a model as a list of
/// stages and names no layer class. Each layer that can run this way says so in <see cref="Layer.TryCreateStage"/>,
/// beside its tape op and with the same span kernels, so both paths give the same bits.
/// </summary>
internal abstract class Stage
{
    /// <summary>Output features per row.</summary>
    public int Width;

    /// <summary>rows × <see cref="Width"/>: this stage's output, the next stage's input.</summary>
    public float[] Output = [];

    /// <summary>rows × <see cref="Width"/>: the gradient of the loss with respect to <see cref="Output"/>.</summary>
    public float[] OutputGrad = [];

    /// <summary>Computes <see cref="Output"/> from the first <paramref name="rows"/> rows of <paramref name="input"/>.</summary>
    public abstract void Forward(float[] input, int rows);

    /// <summary>Consumes <see cref="OutputGrad"/> (may overwrite it), writes the gradients of the weights the stage
    /// registered, and writes the input gradient when <paramref name="inputGrad"/> is given.</summary>
    public abstract void Backward(float[] input, float[]? inputGrad, int rows);

    /// <summary>
    /// Backward for the first trained stage (no input gradient) with the optimizer's update of this stage's first
    /// registered weight folded in, a block at a time while each block's gradient is in cache; false when the stage or
    /// the optimizer cannot (then <see cref="Backward"/> runs and the optimizer updates every weight as usual).
    /// </summary>
    public virtual bool TryBackwardAndUpdate(float[] input, int rows, Optimizers.Optimizer optimizer) => false;

    /// <summary>Where this stage, run first, would like the gathered batch's columns cut between two cores (0: no cut).</summary>
    public virtual int GatherSplit => 0;

    /// <summary>Whether the stage can work in place on the previous stage's buffers (an activation).</summary>
    public virtual bool CanRunInPlace => false;

    /// <summary>Whether a following in-place stage may reuse this stage's buffers: its backward reads neither its
    /// output nor, once the next stage has run backward, the gradient before it.</summary>
    public virtual bool LendsBuffers => false;
}

/// <summary>What a layer needs to know to make its stage: the sample it receives and where its weights' gradients go.</summary>
internal sealed class StageContext(int batch, bool inputIsRows, Func<Variable?, Tensor?> addWeight)
{
    /// <summary>Rows per batch: the size of every buffer.</summary>
    public int Batch { get; } = batch;

    /// <summary>The shape of one sample reaching the layer (no batch axis).</summary>
    public int[] Sample { get; set; } = [];

    /// <summary>Floats per sample reaching the layer.</summary>
    public int InputWidth => Sample.Aggregate(1, (a, b) => a * b);

    /// <summary>Whether a stage before this one trains weights (so a gradient must flow back through this one).</summary>
    public bool TrainableSeen { get; set; }

    /// <summary>Whether the model's input is a matrix of feature rows (rank 2), not images.</summary>
    public bool InputIsRows { get; } = inputIsRows;

    /// <summary>Registers a trained weight with the step, in the tape path's variable order, and returns its gradient
    /// buffer (null for a null weight).</summary>
    public Tensor? AddWeight(Variable? weight) => addWeight(weight);

    /// <summary>The output shape of <paramref name="layer"/> for this sample (no batch axis).</summary>
    public int[] OutputSample(Layer layer) => [.. layer.ComputeOutputShape([-1, .. Sample])[1..]];

    /// <summary>Floats per sample leaving <paramref name="layer"/>.</summary>
    public int OutputWidth(Layer layer) => OutputSample(layer).Aggregate(1, (a, b) => a * b);
}
