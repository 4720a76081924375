using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

namespace Cortex.Layers;

/// <summary>
/// The base of Keras's recurrent layers — <see cref="SimpleRNN"/>, <see cref="LSTM"/>, <see cref="GRU"/>: a cell run
/// over a sequence (batch, timesteps, features) from a zero (or given) state, returning the last state (batch, units) or, with
/// <see cref="ReturnSequences"/>, every step's state (batch, timesteps, units). The weights have Keras's names and
/// layouts: <c>kernel</c> (features, gates·units), <c>recurrent_kernel</c> (units, gates·units) and <c>bias</c>, the
/// gates side by side in each row.
/// </summary>
/// <remarks>
/// A mask (batch, timesteps) from <see cref="Masking"/> or <see cref="Embedding"/> with <c>maskZero</c>, or given to
/// <see cref="Layer.Call(Tensor, bool, Tensor?)"/>, skips the masked steps as Keras does: the state (and LSTM's cell
/// state) is carried over unchanged, so a masked step's output in a returned sequence is the state before it (Keras's
/// default <c>zero_output_for_mask=False</c>), and with <see cref="ReturnSequences"/> the mask is passed on. A layer
/// may start from given states (Keras's <c>initial_state</c>) and, with <see cref="ReturnState"/>, return its final
/// states: see <see cref="Layer.CallWithState(Tensor, IReadOnlyList{Tensor}?, bool, Tensor?)"/>; a masked first step
/// carries the initial state over. Each layer's compute is one stage
/// (forward over the whole sequence, backpropagation through time backward), run both by the tape and by the fused
/// training step.
/// </remarks>
/// <example>
/// <code>
/// var model = new Sequential(new Input([28, 28]), new LSTM(64), new Dense(10));
///
/// // Keras's return_state and initial_state (a Functional model; a Sequential refuses a returnState layer):
/// var lstm = new LSTM(64, returnState: true);
/// SymbolicTensor[] outs = lstm.CallWithState(source);               // [output, h, c]
/// SymbolicTensor y = lstm.Call(other);                              // Call: the output alone
/// var decoded = new LSTM(64).CallWithState(target, outs[1..])[0];   // starts from the encoder's h and c
/// </code>
/// </example>
public abstract class RecurrentLayer : Layer
{
    /// <summary>Stores the configuration every recurrent layer shares (Keras's defaults: tanh, a bias, glorot_uniform,
    /// orthogonal, zeros) and refuses what the layer cannot compute.</summary>
    private protected RecurrentLayer(int units, int gates, ActivationFunction? activation, ActivationFunction? recurrentActivation, bool useBias,
        Initializer? kernelInitializer, Initializer? recurrentInitializer, Initializer? biasInitializer,
        Regularizer? kernelRegularizer, Regularizer? recurrentRegularizer, Regularizer? biasRegularizer,
        float dropout, float recurrentDropout, int? seed, bool returnSequences, bool returnState, bool goBackwards, string? name)
        : base(name)
    {
        string layer = GetType().Name;
        if (units <= 0) throw new ArgumentOutOfRangeException(nameof(units), $"{layer}: units must be a positive integer. Received: units={units}");
        if (!(dropout >= 0f && dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(dropout), $"{layer}: dropout must be in [0, 1). Received: dropout={dropout}");
        if (!(recurrentDropout >= 0f && recurrentDropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(recurrentDropout), $"{layer}: recurrentDropout must be in [0, 1). Received: recurrentDropout={recurrentDropout}");
        Dropout = dropout;
        RecurrentDropout = recurrentDropout;
        Seed = seed;
        // Only a layer that drops draws a seed from the global stream, so adding the arguments shifts no other model.
        if (dropout > 0f || recurrentDropout > 0f) rng = CortexRandom.FromSeedOrGlobal(seed);
        Units = units;
        Gates = gates;
        Activation = DifferentiableFromOutput(layer, "activation", activation ?? ActivationFunction.Tanh);
        GateActivation = DifferentiableFromOutput(layer, "recurrentActivation", recurrentActivation ?? ActivationFunction.Sigmoid);
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        RecurrentInitializer = recurrentInitializer ?? new Orthogonal();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        RecurrentRegularizer = recurrentRegularizer;
        BiasRegularizer = biasRegularizer;
        ReturnSequences = returnSequences;
        ReturnState = returnState;
        GoBackwards = goBackwards;
    }

    // The backward pass keeps only the gates' outputs, so the derivative must come from the output.
    private static ActivationFunction DifferentiableFromOutput(string layer, string argument, ActivationFunction f) =>
        f.DerivativeFromOutput ? f
        : throw new ArgumentException($"{layer}: {argument} must have a derivative computable from its output (tanh, sigmoid, relu, …). Received: {argument}='{f.Name}'{(f.Alpha != 0 ? $" (alpha {f.Alpha})" : "")}", argument);

    private CortexRandom? rng;

    /// <summary>Dimension of the state (the output features).</summary>
    public int Units { get; }
    /// <summary>The fraction of the input's features dropped in training: one mask per sequence (batch row), the same
    /// at every step, scaled by 1/(1 − rate) as Keras.</summary>
    public float Dropout { get; }
    /// <summary>The fraction of the recurrent state's units dropped in training before the recurrent product
    /// (GRU: from the candidate, as Keras 3), one mask per sequence, the same at every step.</summary>
    public float RecurrentDropout { get; }
    /// <summary>The seed of the dropout masks, if one was given.</summary>
    public int? Seed { get; }
    /// <summary>The activation of the state (Keras default tanh).</summary>
    public ActivationFunction Activation { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }
    /// <summary>Initializer of the kernel.</summary>
    public Initializer KernelInitializer { get; }
    /// <summary>Initializer of the recurrent kernel.</summary>
    public Initializer RecurrentInitializer { get; }
    /// <summary>Initializer of the bias.</summary>
    public Initializer BiasInitializer { get; }
    /// <summary>Penalty on the kernel, if any.</summary>
    public Regularizer? KernelRegularizer { get; }
    /// <summary>Penalty on the recurrent kernel, if any.</summary>
    public Regularizer? RecurrentRegularizer { get; }
    /// <summary>Penalty on the bias, if any.</summary>
    public Regularizer? BiasRegularizer { get; }
    /// <summary>Whether every step's state is returned (batch, timesteps, units), not only the last (batch, units).</summary>
    public bool ReturnSequences { get; }
    /// <summary>Whether a call returns the final states after the output, as Keras's <c>return_state</c>:
    /// <see cref="Layer.CallWithState(SymbolicTensor, IReadOnlyList{SymbolicTensor}?)"/> then gives
    /// <c>[output, h]</c> (<c>[output, h, c]</c> for an LSTM). Such a layer belongs in a <see cref="Models.Functional"/>
    /// model; a <see cref="Models.Sequential"/> refuses it.</summary>
    public bool ReturnState { get; }

    /// <inheritdoc/>
    internal override bool ReturnsState => ReturnState;

    /// <inheritdoc/>
    internal override IReadOnlyList<(string Name, int Units)>? States => Gates == 4 ? [("h", Units), ("c", Units)] : [("h", Units)];

    /// <summary>Whether the sequence is processed from its last step to its first (the returned sequence then runs in
    /// that order too, as in Keras).</summary>
    public bool GoBackwards { get; }
    /// <summary>The input kernel (features, gates·units); null before the layer is built.</summary>
    public Variable? Kernel { get; private set; }
    /// <summary>The recurrent kernel (units, gates·units); null before the layer is built.</summary>
    public Variable? RecurrentKernel { get; private set; }
    /// <summary>The bias; null before building or without bias.</summary>
    public Variable? Bias { get; private set; }

    /// <summary>Whether a masked step's output in a returned sequence is zeros rather than the carried state (Keras's
    /// <c>zero_output_for_mask</c>: off, except inside <see cref="Bidirectional"/> with <see cref="ReturnSequences"/>).</summary>
    internal bool ZeroOutputForMask { get; set; }

    /// <inheritdoc/>
    internal override CortexRandom? Generator => rng;

    /// <summary>Makes <paramref name="other"/> draw from this layer's generator (Bidirectional's two directions: one
    /// stream, saved once).</summary>
    internal void ShareGenerator(RecurrentLayer other) => other.rng = rng;

    /// <summary>Draws a dropout mask: 1/(1 − rate) where a unit is kept, 0 where it is dropped.</summary>
    internal void FillDropMask(Span<float> mask, float rate) => rng!.FillKeepMask(mask, rate, 1f / (1f - rate));

    /// <summary>Gates per unit: 1 (SimpleRNN), 4 (LSTM), 3 (GRU).</summary>
    internal int Gates { get; }

    /// <summary>The gates' activation where the layer has gates (sigmoid by default); SimpleRNN's is unused.</summary>
    internal ActivationFunction GateActivation { get; }

    /// <summary>The bias's shape: (gates·units) unless the layer says otherwise (GRU with reset_after: (2, 3·units)).</summary>
    private protected virtual int[] BiasShape => [Gates * Units];

    /// <summary>Adjusts the bias after it is drawn (LSTM's unit_forget_bias).</summary>
    private protected virtual void InitializeBias(Span<float> bias) { }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (inputShape.Length != 3)
            throw RankError(inputShape);
        Kernel = AddWeight("kernel", [inputShape[2], Gates * Units], KernelInitializer, regularizer: KernelRegularizer);
        RecurrentKernel = AddWeight("recurrent_kernel", [Units, Gates * Units], RecurrentInitializer, regularizer: RecurrentRegularizer);
        if (UseBias)
        {
            Bias = AddWeight("bias", BiasShape, BiasInitializer, regularizer: BiasRegularizer);
            InitializeBias(Bias.Span);
        }
    }

    private ArgumentException RankError(int[] shape) =>
        new($"{GetType().Name} '{Name}' expects input of rank 3 (batch, timesteps, features). Received: shape {ShapeUtil.Format(shape)}");

    /// <inheritdoc/>
    protected override bool TryBuildFromWeights(Tensor[] values)
    {
        if (values[0].Rank != 2 || values[0].ShapeRef[1] != Gates * Units) return false;
        EnsureBuilt([-1, -1, values[0].ShapeRef[0]]);
        return true;
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int features = Kernel!.ShapeRef[0];
        if (inputs.Rank != 3 || inputs.ShapeRef[2] != features)
            throw new ArgumentException($"{GetType().Name} '{Name}' expects input of shape (batch, timesteps, {features}). Received: shape {ShapeUtil.Format(inputs.ShapeRef)}");
        if (inputs.ShapeRef[1] == 0)
            throw new ArgumentException($"{GetType().Name} '{Name}' expects at least one timestep. Received: shape {ShapeUtil.Format(inputs.ShapeRef)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    private protected override Tensor CallCore(Tensor inputs, Tensor mask, bool training) => StageOp.Run(this, inputs, training, mask);

    /// <summary>With <see cref="ReturnSequences"/> the mask reaching the layer; otherwise null (the last state has no steps).</summary>
    public override Tensor? ComputeMask(Tensor inputs, Tensor? mask) => ReturnSequences ? mask : null;

    /// <inheritdoc/>
    internal override float[]? StageMask(StageContext context, Stage? stage) => ReturnSequences ? context.Mask : null;

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3)
            throw RankError(inputShape);
        return ReturnSequences ? [inputShape[0], inputShape[1], Units] : [inputShape[0], Units];
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        reason = context.Sample.Length != 2 || context.Sample[1] != Kernel!.ShapeRef[0] || context.Sample[0] < 1
            ? $"gets samples of shape {ShapeUtil.Format(context.Sample)}, not (timesteps, {Kernel!.ShapeRef[0]})"
            : context.Mask != null && context.Mask.Length != context.Batch * context.Sample[0]
            ? $"gets a mask of {context.Mask.Length / context.Batch} steps for samples of {context.Sample[0]} steps" : "";
        if (reason.Length > 0) return false;
        stage = CreateStage(context);
        return true;
    }

    /// <summary>The layer's stage for samples of <see cref="StageContext.Sample"/> = (timesteps, features).</summary>
    private protected abstract Stage CreateStage(StageContext context);
}

/// <summary>
/// What every recurrent layer's stage shares: the buffers of a whole sequence, the sequence loop forward and backward,
/// and the GEMMs. A cell (its subclass) writes the state update of one step and its backward.
/// </summary>
/// <remarks>
/// Layout: every per-step buffer is (rows, timesteps, width) in the input's time order t, so the input projection of the
/// whole sequence is one GEMM, and step t of all rows is a strided slice (leading dimension timesteps·width).
/// <see cref="HPrev"/> holds the state each step starts from (zero at the first processed step, or the given initial
/// state: <see cref="StatefulStage.InitialStates"/>) and the state after
/// the last processed step goes to <see cref="HLast"/>; so the recurrent kernel's gradient Σ h_{t−1}ᵀ·dgates_t is one
/// GEMM over all steps, and so is the input's. Nothing is allocated after the constructor.
/// </remarks>
internal abstract class RecurrentStage : StatefulStage
{
    protected readonly RecurrentLayer Layer;
    protected readonly int Steps, Features, Units, Gates, G;   // G = gates·units: the width of a step's gates
    /// <summary>(rows, steps, G): x·W + b, then the step's recurrent part added and the gates activated in place.</summary>
    protected readonly float[] Z;
    /// <summary>(rows, steps, G): the gradients of the gates' pre-activations.</summary>
    protected readonly float[] DZ;
    /// <summary>(rows, steps, G): the gradient through the recurrent product h_{t−1}·U (DZ itself unless the cell
    /// scales it, as GRU's reset gate does).</summary>
    protected float[] DRecurrent;
    /// <summary>(rows, steps, units): the state each step starts from.</summary>
    protected readonly float[] HPrev;
    /// <summary>(rows, units): the state after the last processed step.</summary>
    protected readonly float[] HLast;
    /// <summary>(rows, units): the gradient of the state after the step being run backward.</summary>
    protected readonly float[] DH;
    public Tensor? KernelGrad, RecurrentGrad, BiasGrad;
    /// <summary>Training with dropout: (rows, features) the input's mask and (rows, steps, features) the dropped input
    /// that the kernel multiplies; null otherwise.</summary>
    private readonly float[]? inputKeep, droppedInput;
    /// <summary>Training with recurrent dropout: (rows, units) the state's mask, drawn after the input's; else null.</summary>
    protected readonly float[]? RecurrentKeep;
    /// <summary>(rows, steps, units): what the recurrent kernel multiplies — <see cref="HPrev"/>, or with recurrent
    /// dropout on the state (SimpleRNN, LSTM) HPrev ⊙ the state's mask.</summary>
    protected readonly float[] RecurrentState;
    private readonly float[] recurrentScratch = [];
    /// <summary>(rows, steps) in input time: 0 where a step is masked (its state carried over), or null.</summary>
    protected readonly float[]? Mask;
    /// <summary>What a masked step carries over: per-step states (rows, steps, units), the state after the last step
    /// and the gradient carried backward (rows, units), with a buffer to keep that gradient across the step's
    /// backward. HPrev/HLast/DH first; LSTM adds its cell state.</summary>
    private readonly List<(float[] PerStep, float[] Last, float[] Grad, float[] Kept)> carried = [];

    protected RecurrentStage(RecurrentLayer layer, StageContext context)
    {
        Layer = layer;
        Steps = context.Sample[0];
        Features = context.Sample[1];
        Units = layer.Units;
        Gates = layer.Gates;
        G = Gates * Units;
        int batch = context.Batch;
        Z = new float[batch * Steps * G];
        DZ = new float[batch * Steps * G];
        DRecurrent = DZ;
        HPrev = new float[batch * Steps * Units];
        recurrentTransposed = new float[G * Units];
        HLast = new float[batch * Units];
        DH = new float[batch * Units];
        Width = layer.ReturnSequences ? Steps * Units : Units;
        bool train = layer.Trainable;
        KernelGrad = context.AddWeight(train ? layer.Kernel : null);
        RecurrentGrad = context.AddWeight(train ? layer.RecurrentKernel : null);
        BiasGrad = context.AddWeight(train ? layer.Bias : null);
        Mask = context.Mask;
        Carry(HPrev, HLast, DH, batch);
        if (context.Training && layer.Dropout > 0f)
        {
            inputKeep = new float[batch * Features];
            droppedInput = new float[batch * Steps * Features];
        }
        if (context.Training && layer.RecurrentDropout > 0f) RecurrentKeep = new float[batch * Units];
        RecurrentState = HPrev;
        if (RecurrentKeep != null && DropsState)
        {
            RecurrentState = new float[batch * Steps * Units];
            recurrentScratch = new float[batch * Units];
        }
    }

    /// <inheritdoc/>
    public override int StateCount => carried.Count;

    /// <inheritdoc/>
    public override int StateWidth(int k) => Units;

    /// <inheritdoc/>
    public override float[] FinalState(int k) => carried[k].Last;

    /// <summary>Whether step s adds a recurrent part: every step but the first, and the first too when it starts
    /// from given states (from zeros the product is zero, so it is skipped).</summary>
    protected bool Recurs(int s) => s > 0 || InitialStates != null;

    /// <summary>Whether recurrent dropout applies to the state before the recurrent product (Keras 3's SimpleRNN and
    /// LSTM); GRU drops its candidate instead.</summary>
    protected virtual bool DropsState => true;

    /// <summary>Adds a state that masked steps carry over unchanged (see <see cref="carried"/>).</summary>
    protected void Carry(float[] perStep, float[] last, float[] grad, int batch) =>
        carried.Add((perStep, last, grad, Mask == null ? [] : new float[batch * Units]));

    /// <summary>Whether row n's step at input time t is masked.</summary>
    private bool Masked(int n, int t) => Mask != null && Mask[n * Steps + t] == 0f;

    /// <summary>Whether row n's output at processing position s is zeros (a masked step, with zero_output_for_mask).</summary>
    private bool ZeroOutput(int n, int s) => Layer.ZeroOutputForMask && Masked(n, TimeAt(s));

    /// <summary>The input time of processing position s.</summary>
    protected int TimeAt(int s) => Layer.GoBackwards ? Steps - 1 - s : s;

    /// <summary>Row n of a (rows, steps, width) buffer at time t.</summary>
    protected static int At(int n, int t, int steps, int width) => (n * steps + t) * width;

    /// <summary>Where step s writes row n's new state (of a (rows, steps, units) buffer; the last step: its own).</summary>
    protected Span<float> NextState(float[] perStep, float[] last, int n, int s) =>
        s == Steps - 1 ? last.AsSpan(n * Units, Units) : perStep.AsSpan(At(n, TimeAt(s + 1), Steps, Units), Units);

    /// <summary>The recurrent kernel's columns [from, from + width) times the states of rows [lo, hi) of a (rows,
    /// steps, units) buffer at time t, into Z's (or <paramref name="c"/>'s) step t columns [from, …). A row's result
    /// does not depend on the rows multiplied with it (Gemm), so any split of the rows gives the same bits.</summary>
    protected void Recur(float[] states, int t, int lo, int hi, int from, int width, float[] c, bool accumulate) =>
        Gemm.Sgemm(false, false, hi - lo, width, Units, states.AsSpan(At(lo, t, Steps, Units)), Steps * Units,
            Layer.RecurrentKernel!.AsSpan()[from..], G, c.AsSpan(At(lo, t, Steps, G) + from), Steps * G, accumulate);

    /// <summary>dh (rows [lo, hi), from row lo) (+)= step t's columns [from, from + width) of <paramref name="d"/> · U[:, from…]ᵀ,
    /// with Uᵀ (<see cref="recurrentTransposed"/>, made once per backward pass) read row-major in place: a transposed
    /// U would be re-packed by every step's product.</summary>
    protected void RecurBack(float[] d, int t, int lo, int hi, int from, int width, Span<float> dh, bool accumulate) =>
        Gemm.Sgemm(false, false, hi - lo, Units, width, d.AsSpan(At(lo, t, Steps, G) + from), Steps * G,
            recurrentTransposed.AsSpan(from * Units, width * Units), Units, dh, Units, accumulate);

    /// <summary>(G, units): the recurrent kernel transposed, for the backward pass's products.</summary>
    private readonly float[] recurrentTransposed;

    /// <summary>Rows [lo, hi) of a (rows, units) buffer.</summary>
    protected Span<float> RowsOf(float[] buffer, int lo, int hi) => buffer.AsSpan(lo * Units, (hi - lo) * Units);

    /// <summary>The job a split of the sequence loop hands to the cores: this stage (by handle) and the direction.</summary>
    private struct RowsJob
    {
        public GCHandle Stage;
        public bool Backward;
    }

    /// <summary>Rows [lo, hi) of the sequence loop, forward or backward, on whichever core runs the part; the products
    /// inside stay on that core.</summary>
    private static unsafe void RowsPart(void* state, int lo, int hi)
    {
        var job = (RowsJob*)state;
        var stage = (RecurrentStage)job->Stage.Target!;
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            if (job->Backward) stage.BackwardRows(lo, hi);
            else stage.ForwardRows(lo, hi);
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
    }

    /// <summary>Fewest rows per core worth a split of the sequence loop.</summary>
    private const int MinRowsPerPart = 8;

    /// <summary>
    /// Runs the sequence loop over all rows. Every row's recurrence is independent of the others' (its state, its gates,
    /// its gradients), so the rows are split between the cores once for the whole sequence — each core runs its rows
    /// through every step with its own small products — rather than synchronising the cores at every step; the
    /// results are the same bits for any split (see <see cref="Recur"/>).
    /// </summary>
    private unsafe void RunRows(int rows, bool backward)
    {
        int parts = Math.Min(GemmThreads.MaxParts, rows / MinRowsPerPart);
        if (parts >= 2 && !GemmThreads.SerialOnThisThread)
        {
            Span<int> bounds = stackalloc int[parts + 1];
            for (int i = 0; i <= parts; i++) bounds[i] = (int)((long)rows * i / parts);
            var job = new RowsJob { Stage = GCHandle.Alloc(this), Backward = backward }; // a handle, not a heap object
            try
            {
                if (GemmThreads.TryRunRanges(&RowsPart, &job, bounds)) return;
            }
            finally { job.Stage.Free(); }
        }
        if (backward) BackwardRows(0, rows);
        else ForwardRows(0, rows);
    }

    public override void Forward(float[] input, int rows)
    {
        int n0 = rows * Steps;
        ReadOnlySpan<float> bias = Layer.Bias == null ? default : Layer.Bias.AsSpan()[..G];
        if (inputKeep != null)
        {
            // One mask per sequence, the same at every step (Keras's get_dropout_mask, drawn once per call).
            Layer.FillDropMask(inputKeep.AsSpan(0, rows * Features), Layer.Dropout);
            ScaleSteps(input, inputKeep, droppedInput!, rows);
            input = droppedInput!;
        }
        if (RecurrentKeep != null) Layer.FillDropMask(RecurrentKeep.AsSpan(0, rows * Units), Layer.RecurrentDropout);
        // The input projection of every step at once: (rows·steps, features)·(features, G).
        Gemm.Sgemm(false, false, n0, G, Features, input.AsSpan(0, n0 * Features), Features, Layer.Kernel!.AsSpan(), G, Z.AsSpan(0, n0 * G), G);
        if (!bias.IsEmpty)
            for (int i = 0; i < n0; i++) TensorPrimitives.Add(Z.AsSpan(i * G, G), bias, Z.AsSpan(i * G, G));
        RunRows(rows, backward: false);
    }

    /// <summary>The sequence loop forward for rows [lo, hi): their states through every step, then their output.</summary>
    private void ForwardRows(int lo, int hi)
    {
        int first = TimeAt(0);
        for (int n = lo; n < hi; n++) ClearFirst(HPrev, n, first);
        BeginForward(lo, hi);
        if (InitialStates != null)
            for (int k = 0; k < carried.Count; k++)
                for (int n = lo; n < hi; n++)
                    InitialStates[k].AsSpan(n * Units, Units).CopyTo(carried[k].PerStep.AsSpan(At(n, first, Steps, Units), Units));
        for (int s = 0; s < Steps; s++)
        {
            int t = TimeAt(s);
            if (RecurrentState != HPrev)
                for (int n = lo; n < hi; n++)
                    TensorPrimitives.Multiply(HPrev.AsSpan(At(n, t, Steps, Units), Units), RecurrentKeep.AsSpan(n * Units, Units),
                        RecurrentState.AsSpan(At(n, t, Steps, Units), Units));
            ForwardStep(t, s, lo, hi);
            // A masked step keeps the states it started from (as Keras's backend.rnn: where(mask, new, old)).
            for (int n = lo; n < hi; n++)
                if (Masked(n, t))
                    foreach (var c in carried)
                        c.PerStep.AsSpan(At(n, t, Steps, Units), Units).CopyTo(NextState(c.PerStep, c.Last, n, s));
        }
        // The output: the last state, or every state in processing order.
        if (!Layer.ReturnSequences) RowsOf(HLast, lo, hi).CopyTo(RowsOf(Output, lo, hi));
        else
            for (int n = lo; n < hi; n++)
                for (int s = 0; s < Steps; s++)
                    if (ZeroOutput(n, s)) Output.AsSpan(At(n, s, Steps, Units), Units).Clear();
                    else (s == Steps - 1 ? HLast.AsSpan(n * Units, Units) : HPrev.AsSpan(At(n, TimeAt(s + 1), Steps, Units), Units))
                        .CopyTo(Output.AsSpan(At(n, s, Steps, Units), Units));
    }

    /// <summary>Zeroes row n's slice at time t of a (rows, steps, units) buffer: the state before the first step.</summary>
    protected void ClearFirst(float[] states, int n, int t) => states.AsSpan(At(n, t, Steps, Units), Units).Clear();

    /// <summary>Clears what the cell carries besides the state (LSTM's cell state) before the first step.</summary>
    protected virtual void BeginForward(int lo, int hi) { }

    /// <summary>Step s (input time t) for rows [lo, hi): adds the recurrent part, activates the gates in place in Z and
    /// writes the new state (<see cref="NextState"/>).</summary>
    protected abstract void ForwardStep(int t, int s, int lo, int hi);

    /// <summary>Step s backward for rows [lo, hi): from DH (the gradient of the step's new state) writes DZ's (and
    /// <see cref="DRecurrent"/>'s) step t and replaces DH by the part of dh_{t−1} that does not flow through U.</summary>
    protected abstract void BackwardStep(int t, int s, int lo, int hi);

    /// <summary>dh_{t−1} += the recurrent part: DRecurrent's step t · Uᵀ (GRU without reset_after overrides it).</summary>
    protected virtual void RecurrentBackward(int t, int lo, int hi)
    {
        if (RecurrentState == HPrev)
        {
            RecurBack(DRecurrent, t, lo, hi, 0, G, RowsOf(DH, lo, hi), true);
            return;
        }
        // The recurrent product saw h_{t−1} ⊙ keep: its gradient reaches h_{t−1} times the same mask.
        RecurBack(DRecurrent, t, lo, hi, 0, G, RowsOf(recurrentScratch, lo, hi), false);
        for (int n = lo; n < hi; n++)
            TensorPrimitives.MultiplyAdd(recurrentScratch.AsSpan(n * Units, Units), RecurrentKeep.AsSpan(n * Units, Units),
                DH.AsSpan(n * Units, Units), DH.AsSpan(n * Units, Units));
    }

    /// <summary>Clears what the cell carries backward besides DH (LSTM's cell-state gradient).</summary>
    protected virtual void BeginBackward(int lo, int hi) { }

    /// <summary>The recurrent kernel's gradient: Σ_t h_{t−1}ᵀ·DRecurrent_t, one GEMM over all rows and steps.</summary>
    protected virtual void RecurrentKernelGradient(int rows, Span<float> dU) =>
        Gemm.Sgemm(true, false, Units, G, rows * Steps, RecurrentState.AsSpan(0, rows * Steps * Units), Units, DRecurrent.AsSpan(0, rows * Steps * G), G, dU, G);

    /// <summary>
    /// <see cref="BackwardStep"/> where some rows' step is masked: their carried gradients pass through unchanged to the
    /// step before, and the step's gate gradients are zero (no gradient to the weights or to the step's input).
    /// </summary>
    private void MaskedBackwardStep(int t, int s, int lo, int hi)
    {
        for (int n = lo; n < hi; n++)
            if (Masked(n, t))
                foreach (var c in carried) c.Grad.AsSpan(n * Units, Units).CopyTo(c.Kept.AsSpan(n * Units, Units));
        BackwardStep(t, s, lo, hi);
        for (int n = lo; n < hi; n++)
        {
            if (!Masked(n, t)) continue;
            foreach (var c in carried) c.Kept.AsSpan(n * Units, Units).CopyTo(c.Grad.AsSpan(n * Units, Units));
            DZ.AsSpan(At(n, t, Steps, G), G).Clear();
            DRecurrent.AsSpan(At(n, t, Steps, G), G).Clear();
        }
    }

    /// <summary>to[n, t, :] = from[n, t, :] ⊙ keep[n, :] for every step: the input's dropout, forward and backward.</summary>
    private void ScaleSteps(float[] from, float[] keep, float[] to, int rows)
    {
        for (int n = 0; n < rows; n++)
            for (int t = 0; t < Steps; t++)
                TensorPrimitives.Multiply(from.AsSpan(At(n, t, Steps, Features), Features), keep.AsSpan(n * Features, Features),
                    to.AsSpan(At(n, t, Steps, Features), Features));
    }

    /// <summary>The sequence loop backward for rows [lo, hi): DZ (and DRecurrent) of their every step.</summary>
    private void BackwardRows(int lo, int hi)
    {
        Span<float> dh = RowsOf(DH, lo, hi);
        dh.Clear();
        BeginBackward(lo, hi);
        // The returned final states' gradients join the last step's (a masked last step carries them on).
        if (FinalStateGrads != null)
            for (int k = 0; k < carried.Count; k++)
            {
                Span<float> grad = RowsOf(carried[k].Grad, lo, hi);
                TensorPrimitives.Add(grad, RowsOf(FinalStateGrads[k], lo, hi), grad);
            }
        for (int s = Steps - 1; s >= 0; s--)
        {
            int t = TimeAt(s);
            // The loss's gradient of this step's output joins the gradient from the steps after it.
            if (Layer.ReturnSequences)
                for (int n = lo; n < hi; n++)
                {
                    if (ZeroOutput(n, s)) continue; // a constant output takes no gradient
                    TensorPrimitives.Add(DH.AsSpan(n * Units, Units), OutputGrad.AsSpan(At(n, s, Steps, Units), Units), DH.AsSpan(n * Units, Units));
                }
            else if (s == Steps - 1) TensorPrimitives.Add(dh, RowsOf(OutputGrad, lo, hi), dh);
            if (Mask == null) BackwardStep(t, s, lo, hi);
            else MaskedBackwardStep(t, s, lo, hi);
            if (Recurs(s)) RecurrentBackward(t, lo, hi);
        }
        // What is left after the first step is the gradient of the states it started from.
        if (InitialStates != null && InitialStateGrads != null)
            for (int k = 0; k < carried.Count; k++) RowsOf(carried[k].Grad, lo, hi).CopyTo(RowsOf(InitialStateGrads[k], lo, hi));
    }

    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        int n0 = rows * Steps;
        if (droppedInput != null) input = droppedInput; // what the kernel multiplied
        ReadOnlySpan<float> u = Layer.RecurrentKernel!.AsSpan();
        for (int i = 0; i < Units; i++)
            for (int j = 0; j < G; j++) recurrentTransposed[j * Units + i] = u[i * G + j];
        RunRows(rows, backward: true);
        ReadOnlySpan<float> dz = DZ.AsSpan(0, n0 * G);
        if (KernelGrad != null)
            Gemm.Sgemm(true, false, Features, G, n0, input.AsSpan(0, n0 * Features), Features, dz, G, KernelGrad.Span, G);
        if (RecurrentGrad != null) RecurrentKernelGradient(rows, RecurrentGrad.Span);
        if (BiasGrad != null)
        {
            Reduce.Sum(dz, 1, n0, G, BiasGrad.Span[..G]);
            if (BiasGrad.Size > G) Reduce.Sum(DRecurrent.AsSpan(0, n0 * G), 1, n0, G, BiasGrad.Span[G..]);
        }
        if (inputGrad != null)
        {
            Gemm.Sgemm(false, true, n0, Features, G, dz, G, Layer.Kernel!.AsSpan(), G, inputGrad.AsSpan(0, n0 * Features), Features);
            if (inputKeep != null) ScaleSteps(inputGrad, inputKeep, inputGrad, rows);
        }
    }
}
