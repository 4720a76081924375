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
/// This class names no layer and no optimizer: a model that cannot run here (a layer without a stage, a regularizer…)
/// trains on the tape, and <see cref="Model.TrainingPath"/> says why.
/// </summary>
internal sealed class FusedTrainStep
{
    private readonly Model model;
    private readonly List<Stage> stages = [];
    private int firstTrainable = -1; // the first stage that registered a weight: where backward stops
    private readonly int inputWidth, labelWidth, batch;
    private readonly float[] xBuffer, yBuffer;
    private int gatherSplit; // where the first stage would have the batch's columns cut between two cores (0: no cut)
    private readonly List<Tensor?> gradients = [];
    private readonly List<Tensor?> gradientsButFirst = []; // the first weight's entry null: updated piecewise (Stage.TryBackwardAndUpdate)
    private readonly List<Variable> variables = [];
    private Tensor yFull = null!, predFull = null!; // set by Build
    private Tensor? yTail, predTail;
    private readonly List<Metric> metrics;

    private FusedTrainStep(Model model, int inputWidth, int labelWidth, int batch, List<Metric> metrics)
    {
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
        if (firstTrainable < 0) firstTrainable = stages.Count;
        var grad = Tensor.Zeros(weight.ShapeRef);
        variables.Add(weight);
        gradients.Add(grad);
        return grad;
    }

    /// <summary>A fused step for this model and data, or null, with the reason, when the model needs the tape path.</summary>
    public static FusedTrainStep? TryCreate(Model model, Tensor x, Tensor y, int batchSize, List<Metric> metrics, out string reason)
    {
        if (model.NotAChain is { } graph)
        {
            reason = graph;
            return null;
        }
        if (x.Rank < 2 || y.Rank > 2)
        {
            reason = x.Rank < 2 ? "the inputs are not a batch of samples" : $"the labels have rank {y.Rank}";
            return null;
        }
        int rows = x.ShapeRef[0];
        var step = new FusedTrainStep(model, x.Size / rows, y.Size / rows, Math.Min(batchSize, rows), metrics);
        return step.Build(x, y, out reason) ? step : null;
    }

    /// <summary>Makes every layer's stage, following the sample's shape layer by layer; false with the reason at the
    /// first layer that has none.</summary>
    private bool Build(Tensor x, Tensor y, out string reason)
    {
        var context = new StageContext(batch, x.Rank == 2, AddWeight) { Sample = x.ShapeRef[1..] };
        foreach (var layer in model.Layers)
        {
            string why = "";
            if (layer.HasRegularizer) why = "has a regularizer";
            if (why.Length > 0 || !layer.TryCreateStage(context, out var stage, out why))
            {
                reason = $"{layer.GetType().Name} '{layer.Name}' {why}";
                return false;
            }
            context.Mask = layer.StageMask(context, stage);
            context.Sample = context.OutputSample(layer);
            if (stage == null) continue;
            if (stage.CanRunInPlace && stages.Count > 0 && stages[^1].LendsBuffers)
                (stage.Output, stage.OutputGrad) = (stages[^1].Output, stages[^1].OutputGrad);
            else
            {
                stage.Output = new float[batch * stage.Width];
                stage.OutputGrad = new float[batch * stage.Width];
            }
            stages.Add(stage);
            context.TrainableSeen = firstTrainable >= 0;
        }
        reason = firstTrainable < 0 ? "no layer trains a weight"
            : variables.Count != model.TrainableVariables.Count ? "a layer's weights are trained outside its stage"
            : context.Sample.Length != 1 ? $"the output has shape {ShapeUtil.Format(context.Sample)}, not rows"
            : "";
        if (reason.Length > 0) return false;
        // The loss must have a fused kernel for this label layout (probed on one row).
        int width = context.Sample[0];
        if (!model.Loss!.TryFused(y.AsSpan()[..labelWidth], new float[width], 1, width, new float[width], out _))
        {
            reason = $"the loss {model.Loss.GetType().Name} has no fused kernel (for labels of this shape)";
            return false;
        }
        gatherSplit = stages[0].GatherSplit;
        gradientsButFirst.AddRange([null, .. gradients.Skip(1)]);
        // Slots made now rather than at the first ApplyGradients, so the first step can already update piecewise.
        model.Optimizer!.Build(variables);
        yFull = new Tensor(yBuffer, labelWidth == 1 ? [batch] : [batch, labelWidth]);
        predFull = new Tensor(stages[^1].Output, [batch, stages[^1].Width]);
        return true;
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

        float[] input = xBuffer;
        foreach (var stage in stages)
        {
            stage.Forward(input, count);
            input = stage.Output;
        }
        var last = stages[^1];
        model.Loss!.TryFused(yBuffer.AsSpan(0, count * labelWidth), last.Output.AsSpan(0, count * last.Width), count, last.Width,
            last.OutputGrad.AsSpan(0, count * last.Width), out float loss);
        if (skipUpdateIfNotFinite && !float.IsFinite(loss)) return loss;

        bool piecewise = false;
        for (int i = stages.Count - 1; i >= firstTrainable; i--)
        {
            float[] stageInput = i == 0 ? xBuffer : stages[i - 1].Output;
            float[]? inputGrad = i > firstTrainable ? stages[i - 1].OutputGrad : null;
            // Distributed, every gradient must be summed over the ranks before any update: no piecewise update.
            if (distribution == null && i == firstTrainable && variables.Count > 1 && stages[i].TryBackwardAndUpdate(stageInput, count, model.Optimizer!))
                piecewise = true;
            else stages[i].Backward(stageInput, inputGrad, count);
        }
        distribution?.AllReduceGradients(gradients, share);
        model.Optimizer!.ApplyGradients(piecewise ? gradientsButFirst : gradients, variables);

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
                    predTail = new Tensor(new float[count * last.Width], [count, last.Width]);
                }
                yBuffer.AsSpan(0, count * labelWidth).CopyTo(yTail.Span);
                last.Output.AsSpan(0, count * last.Width).CopyTo(predTail!.Span);
                (yt, pt) = (yTail, predTail);
            }
            foreach (var m in metrics) m.UpdateState(yt, pt);
        }
        return loss;
    }
}
