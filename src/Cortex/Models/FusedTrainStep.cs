using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Cortex.Kernels;
using Cortex.Layers;
using Cortex.Metrics;

namespace Cortex.Models;

/// <summary>
/// The training step run on buffers made once per Fit, for a model whose every layer offers a <see cref="Stage"/>
/// (<see cref="Layer.TryCreateStage"/>) and whose loss has a fused kernel: the batch is gathered straight into an input
/// buffer (an NHWC image is one contiguous row), each stage runs forward and backward on its own buffers, the loss
/// writes its gradient while computing its value, and the optimizer steps. After the first step it allocates nothing.
/// The stages use the same kernels in the same order as the layers' tape ops, so both paths produce the same bits.
/// A model runs as a graph of layer calls (<see cref="Model.StageGraph"/>): a Sequential is a chain; a Functional's
/// branches and merges (a residual <see cref="Add"/>, a <see cref="Concatenate"/>) run as they are, a tensor read by
/// several calls getting the sum of their gradients in the order the tape adds them.
/// This class names no layer and no optimizer: a model that cannot run here (a layer without a stage, a regularizer…)
/// trains on the tape, and <see cref="Model.TrainingPath"/> says why. Made for inference
/// (<see cref="TryCreateInference"/>), it runs the stages forward only, in inference mode, on buffers kept by the
/// model: <c>Predict</c> then allocates nothing but its result.
/// </summary>
internal sealed class FusedTrainStep
{
    /// <summary>One layer call that runs a stage: the buffers it reads and where its backward writes their gradients.</summary>
    private sealed class Call(Stage stage, int[] from)
    {
        public readonly Stage Stage = stage;
        /// <summary>The values (see <see cref="FusedTrainStep.values"/>) it reads, in input order.</summary>
        public readonly int[] From = from;
        public float[][] Inputs = [];
        /// <summary>Where backward writes each input's gradient: the value's own gradient buffer for the first call to
        /// reach it in backward order, a scratch buffer added to it afterwards for the others; null: not needed.</summary>
        public float[]?[] InputGrads = [];
        public (float[] Scratch, float[] Sum, int Width)[] Accumulate = [];
        /// <summary>Whether backward runs: the call trains a weight, or a call before it does.</summary>
        public bool Backward;
        /// <summary>Inference: the call before it runs this call's stage within its own (<see cref="Stage.TryAbsorb"/>).</summary>
        public bool Absorbed;
    }

    private readonly Model model;
    private readonly List<Call> calls = [];
    /// <summary>Each value a call reads: the model's input (0), then one per call, with its gradient buffer.</summary>
    private readonly List<(float[] Data, float[] Grad, int Width)> values = [];
    private int piecewise = -1; // the call whose first weight's update folds into its backward (Stage.TryBackwardAndUpdate), or -1
    private int output;         // the value the loss reads
    private readonly int inputWidth, labelWidth, batch;
    private readonly float[] xBuffer, yBuffer;
    private int gatherSplit; // where the first stage would have the batch's columns cut between two cores (0: no cut)
    private readonly List<Tensor?> gradients = [];
    private readonly List<Tensor?> gradientsButFirst = []; // the piecewise weight's entry null: updated in its backward
    private readonly List<Variable> variables = [];
    private Tensor yFull = null!, predFull = null!; // set by Build
    private Tensor? yTail, predTail;
    private readonly List<Metric> metrics;
    private readonly bool inference;     // forward only, stages in inference mode, no gradient registered
    private static readonly Tensor NoGradient = Tensor.Zeros(0);
    private int[] outputSample = [];     // the output's shape per sample (inference)

    private FusedTrainStep(Model model, int inputWidth, int labelWidth, int batch, List<Metric> metrics, bool inference = false)
    {
        this.inference = inference;
        this.model = model;
        this.inputWidth = inputWidth;
        this.labelWidth = labelWidth;
        this.batch = batch;
        this.metrics = metrics;
        xBuffer = new float[batch * inputWidth];
        yBuffer = new float[batch * labelWidth];
    }

    /// <summary>Registers one trainable weight (none when null) and makes its gradient buffer, in the tape path's
    /// variable order, which the optimizer's slots follow.</summary>
    private Tensor? AddWeight(Variable? weight)
    {
        if (weight == null) return null;
        if (inference) return NoGradient; // forward only: a stage writes its gradients in backward alone
        var grad = Tensor.Zeros(weight.ShapeRef);
        variables.Add(weight);
        gradients.Add(grad);
        return grad;
    }

    /// <summary>A fused step for this model and data, or null, with the reason, when the model needs the tape path.</summary>
    public static FusedTrainStep? TryCreate(Model model, Tensor x, Tensor y, int batchSize, List<Metric> metrics, out string reason)
    {
        if (model.StageGraph(out reason) is not { } graph) return null;
        if (x.Rank < 2 || y.Rank > 2)
        {
            reason = x.Rank < 2 ? "the inputs are not a batch of samples" : $"the labels have rank {y.Rank}";
            return null;
        }
        int rows = x.ShapeRef[0];
        var step = new FusedTrainStep(model, x.Size / rows, y.Size / rows, Math.Min(batchSize, rows), metrics);
        return step.Build(graph, x.ShapeRef[1..], y, out reason) ? step : null;
    }

    /// <summary>A forward-only step for samples of <paramref name="sample"/>'s shape, up to <paramref name="batch"/> rows
    /// at a time, or null with the reason (the model then predicts through its layers' calls).</summary>
    public static FusedTrainStep? TryCreateInference(Model model, int[] sample, int batch, out string reason)
    {
        if (model.StageGraph(out reason) is not { } graph) return null;
        if (sample.Length == 0 || sample.Any(d => d <= 0)) { reason = $"samples of shape {ShapeUtil.Format(sample)}"; return null; }
        var step = new FusedTrainStep(model, sample.Aggregate(1, (a, b) => a * b), 0, batch, [], inference: true);
        return step.Build(graph, sample, null, out reason) ? step : null;
    }

    /// <summary>The rows a forward-only step takes at once.</summary>
    public int Batch => batch;

    /// <summary>The most rows a forward-only step for this sample shape may be made for (its buffers' budget).</summary>
    public int RowsMax { get; set; } = int.MaxValue;

    /// <summary>The sample shape a forward-only step was made for.</summary>
    public int[] InputSample { get; private set; } = [];

    /// <summary>The model's outputs for the <paramref name="rows"/> samples of <paramref name="x"/>, <see cref="Batch"/>
    /// rows at a time (each row's result does not depend on the other rows' values). When all rows fit in one run, the
    /// stages read <paramref name="x"/> itself rather than a copy (no stage writes its input).</summary>
    public Tensor Predict(Tensor x, int rows)
    {
        int width = values[output].Width;
        var result = Tensor.Uninitialized([rows, .. outputSample]);
        var into = result.Span;
        if (rows <= batch && output != 0)
        {
            ReadFrom(x.data);
            try { Forward(rows); }
            finally { ReadFrom(xBuffer); }
            values[output].Data.AsSpan(0, rows * width).CopyTo(into);
            return result;
        }
        var xs = x.AsSpan();
        for (int start = 0; start < rows; start += batch)
        {
            int count = Math.Min(batch, rows - start);
            xs.Slice(start * inputWidth, count * inputWidth).CopyTo(xBuffer);
            Forward(count);
            values[output].Data.AsSpan(0, count * width).CopyTo(into.Slice(start * width));
        }
        return result;
    }

    /// <summary>Points the calls that read the model's input at <paramref name="input"/>.</summary>
    private void ReadFrom(float[] input)
    {
        foreach (var call in calls)
            for (int i = 0; i < call.From.Length; i++)
                if (call.From[i] == 0) call.Inputs[i] = input;
    }

    /// <summary>Every call's stage forward on the first <paramref name="count"/> rows of the input buffer.</summary>
    private void Forward(int count)
    {
        foreach (var call in calls)
        {
            if (call.Absorbed) continue;
            if (call.Inputs.Length == 1) call.Stage.Forward(call.Inputs[0], count);
            else call.Stage.Forward(call.Inputs, count);
        }
    }

    /// <summary>
    /// Makes every layer call's stage, following the samples' shapes through the graph; false with the reason at the
    /// first call that has none. A call without a stage (Input, Flatten, Reshape) passes its input's value on as its
    /// own; an activation whose input no other call reads runs in place on that input's buffers.
    /// </summary>
    private bool Build((Layer Layer, int[] From)[] graph, int[] inputSample, Tensor? y, out string reason)
    {
        InputSample = inputSample;
        bool chain = graph.Select((g, i) => g.From is [int f] && f == i - 1).All(b => b);
        int n = graph.Length;
        var valueOf = new int[n];              // the value each call's output is
        var sampleOf = new int[n][];           // its sample shape
        var maskOf = new float[]?[n];          // the mask of its output (a chain only: graphs run masks on the tape)
        var trains = new List<bool> { false }; // for each value, whether a weight before it trains (so its gradient is needed)
        values.Add((xBuffer, [], inputWidth));
        int weightsBefore = 0;
        var readers = new int[n + 1]; // how many calls read each value (an in-place stage must be its input's only reader)
        reason = "";
        for (int k = 0; k < n; k++)
        {
            var (layer, from) = graph[k];
            var ins = from.Select(f => f < 0 ? 0 : valueOf[f]).ToArray();
            var samples = from.Select(f => f < 0 ? inputSample : sampleOf[f]).ToArray();
            var context = new StageContext(batch, inputSample.Length == 1, AddWeight)
            {
                Training = !inference,
                Sample = samples[0],
                Samples = samples,
                Mask = from[0] < 0 ? null : maskOf[from[0]],
                TrainableSeen = ins.Any(v => trains[v]),
            };
            string why = "";
            if (layer.HasRegularizer && !inference) why = "has a regularizer";
            if (why.Length > 0 || !layer.TryCreateStage(context, out var stage, out why))
            {
                reason = $"{layer.GetType().Name} '{layer.Name}' {why}";
                return false;
            }
            if (from.Length > 1 && stage is { ReadsSeveral: false })
            {
                reason = $"{layer.GetType().Name} '{layer.Name}' is called on {from.Length} tensors (initial states run on the tape)";
                return false;
            }
            maskOf[k] = layer.StageMask(context, stage);
            if (maskOf[k] != null && !chain)
            {
                reason = $"a mask reaches {layer.GetType().Name} '{layer.Name}' in a graph (graphs run masks on the tape)";
                return false;
            }
            sampleOf[k] = from.Length == 1 ? context.OutputSample(layer)
                : [.. layer.ComputeOutputShape([.. samples.Select(s => (int[])[-1, .. s])])[1..]];
            if (stage == null)
            {
                if (from.Length != 1) { reason = $"{layer.GetType().Name} '{layer.Name}' has no stage for several inputs"; return false; }
                valueOf[k] = ins[0];
                continue;
            }
            bool weights = variables.Count > weightsBefore;
            weightsBefore = variables.Count;
            var call = new Call(stage, ins) { Backward = weights || context.TrainableSeen };
            if (weights && piecewise < 0) piecewise = calls.Count; // the first call with weights: its backward runs last
            calls.Add(call);
            trains.Add(call.Backward);
            valueOf[k] = values.Count;
            values.Add(([], [], stage.Width));
            foreach (int v in ins) readers[v]++;
        }
        output = valueOf[n - 1];
        outputSample = sampleOf[n - 1];
        if (inference)
        {
            if (output == 0) { reason = "no layer computes anything"; return false; }
            // A stage may take the next call into its own pass (a convolution its pooling) when that call alone reads it.
            for (int c = 0; c + 1 < calls.Count; c++)
                if (calls[c + 1].From is [int v] && v == c + 1 && readers[v] == 1 && calls[c].Stage.TryAbsorb(calls[c + 1].Stage))
                    calls[c + 1].Absorbed = true;
            MakeBuffers(readers);
            return true;
        }
        if (calls.Count == 0 || !trains.Any(t => t)) { reason = "no layer trains a weight"; return false; }
        if (variables.Count != model.TrainableVariables.Count) { reason = "a layer's weights are trained outside its stage"; return false; }
        if (sampleOf[n - 1].Length != 1) { reason = $"the output has shape {ShapeUtil.Format(sampleOf[n - 1])}, not rows"; return false; }
        if (output == 0 || readers[output] > 0) { reason = "the output is also read by a layer of the model"; return false; }
        // The loss must have a fused kernel for this label layout (probed on one row).
        int width = sampleOf[n - 1][0];
        if (!model.Loss!.TryFused(y!.AsSpan()[..labelWidth], new float[width], 1, width, new float[width], out _))
        {
            reason = $"the loss {model.Loss.GetType().Name} has no fused kernel (for labels of this shape)";
            return false;
        }
        MakeBuffers(readers);
        // Gradient targets, in the tape's order: backward visits the calls last to first and each call's inputs in
        // order; the first gradient to reach a value is written into its buffer, each later one added to it.
        var reached = new bool[values.Count];
        for (int c = calls.Count - 1; c >= 0; c--)
        {
            var call = calls[c];
            call.InputGrads = new float[]?[call.From.Length];
            var sums = new List<(float[], float[], int)>();
            for (int i = 0; i < call.From.Length; i++)
            {
                int v = call.From[i];
                if (!call.Backward || !trains[v]) continue;
                if (!reached[v]) call.InputGrads[i] = values[v].Grad;
                else
                {
                    var scratch = new float[batch * values[v].Width];
                    call.InputGrads[i] = scratch;
                    sums.Add((scratch, values[v].Grad, values[v].Width));
                }
                reached[v] = true;
            }
            call.Accumulate = [.. sums];
        }
        // A stage may apply the previous call's activation gradient in its own backward (a max pooling after a
        // convolution) when it alone reads that call's output; the previous call's backward then skips that pass.
        for (int c = 0; c < calls.Count; c++)
            calls[c].Stage.ActivationGradientTaken = c + 1 < calls.Count && calls[c].Backward && calls[c + 1].Backward
                && calls[c + 1].From is [int v] && v == c + 1 && readers[v] == 1 && calls[c + 1].Stage.TryTakeActivationGradient(calls[c].Stage);
        if (piecewise >= 0 && (variables.Count <= 1 || calls[piecewise].From.Length != 1)) piecewise = -1;
        // The first stage to read the gathered batch, when it alone reads it, may cut its columns between the cores.
        if (readers[0] == 1) gatherSplit = calls.First(c => c.From.Contains(0)).Stage.GatherSplit;
        gradientsButFirst.AddRange([null, .. gradients.Skip(1)]); // the piecewise call registered the first weight
        // Slots made now rather than at the first ApplyGradients, so the first step can already update piecewise.
        model.Optimizer!.Build(variables);
        yFull = new Tensor(yBuffer, labelWidth == 1 ? [batch] : [batch, labelWidth]);
        predFull = new Tensor(values[output].Data, [batch, values[output].Width]);
        return true;
    }

    /// <summary>
    /// Each call's output buffer (and, training, its gradient's): an in-place stage shares those of its only input
    /// when that input's stage lends them (forward only, any stage's), others get their own. Then each call's inputs.
    /// </summary>
    private void MakeBuffers(int[] readers)
    {
        for (int c = 0; c < calls.Count; c++)
        {
            var call = calls[c];
            int v = c + 1, width = values[v].Width;
            if (call.Stage.CanRunInPlace && call.From is [int src] && src > 0 && readers[src] == 1 && (inference || calls[src - 1].Stage.LendsBuffers))
                values[v] = (values[src].Data, values[src].Grad, width);
            else if (c + 1 < calls.Count && calls[c + 1].Absorbed)
                values[v] = ([], [], width); // never stored: the next call's output is written instead
            else values[v] = (new float[batch * width], inference ? [] : new float[batch * width], width);
            call.Stage.Output = values[v].Data;
            call.Stage.OutputGrad = values[v].Grad;
            call.Inputs = [.. call.From.Select(f => values[f].Data)];
        }
    }

    /// <summary>The tape path's order of trainable variables, which the optimizer's slots follow.</summary>
    public IReadOnlyList<Variable> Variables => variables;

    private unsafe struct GatherJob
    {
        public float* Source, Destination;
        public int* Rows;
        public int Count, Width;
    }

    /// <summary>Copies columns [lo, hi) of the listed rows of the data into the input buffer.</summary>
    private static unsafe void GatherColumns(void* state, int lo, int hi)
    {
        var job = (GatherJob*)state;
        nint width = job->Width;
        for (int i = 0; i < job->Count; i++)
            new ReadOnlySpan<float>(job->Source + job->Rows[i] * width + lo, hi - lo).CopyTo(new Span<float>(job->Destination + i * width + lo, hi - lo));
    }

    /// <summary>
    /// Gathers a shuffled batch into the input buffer. When the first layer's GEMM splits k across two cores, each core
    /// copies the columns it will multiply (the same cut), so that half of the batch is already in its own cache;
    /// otherwise this thread copies whole rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void GatherRows(ReadOnlySpan<float> xs, ReadOnlySpan<int> rows, int count)
    {
        fixed (float* source = xs, destination = xBuffer)
        fixed (int* rowList = rows)
        {
            var job = new GatherJob { Source = source, Destination = destination, Rows = rowList, Count = count, Width = inputWidth };
            if (gatherSplit > 0)
            {
                Span<int> bounds = [0, gatherSplit, inputWidth];
                if (GemmThreads.TryRunRanges(&GatherColumns, &job, bounds)) return;
            }
            GatherColumns(&job, 0, inputWidth);
        }
    }

    /// <summary>Runs one step on the rows of <paramref name="x"/>/<paramref name="y"/> listed in <paramref name="rows"/>
    /// (or, when null, the contiguous rows from <paramref name="start"/>). Returns the batch loss; with
    /// <paramref name="skipUpdateIfNotFinite"/> a NaN or infinite loss is returned before anything is updated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float Step(Tensor x, Tensor y, ReadOnlySpan<int> rows, int start, int count, bool skipUpdateIfNotFinite = false,
        DistributionStrategy? distribution = null, float share = 1f)
    {
        // Gather the batch into the input and label buffers.
        ReadOnlySpan<float> xs = x.AsSpan(), ys = y.AsSpan();
        if (rows.IsEmpty)
        {
            xs.Slice(start * inputWidth, count * inputWidth).CopyTo(xBuffer);
            ys.Slice(start * labelWidth, count * labelWidth).CopyTo(yBuffer);
        }
        else
        {
            for (int i = 0; i < count; i++)
                ys.Slice(rows[i] * labelWidth, labelWidth).CopyTo(yBuffer.AsSpan(i * labelWidth));
            GatherRows(xs, rows, count);
        }

        Forward(count);
        var (prediction, predictionGrad, width) = values[output];
        model.Loss!.TryFused(yBuffer.AsSpan(0, count * labelWidth), prediction.AsSpan(0, count * width), count, width,
            predictionGrad.AsSpan(0, count * width), out float loss);
        if (skipUpdateIfNotFinite && !float.IsFinite(loss)) return loss;

        bool piecewiseDone = false;
        for (int c = calls.Count - 1; c >= 0; c--)
        {
            var call = calls[c];
            if (!call.Backward) continue;
            // Distributed, every gradient must be summed over the ranks before any update: no piecewise update.
            if (c == piecewise && distribution == null && call.Stage.TryBackwardAndUpdate(call.Inputs[0], count, model.Optimizer!))
                piecewiseDone = true;
            else if (call.Inputs.Length == 1) call.Stage.Backward(call.Inputs[0], call.InputGrads[0], count);
            else call.Stage.Backward(call.Inputs, call.InputGrads, count);
            foreach (var (scratch, sum, w) in call.Accumulate) // the tape's order: the sum so far + this gradient
                OnCores.Add(sum.AsSpan(0, count * w), scratch.AsSpan(0, count * w));
        }
        distribution?.AllReduceGradients(gradients, share);
        model.Optimizer!.ApplyGradients(piecewiseDone ? gradientsButFirst : gradients, variables);

        if (metrics.Count > 0)
        {
            Tensor yt, pt;
            if (count == batch) (yt, pt) = (yFull, predFull); // these wrap the step's own buffers
            else
            {
                // The one short batch at the end of an epoch gets tensors of its own size (made once).
                if (yTail == null || yTail.ShapeRef[0] != count)
                {
                    yTail = new Tensor(new float[count * labelWidth], labelWidth == 1 ? [count] : [count, labelWidth]);
                    predTail = new Tensor(new float[count * width], [count, width]);
                }
                yBuffer.AsSpan(0, count * labelWidth).CopyTo(yTail.Span);
                prediction.AsSpan(0, count * width).CopyTo(predTail!.Span);
                (yt, pt) = (yTail, predTail);
            }
            foreach (var m in metrics) m.UpdateState(yt, pt);
        }
        return loss;
    }
}
