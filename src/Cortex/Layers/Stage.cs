using Cortex.Autodiff;

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

    /// <summary>Forward of a stage that reads several inputs (a merge layer's), each <paramref name="rows"/> rows of its
    /// own width (<see cref="StageContext.Samples"/>).</summary>
    public virtual void Forward(float[][] inputs, int rows) =>
        throw new InvalidOperationException($"{GetType().Name} reads one input. Received: {inputs.Length}");

    /// <summary>Backward of a stage that reads several inputs: writes each input's gradient where
    /// <paramref name="inputGrads"/> has a buffer (null: not needed).</summary>
    public virtual void Backward(float[][] inputs, float[]?[] inputGrads, int rows) =>
        throw new InvalidOperationException($"{GetType().Name} reads one input. Received: {inputs.Length}");

    /// <summary>
    /// Backward for the first trained stage (no input gradient) with the optimizer's update of this stage's first
    /// registered weight folded in, a block at a time while each block's gradient is in cache; false when the stage or
    /// the optimizer cannot (then <see cref="Backward(float[], float[], int)"/> runs and the optimizer updates every weight as usual).
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

    /// <summary>The samples' shapes of every input, for a layer called on several (a merge); one input: [<see cref="Sample"/>].</summary>
    public int[][] Samples
    {
        get => samples ?? [Sample];
        set => samples = value;
    }

    private int[][]? samples;

    /// <summary>Floats per sample reaching the layer.</summary>
    public int InputWidth => Sample.Aggregate(1, (a, b) => a * b);

    /// <summary>Whether a stage before this one trains weights (so a gradient must flow back through this one).</summary>
    public bool TrainableSeen { get; set; }

    /// <summary>Whether the stage runs in training mode (the fused step: always; a tape call: its <c>training</c> flag).</summary>
    public bool Training { get; init; } = true;

    /// <summary>The mask of the steps reaching the layer (rows × timesteps: 1 data, 0 padding), filled before the stage's
    /// forward runs (by the stage that makes it, or from the tape call's mask), or null when no mask reaches it.</summary>
    public float[]? Mask { get; set; }

    /// <summary>Whether the model's input is a matrix of feature rows (rank 2), not images.</summary>
    public bool InputIsRows { get; } = inputIsRows;

    /// <summary>Registers a trained weight with the step, in the tape path's variable order, and returns its gradient
    /// buffer (null for a null weight).</summary>
    public Tensor? AddWeight(Variable? weight) => addWeight(weight);

    /// <summary>A context for a layer inside a wrapper, which runs it on <paramref name="batch"/> rows of
    /// <paramref name="sample"/> (TimeDistributed: every time step a row); its weights register with this step.</summary>
    public StageContext Nested(int batch, int[] sample) =>
        new(batch, sample.Length == 1, addWeight) { Sample = sample, TrainableSeen = TrainableSeen, Training = Training };

    /// <summary>Whether this context is a channels-first image layer's view of its samples as channels last (see
    /// <see cref="ChannelsFirst"/>): shapes here are the layer's channels-last ones.</summary>
    public bool ChannelsLastView { get; set; }

    /// <summary>The output shape of <paramref name="layer"/> for this sample (no batch axis).</summary>
    public int[] OutputSample(Layer layer) =>
        [.. (ChannelsLastView ? layer.ChannelsLastOutputShape([-1, .. Sample]) : layer.ComputeOutputShape([-1, .. Sample]))[1..]];

    /// <summary>Floats per sample leaving <paramref name="layer"/>.</summary>
    public int OutputWidth(Layer layer) => OutputSample(layer).Aggregate(1, (a, b) => a * b);
}

/// <summary>
/// The tape op of a layer defined by its stage alone: <c>CallCore(inputs, training) =&gt; StageOp.Run(this, inputs,
/// training)</c>. It makes the layer's stage for the call's batch, runs its forward on the input's floats, and records
/// one tape node whose backward runs the stage's backward — so such a layer writes its forward and backward once, and
/// the tape and the fused training step run the same code and give the same bits (see docs/architecture.md).
/// </summary>
internal static class StageOp
{
    // What a weight's gradient buffer is when nothing records (inference): a stage only writes it in Backward.
    private static readonly Tensor NoGradient = Tensor.Zeros(0);

    private sealed class Recorded(Stage stage, List<Tensor> gradients, bool inputGradient)
    {
        public readonly Stage Stage = stage;
        public readonly List<Tensor> Gradients = gradients;
        public readonly bool InputGradient = inputGradient;
    }

    /// <summary>Runs <paramref name="layer"/>'s stage on <paramref name="inputs"/> (checked by the layer already).</summary>
    /// <exception cref="InvalidOperationException">The layer has no stage for these inputs (the message says why).</exception>
    public static Tensor Run(Layer layer, Tensor inputs, bool training, Tensor? mask = null)
    {
        int rows = inputs.ShapeRef[0];
        bool recording = GradientTape.IsRecording;
        var weights = new List<Tensor>();
        var gradients = new List<Tensor>();
        var context = new StageContext(rows, inputs.Rank == 2, weight =>
        {
            if (weight == null) return null;
            if (!recording) return NoGradient;
            weights.Add(weight);
            var grad = Tensor.Zeros(weight.ShapeRef);
            gradients.Add(grad);
            return grad;
        }) { Sample = inputs.ShapeRef[1..], TrainableSeen = true, Training = training, Mask = mask?.ToArray() };
        if (!layer.TryCreateStage(context, out var stage, out string reason) || stage == null)
            throw new InvalidOperationException($"{layer.GetType().Name} '{layer.Name}' {(reason.Length > 0 ? reason : "has no stage")}.");
        stage.Output = new float[rows * stage.Width];
        stage.Forward(inputs.data, rows);
        var y = new Tensor(stage.Output, [rows, .. context.OutputSample(layer)]);
        if (recording)
        {
            var node = GradientTape.Record(layer.Name, y, Backward, [inputs, .. weights]);
            if (node != null) node.State = new Recorded(stage, gradients, GradientTape.AnyTracks(inputs));
        }
        return y;
    }

    private static Tensor?[] Backward(Tensor g, TapeNode node)
    {
        var r = (Recorded)node.State!;
        Tensor x = node.Inputs[0];
        r.Stage.OutputGrad = g.ToArray(); // the stage may overwrite it
        float[]? dx = r.InputGradient ? new float[x.Size] : null;
        r.Stage.Backward(x.data, dx, x.ShapeRef[0]);
        var result = new Tensor?[node.Inputs.Length];
        result[0] = dx == null ? null : new Tensor(dx, x.Shape);
        // Copies: the stage writes into the same buffers at every backward (a persistent tape may run it twice), and
        // the tape may sum into what it is given.
        for (int i = 0; i < r.Gradients.Count; i++) result[i + 1] = new Tensor(r.Gradients[i].ToArray(), r.Gradients[i].Shape);
        return result;
    }
}
