using System.Globalization;
using Cortex.Callbacks;
using Cortex.Metrics;

namespace Cortex.Models;

/// <summary>A sample-weighted running mean (the epoch's loss so far), kept in double so long epochs don't drift.</summary>
internal sealed class RunningMean
{
    private double sum, weight;

    public void UpdateState(double value, double w) { sum += value * w; weight += w; }

    public float Result() => weight == 0 ? 0f : (float)(sum / weight);

    public void Reset() { sum = 0; weight = 0; }

    /// <summary>Reads (<paramref name="write"/> false) or writes the running sum and weight (distributed training sums them over ranks).</summary>
    public void ExchangeState(Span<double> state, bool write)
    {
        if (write) (sum, weight) = (state[0], state[1]);
        else (state[0], state[1]) = (sum, weight);
    }
}

/// <summary>Runs the epochs of <see cref="Model.Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/>: shuffling, mini-batches, the tape, the optimizer step, the running metrics.</summary>
internal sealed class Trainer
{
    private readonly Model model;
    private readonly Tensor[] x, y;   // one tensor per input, one label tensor per output
    private readonly Tensor? sampleWeight; // a weight per row for every output's loss, or null
    private readonly int batchSize;
    private readonly bool shuffle;
    private readonly int[] order;
    private readonly CortexRandom rng;
    private readonly IReadOnlyList<Variable> variables;
    private readonly Model.Head[] heads; // per output: loss, weight, metrics (the fused step updates the single head's metrics)
    private readonly RunningMean loss = new();
    private readonly FusedTrainStep? fused;
    private readonly Func<Dictionary<string, float>> logs;
    private readonly Dictionary<string, float> batchLogs = []; // refilled after every step: no garbage per step
    private int epochsRun;
    private readonly DistributionStrategy? distribution; // null: this process trains alone
    private readonly Tensor?[]? zeroGradients; // a rank with no rows in a short last batch adds zeros to the sum
    private int stepsRun;
    private readonly bool customStep; // the model overrides TrainStep: Fit calls it for every batch
    private bool firstStep;           // the step running is the Fit's first (a non-finite loss there is refused)

    public Trainer(Model model, Tensor[] x, Tensor[] y, Tensor? sampleWeight, int batchSize, bool shuffle, DistributionStrategy? distribution = null)
    {
        this.distribution = distribution;
        this.model = model;
        this.x = x;
        this.y = y;
        this.sampleWeight = sampleWeight;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        order = new int[x[0].ShapeRef[0]];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        rng = CortexRandom.FromSeedOrGlobal(null); // deterministic after CortexRandom.SetGlobalSeed
        variables = model.TrainableVariables;
        heads = model.MakeHeads();
        string reason = "ForceTapePath is set";
        // The fused step's loss kernels compute the unweighted batch mean only: sample weights take the tape.
        // The fused step's loss kernels compute the unweighted batch mean only: sample weights and a masked output
        // (its mask weighs the loss) take the tape.
        bool masked = !ForceTapePath && model.OutputsMasked(x);
        customStep = model.OverridesTrainStep;
        if (!ForceTapePath && !customStep && x.Length == 1 && y.Length == 1 && heads[0].Weight == null && sampleWeight == null && !masked)
            fused = FusedTrainStep.TryCreate(model, x[0], y[0], batchSize, heads[0].Metrics, out reason);
        else if (!ForceTapePath)
            reason = model.NotAChain ?? (heads.Length > 1 || x.Length > 1 ? "the model has several inputs or outputs"
                : sampleWeight != null ? "Fit has sample weights (sampleWeight or classWeight)"
                : masked ? "the output carries a mask, which weighs the loss" : "the loss is weighted (lossWeights)");
        if (customStep) reason = "the model overrides TrainStep";
        model.TrainingPath = fused != null ? "fused" : $"tape: {reason}";
        LastFitFused = fused != null;
        logs = () => batchLogs; // made once: a lambda per step would be garbage per step
        if (distribution != null) zeroGradients = [.. (fused?.Variables ?? variables).Select(v => Tensor.Zeros(v.ShapeRef))];
    }

    /// <summary>Replays the shuffles of the first <paramref name="epochs"/> epochs without training, so that a run
    /// resumed at an epoch sees the rows in the order an uninterrupted run would.</summary>
    public void SkipEpochs(int epochs)
    {
        for (int e = 0; e < epochs; e++)
        {
            if (shuffle) rng.Shuffle(order);
            epochsRun++;
        }
    }

    /// <summary>Makes Fit on this thread use the GradientTape step even where the fused one applies (tests compare the two).</summary>
    [ThreadStatic] internal static bool ForceTapePath;

    /// <summary>Whether the last Fit on this thread ran the fused step (tests check which path they exercised).</summary>
    [ThreadStatic] internal static bool LastFitFused;

    /// <summary>Whether steps run on the allocation-free fused path (for tests and benchmarks).</summary>
    public bool IsFused => fused != null;

    public ProgressBar? Progress { get; private set; }

    public Dictionary<string, float> RunEpoch(int verbose, List<Callback> callbacks, CancellationToken cancel)
    {
        int n = order.Length;
        int steps = (n + batchSize - 1) / batchSize;
        if (shuffle) rng.Shuffle(order);
        loss.Reset();
        foreach (var head in heads)
        {
            head.LossMean.Reset();
            foreach (var m in head.Metrics) m.ResetState();
        }
        if (customStep) foreach (var m in model.StepMetrics) m.ResetState();
        Progress = new ProgressBar(verbose, steps);
        var optimizer = model.Optimizer!;
        try
        {
            for (int step = 0; step < steps && !cancel.IsCancellationRequested; step++)
            {
                int start = step * batchSize, len = Math.Min(batchSize, n - start);
                bool first = epochsRun == 0 && step == 0;
                foreach (var cb in callbacks) cb.OnTrainBatchBegin(step);
                // Distributed: this rank's slice of the global batch, its mean gradient weighted by its share of the rows.
                int globalLen = len, globalStart = start;
                if (distribution != null)
                {
                    (start, len) = distribution.Shard(start, len);
                    Layers.Layer.TrainingShard = (start - globalStart, globalLen);
                }
                float share = (float)len / globalLen;
                if (len == 0) RemoteOnlyStep(optimizer);
                else if (fused != null)
                {
                    float l = fused.Step(x[0], y[0], shuffle ? order.AsSpan(start, len) : default, start, len, skipUpdateIfNotFinite: first, distribution, share);
                    if (first && !float.IsFinite(l)) throw NotFiniteFirstLoss(l);
                    loss.UpdateState(l, len);
                }
                else if (customStep) CustomStep(start, len, first);
                else TapeStep(start, len, optimizer, first, share);
                Layers.Layer.TrainingShard = null;
                stepsRun++;
                if (distribution is { CheckReplicasEvery: > 0 } d && stepsRun % d.CheckReplicasEvery == 0) d.CheckReplicasEqual(variables, epochsRun, step + 1);
                if (!customStep) RefillBatchLogs();
                Progress.Update(step + 1, logs);
                foreach (var cb in callbacks) cb.OnTrainBatchEnd(step, batchLogs);
                if (model.StopTraining) break; // as Keras: a callback can end the epoch at any batch (TerminateOnNaN)
            }
        }
        finally
        {
            Layers.Layer.TrainingShard = null; // also when a step throws: a later Fit on this thread is not sharded
        }
        if (distribution != null)
        {
            distribution.CheckReplicasEqual(variables, epochsRun, steps);
            distribution.SumOverRanks(loss, heads);
        }
        epochsRun++;
        return customStep ? new(batchLogs) : Model.Logs(loss, heads, "");
    }

    /// <summary>A step on a rank that has no rows of a short last batch (fewer rows than ranks): it adds zeros to the
    /// gradient sum and makes the same update as the others.</summary>
    private void RemoteOnlyStep(Optimizers.Optimizer optimizer)
    {
        foreach (var g in zeroGradients!) g!.Span.Clear();
        distribution!.AllReduceGradients(zeroGradients, 1f);
        optimizer.ApplyGradients(zeroGradients, fused?.Variables ?? variables);
    }

    /// <summary>The epoch's running loss and metrics after a step, written into the one dictionary batch callbacks get.</summary>
    private void RefillBatchLogs() => Model.Fill(batchLogs, loss, heads, "");

    /// <summary>
    /// The error for a NaN or infinite loss on the first batch of a Fit, thrown before that batch's update so the
    /// model is left as it was. Nothing has been learned yet, so the cause is the inputs, the labels or weights that
    /// are already broken, and the message says which. Later batches are not checked, as in Keras, where
    /// <see cref="TerminateOnNaN"/> stops a run that diverges at the batch where it does.
    /// </summary>
    private NotFiniteNumberException NotFiniteFirstLoss(float value)
    {
        string what = float.IsNaN(value) ? "NaN" : value.ToString(CultureInfo.InvariantCulture);
        var broken = variables.FirstOrDefault(v => !v.ToArray().All(float.IsFinite)); // the error path: clarity over speed
        string cause = broken != null
            ? $"the weight '{broken.Name}' is not finite (an earlier training run diverged?): rebuild or reload the model, and lower the learning rate."
            : "the inputs and labels are finite, so the loss overflows on them: scale the inputs (a Normalization layer) and check the labels match the loss.";
        return new NotFiniteNumberException($"Fit: the loss is {what} at epoch 1, batch 1, before any update; {cause}", value);
    }

    /// <summary>The general step: forward on a GradientTape, loss plus regularisation, gradients, optimizer update
    /// (not made when <paramref name="first"/> and the loss is not finite: see <see cref="NotFiniteFirstLoss"/>).</summary>
    private void TapeStep(int start, int len, Optimizers.Optimizer optimizer, bool first, float share)
    {
        Tensor[] xb = Batch(x, start, len), yb = Batch(y, start, len);
        Tensor? wb = sampleWeight == null ? null : Batch([sampleWeight], start, len)[0]; // the labels' rows
        TapeStep(xb, yb, wb, optimizer, first, share);
    }

    /// <summary>A model's own <see cref="Model.TrainStep"/> on the batch; its logs become the batch's logs (and the
    /// last batch's, the epoch's, as in Keras).</summary>
    private void CustomStep(int start, int len, bool first)
    {
        Tensor[] xb = Batch(x, start, len), yb = Batch(y, start, len);
        Tensor? wb = sampleWeight == null ? null : Batch([sampleWeight], start, len)[0];
        firstStep = first;
        var stepLogs = model.RunTrainStep(this, xb, yb, wb);
        batchLogs.Clear();
        foreach (var (key, value) in stepLogs ?? throw new InvalidOperationException($"Model '{model.Name}': TrainStep returned null; return the logs to show (an empty dictionary for none).")) batchLogs[key] = value;
    }

    /// <summary>The standard step on a batch, for a custom TrainStep that calls the base one: the running loss and
    /// compiled metrics as Fit keeps them, returned as logs.</summary>
    public Dictionary<string, float> StandardStep(Tensor[] xb, Tensor[] yb, Tensor? wb)
    {
        if (heads.Length == 0 || yb.Length != heads.Length)
            throw new InvalidOperationException(heads.Length == 0
                ? $"Model '{model.Name}': the base TrainStep computes the compiled loss, but the model was compiled without one: call Compile(optimizer, loss), or compute the loss in your TrainStep."
                : $"Model '{model.Name}': the base TrainStep needs labels y (one tensor per output), but Fit was called without them. Pass Fit(x, y), or compute the loss in your TrainStep without the base one.");
        TapeStep(xb, yb, wb, model.Optimizer!, firstStep);
        return Model.Logs(loss, heads, "");
    }

    private void TapeStep(Tensor[] xb, Tensor[] yb, Tensor? wb, Optimizers.Optimizer optimizer, bool first, float share = 1f)
    {
        int len = xb[0].ShapeRef[0];
        Tensor[] pred;
        Tensor?[] masks;
        Tensor total;
        var parts = new Tensor[heads.Length];
        Tensor[] grads;
        using (var tape = new GradientTape())
        {
            pred = model.ForwardMasked(xb, training: true, out masks);
            for (int k = 0; k < heads.Length; k++) parts[k] = heads[k].Loss.Call(yb[k], pred[k], wb, masks[k]);
            total = heads[0].Weight is float w0 ? parts[0] * w0 : parts[0]; // one unweighted output: its loss, bit for bit
            for (int k = 1; k < heads.Length; k++) total += heads[k].Weight is float w ? parts[k] * w : parts[k];
            foreach (var r in model.RegularizationLosses()) total += r;
            grads = tape.Gradient(total, [.. variables]);
        }
        float value = total.Item();
        if (first && !float.IsFinite(value)) throw NotFiniteFirstLoss(value);
        distribution?.AllReduceGradients(grads, share);
        optimizer.ApplyGradients(grads, variables);
        loss.UpdateState(value, len);
        for (int k = 0; k < heads.Length; k++)
        {
            if (heads.Length > 1) heads[k].LossMean.UpdateState(parts[k].Item(), len);
            heads[k].UpdateMetrics(yb[k], pred[k], wb, masks[k]);   // Keras: the mask weighs metrics too
        }
    }

    /// <summary>The batch's rows of every tensor: the shuffled ones gathered, or a slice.</summary>
    private Tensor[] Batch(Tensor[] t, int start, int len)
    {
        var rows = new Tensor[t.Length];
        for (int i = 0; i < t.Length; i++) rows[i] = shuffle ? t[i].Gather(order.AsSpan(start, len)) : t[i].Slice(start, len);
        return rows;
    }
}
