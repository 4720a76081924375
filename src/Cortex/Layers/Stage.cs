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

    /// <summary>Whether the stage reads several inputs (a merge's, through the overloads below); a stage that reads one
    /// cannot serve a call on several tensors (a recurrent layer given initial states).</summary>
    public virtual bool ReadsSeveral => false;

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

    /// <summary>
    /// Inference only: takes the next stage, the only reader of this one's output, into this stage's own forward pass
    /// (a convolution its pooling), writing <paramref name="next"/>'s <see cref="Output"/> itself; this stage's output is
    /// then never stored, and <paramref name="next"/>'s forward is not run. False (the default) leaves both as they are.
    /// </summary>
    public virtual bool TryAbsorb(Stage next) => false;

    /// <summary>
    /// Training: whether this stage's backward can apply <paramref name="previous"/>'s activation gradient as it writes
    /// the input gradient (a max pooling after a convolution), when it is the only reader of <paramref name="previous"/>'s
    /// output; <paramref name="previous"/> then skips that pass (<see cref="ActivationGradientTaken"/>). False (the
    /// default) leaves both as they are.
    /// </summary>
    public virtual bool TryTakeActivationGradient(Stage previous) => false;

    /// <summary>Set when the next stage applies this stage's activation gradient (<see cref="TryTakeActivationGradient"/>):
    /// <see cref="OutputGrad"/> then arrives as the gradient before the activation.</summary>
    public bool ActivationGradientTaken;

    /// <summary>Whether the stage can work in place on the previous stage's buffers (an activation).</summary>
    public virtual bool CanRunInPlace => false;

    /// <summary>Whether a following in-place stage may reuse this stage's buffers: its backward reads neither its
    /// output nor, once the next stage has run backward, the gradient before it.</summary>
    public virtual bool LendsBuffers => false;
}

/// <summary>
/// The stage of a layer that carries states from step to step (the recurrent layers, <see cref="Bidirectional"/>): it
/// can start from given states instead of zeros, hand out the states after its last step, and in backward take those
/// states' gradients and give the gradients of the states it started from — what <c>initial_state</c> and
/// <c>return_state</c> need. Unset, it runs from zeros and returns only its output.
/// </summary>
internal abstract class StatefulStage : Stage
{
    /// <summary>How many states: 1 (SimpleRNN, GRU), 2 (LSTM: h, c), both directions' for Bidirectional.</summary>
    public abstract int StateCount { get; }

    /// <summary>The width (units) of state <paramref name="k"/>.</summary>
    public abstract int StateWidth(int k);

    /// <summary>Rows × width each: the states the first processed step starts from; null starts from zeros. Read by
    /// <see cref="Stage.Forward(float[], int)"/> and, since it changes which steps recur, by <see cref="Stage.Backward(float[], float[], int)"/>.</summary>
    public float[][]? InitialStates;

    /// <summary>Rows × width each: the gradients of the loss with respect to the final states (their part beside the
    /// output's); null when they take none. Read by <see cref="Stage.Backward(float[], float[], int)"/>.</summary>
    public float[][]? FinalStateGrads;

    /// <summary>Rows × width each: where <see cref="Stage.Backward(float[], float[], int)"/> writes the gradients of
    /// <see cref="InitialStates"/> (only when those are given).</summary>
    public float[][]? InitialStateGrads;

    /// <summary>State <paramref name="k"/> after the last processed step (its first rows × width floats), once
    /// <see cref="Stage.Forward(float[], int)"/> has run.</summary>
    public abstract float[] FinalState(int k);
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

    /// <summary>Runs <paramref name="layer"/>'s stage on <paramref name="inputs"/> (checked by the layer already).</summary>
    /// <exception cref="InvalidOperationException">The layer has no stage for these inputs (the message says why).</exception>
    public static Tensor Run(Layer layer, Tensor inputs, bool training, Tensor? mask = null) =>
        Run(layer, inputs, training, mask, initialStates: null, returnStates: false)[0];

    /// <summary>
    /// Runs a stateful layer's stage (<see cref="StatefulStage"/>) from <paramref name="initialStates"/> (checked by
    /// the layer; null: zeros) and returns its output, then with <paramref name="returnStates"/> its final states.
    /// Recording, the gradients reach the input, the weights and the initial states: the stage's one tape node makes
    /// all the outputs side by side in one tensor (rows, output + states) and each output is a slice of it, so the
    /// node's backward sees every output's gradient at once.
    /// </summary>
    public static Tensor[] Run(Layer layer, Tensor inputs, bool training, Tensor? mask, IReadOnlyList<Tensor>? initialStates, bool returnStates)
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
        var stateful = stage as StatefulStage;
        if ((initialStates != null || returnStates) && stateful == null)
            throw new InvalidOperationException($"{layer.GetType().Name} '{layer.Name}' has no states.");
        if (initialStates != null) stateful!.InitialStates = [.. initialStates.Select(t => t.ToArray())];
        stage.Output = new float[rows * stage.Width];
        stage.Forward(inputs.data, rows);
        var y = new Tensor(stage.Output, [rows, .. context.OutputSample(layer)]);
        Tensor[] outputs = returnStates
            ? [y, .. Enumerable.Range(0, stateful!.StateCount).Select(k =>
                new Tensor(stateful.FinalState(k).AsSpan(0, rows * stateful.StateWidth(k)).ToArray(), [rows, stateful.StateWidth(k)]))]
            : [y];
        if (!recording) return outputs;
        Tensor[] sources = [inputs, .. weights, .. initialStates ?? []];
        Tensor recorded = outputs.Length == 1 ? y : Pack(outputs);
        var node = GradientTape.Record(layer.Name, recorded, Backward, sources);
        if (node == null) return outputs;
        node.State = new Recorded(stage, gradients, GradientTape.AnyTracks(inputs), outputs.Length > 1 ? [.. outputs.Select(o => o.Size / rows)] : null);
        if (outputs.Length == 1) return outputs;
        int from = 0;
        for (int k = 0; k < outputs.Length; k++)
        {
            var slice = GradientTape.Record(layer.Name + "_output", outputs[k], SliceBackward, recorded);
            if (slice != null) slice.Axis = from;
            from += outputs[k].Size / rows;
        }
        return outputs;
    }

    /// <summary>The outputs of a stateful call side by side: row n of the result is row n of each, flattened, in order.</summary>
    private static Tensor Pack(Tensor[] outputs)
    {
        int rows = outputs[0].ShapeRef[0], width = outputs.Sum(o => o.Size / rows);
        var packed = new float[rows * width];
        int from = 0;
        foreach (var o in outputs)
        {
            int w = o.Size / rows;
            for (int n = 0; n < rows; n++) o.AsSpan().Slice(n * w, w).CopyTo(packed.AsSpan(n * width + from, w));
            from += w;
        }
        return new Tensor(packed, [rows, width]);
    }

    // An output's gradient into its columns (from node.Axis) of the packed tensor, zeros elsewhere.
    private static Tensor?[] SliceBackward(Tensor g, TapeNode node)
    {
        Tensor packed = node.Inputs[0];
        int rows = packed.ShapeRef[0], width = packed.ShapeRef[1], w = g.Size / rows;
        var d = new float[packed.Size];
        for (int n = 0; n < rows; n++) g.AsSpan().Slice(n * w, w).CopyTo(d.AsSpan(n * width + node.Axis, w));
        return [new Tensor(d, [rows, width])];
    }

    private sealed class Recorded(Stage stage, List<Tensor> gradients, bool inputGradient, int[]? packedWidths)
    {
        public readonly Stage Stage = stage;
        public readonly List<Tensor> Gradients = gradients;
        public readonly bool InputGradient = inputGradient;
        /// <summary>Per row, the output's and each final state's width when the node's output packs them; else null.</summary>
        public readonly int[]? PackedWidths = packedWidths;
    }

    private static Tensor?[] Backward(Tensor g, TapeNode node)
    {
        var r = (Recorded)node.State!;
        Tensor x = node.Inputs[0];
        int rows = x.ShapeRef[0];
        var stateful = r.Stage as StatefulStage;
        if (r.PackedWidths is { } widths)
        {
            // Unpack: the output's gradient, then each final state's.
            int width = widths.Sum(), from = widths[0];
            r.Stage.OutputGrad = new float[rows * widths[0]];
            stateful!.FinalStateGrads = [.. widths[1..].Select(w => new float[rows * w])];
            for (int n = 0; n < rows; n++)
            {
                g.AsSpan().Slice(n * width, widths[0]).CopyTo(r.Stage.OutputGrad.AsSpan(n * widths[0], widths[0]));
                for (int k = 1, at = from; k < widths.Length; at += widths[k], k++)
                    g.AsSpan().Slice(n * width + at, widths[k]).CopyTo(stateful.FinalStateGrads[k - 1].AsSpan(n * widths[k], widths[k]));
            }
        }
        else r.Stage.OutputGrad = g.ToArray(); // the stage may overwrite it
        int states = stateful?.InitialStates?.Length ?? 0;
        if (states > 0) stateful!.InitialStateGrads = [.. Enumerable.Range(0, states).Select(k => new float[rows * stateful.StateWidth(k)])];
        float[]? dx = r.InputGradient ? new float[x.Size] : null;
        r.Stage.Backward(x.data, dx, rows);
        var result = new Tensor?[node.Inputs.Length];
        result[0] = dx == null ? null : new Tensor(dx, x.Shape);
        // Copies: the stage writes into the same buffers at every backward (a persistent tape may run it twice), and
        // the tape may sum into what it is given.
        for (int i = 0; i < r.Gradients.Count; i++) result[i + 1] = new Tensor(r.Gradients[i].ToArray(), r.Gradients[i].Shape);
        for (int k = 0; k < states; k++)
            result[1 + r.Gradients.Count + k] = new Tensor(stateful!.InitialStateGrads![k], [rows, stateful.StateWidth(k)]);
        return result;
    }
}
