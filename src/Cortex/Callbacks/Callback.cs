using Cortex.Models;
using Cortex.Saving;

namespace Cortex.Callbacks;

/// <summary>
/// Hooks into <see cref="Model.Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/>. Override the moments you need; <see cref="Model"/> is the model being trained.
/// </summary>
/// <example>
/// <code>
/// class PrintLoss : Callback
/// {
///     public override void OnEpochEnd(int epoch, IReadOnlyDictionary&lt;string, float&gt; logs) =&gt; Console.WriteLine(logs["loss"]);
/// }
/// </code>
/// </example>
public abstract class Callback
{
    /// <summary>The model being trained (set when Fit starts).</summary>
    public Model? Model { get; private set; }

    /// <summary>Whether, in distributed training (<see cref="DistributionStrategy"/>), only rank 0 runs this callback:
    /// true for callbacks that write files (<see cref="ModelCheckpoint"/>, <see cref="CsvLogger"/>), false for those that
    /// steer training (<see cref="EarlyStopping"/>, schedules), which every rank must run alike on the global logs.</summary>
    public virtual bool ChiefOnly => false;

    internal void SetModel(Model model) => Model = model;

    /// <summary>Called once before the first epoch.</summary>
    public virtual void OnTrainBegin() { }
    /// <summary>Called once after the last epoch.</summary>
    public virtual void OnTrainEnd() { }
    /// <summary>Called at the start of each epoch.</summary>
    public virtual void OnEpochBegin(int epoch) { }
    /// <summary>Called at the end of each epoch with its loss and metrics (and <c>val_</c> ones).</summary>
    public virtual void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs) { }
    /// <summary>Called before each training batch.</summary>
    public virtual void OnTrainBatchBegin(int batch) { }
    /// <summary>
    /// Called after each training batch with the epoch's logs so far, as Keras's <c>on_train_batch_end(batch, logs)</c>:
    /// <c>loss</c> (the mean over the epoch's batches up to this one) and each metric's running value. The same
    /// dictionary is refilled for every batch, so that training allocates nothing per step: copy it to keep it. The
    /// default calls <see cref="OnTrainBatchEnd(int)"/>.
    /// </summary>
    /// <param name="batch">The batch's index within the epoch, from 0.</param>
    /// <param name="logs">The running loss and metrics.</param>
    public virtual void OnTrainBatchEnd(int batch, IReadOnlyDictionary<string, float> logs) => OnTrainBatchEnd(batch);
    /// <summary>Called after each training batch by the default <see cref="OnTrainBatchEnd(int, IReadOnlyDictionary{string, float})"/>
    /// (callbacks that need no logs can keep overriding this one).</summary>
    public virtual void OnTrainBatchEnd(int batch) { }

    /// <summary>Reads a monitored value from the logs, with an error listing what is available.</summary>
    protected static bool TryGet(IReadOnlyDictionary<string, float> logs, string monitor, out float value) => logs.TryGetValue(monitor, out value);

    /// <summary>Whether smaller is better for <paramref name="monitor"/> under Keras's "auto" mode.</summary>
    protected static bool Minimizes(string monitor, string mode) => mode switch
    {
        "min" => true,
        "max" => false,
        "auto" => !(monitor.EndsWith("accuracy", StringComparison.Ordinal) || monitor.EndsWith("acc", StringComparison.Ordinal)),
        _ => throw new ArgumentException($"mode must be 'auto', 'min' or 'max'. Received: '{mode}'"),
    };
}

/// <summary>Stops training when a monitored metric has stopped improving.</summary>
/// <example><code>model.Fit(x, y, epochs: 100, validationSplit: 0.2f, callbacks: [new EarlyStopping(patience: 5, restoreBestWeights: true)]);</code></example>
public sealed class EarlyStopping(string monitor = "val_loss", int patience = 0, float minDelta = 0f, bool restoreBestWeights = false, string mode = "auto") : Callback
{
    private readonly bool minimize = Minimizes(monitor, mode);
    private float best;
    private int wait;
    private Tensor[]? bestWeights;

    /// <summary>The epoch at which training stopped (0 if it did not stop early).</summary>
    public int StoppedEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnTrainBegin()
    {
        best = minimize ? float.PositiveInfinity : float.NegativeInfinity;
        wait = 0;
        StoppedEpoch = 0;
        bestWeights = null;
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
    {
        if (!TryGet(logs, monitor, out float current)) return; // Keras warns and carries on
        bool improved = minimize ? current < best - MathF.Abs(minDelta) : current > best + MathF.Abs(minDelta);
        if (improved)
        {
            best = current;
            wait = 0;
            if (restoreBestWeights) bestWeights = Model!.GetWeights();
            return;
        }
        if (++wait > patience)
        {
            StoppedEpoch = epoch;
            Model!.StopTraining = true;
        }
    }

    /// <inheritdoc/>
    public override void OnTrainEnd()
    {
        if (restoreBestWeights && bestWeights != null && StoppedEpoch > 0) Model!.SetWeights(bestWeights);
    }
}

/// <summary>Saves the model after each epoch, or only when the monitored metric improves.</summary>
/// <example><code>new ModelCheckpoint("best.cortex", saveBestOnly: true)</code></example>
public sealed class ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = false, string mode = "auto") : Callback
{
    /// <inheritdoc/>
    public override bool ChiefOnly => true;

    private readonly bool minimize = Minimizes(monitor, mode);
    private float best;

    /// <inheritdoc/>
    public override void OnTrainBegin() => best = minimize ? float.PositiveInfinity : float.NegativeInfinity;

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
    {
        string file = path.Replace("{epoch}", (epoch + 1).ToString("00", System.Globalization.CultureInfo.InvariantCulture));
        if (!saveBestOnly) { Model!.Save(file); return; }
        if (!TryGet(logs, monitor, out float current)) return;
        if (minimize ? current < best : current > best)
        {
            best = current;
            Model!.Save(file);
        }
    }
}

/// <summary>Multiplies the learning rate by <c>factor</c> when the monitored metric stops improving.</summary>
/// <example><code>new ReduceLROnPlateau(factor: 0.5f, patience: 3)</code></example>
public sealed class ReduceLROnPlateau(string monitor = "val_loss", float factor = 0.1f, int patience = 10, float minDelta = 1e-4f, float minLr = 0f, string mode = "auto") : Callback
{
    private readonly bool minimize = Minimizes(monitor, mode);
    private float best;
    private int wait;

    /// <inheritdoc/>
    public override void OnTrainBegin()
    {
        if (!(factor > 0f && factor < 1f)) throw new ArgumentOutOfRangeException(nameof(factor), $"ReduceLROnPlateau: factor must be in (0, 1). Received: {factor}");
        best = minimize ? float.PositiveInfinity : float.NegativeInfinity;
        wait = 0;
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
    {
        if (!TryGet(logs, monitor, out float current)) return;
        bool improved = minimize ? current < best - minDelta : current > best + minDelta;
        if (improved) { best = current; wait = 0; return; }
        if (++wait >= patience)
        {
            var opt = Model!.Optimizer!;
            opt.LearningRate = MathF.Max(opt.LearningRate * factor, minLr);
            wait = 0;
        }
    }
}

/// <summary>
/// Sets the optimizer's learning rate at the start of every epoch to <c>schedule(epoch, currentRate)</c> (epoch from
/// 0), as Keras's <c>LearningRateScheduler</c>; with <c>verbose</c> &gt; 0 it prints the rate it sets. Setting the rate
/// replaces any <see cref="Optimizers.Optimizer.Schedule"/>. Like every callback, and like Keras's (it holds a
/// function), it is not saved with the model.
/// </summary>
/// <example><code>new LearningRateScheduler((epoch, lr) => epoch &lt; 10 ? lr : lr * MathF.Exp(-0.1f))</code></example>
public sealed class LearningRateScheduler : Callback
{
    private readonly Func<int, float, float> schedule;
    private readonly int verbose;

    /// <summary>Creates the callback.</summary>
    /// <param name="schedule">The epoch (from 0) and the current rate → the rate for this epoch.</param>
    /// <param name="verbose">0: quiet; 1: prints each rate set.</param>
    /// <exception cref="ArgumentNullException"><paramref name="schedule"/> is null.</exception>
    public LearningRateScheduler(Func<int, float, float> schedule, int verbose = 0)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        this.schedule = schedule;
        this.verbose = verbose;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The schedule returned a negative, NaN or infinite rate.</exception>
    public override void OnEpochBegin(int epoch)
    {
        var optimizer = Model!.Optimizer!;
        float rate = schedule(epoch, optimizer.LearningRate);
        if (!(rate >= 0) || !float.IsFinite(rate))
            throw new ArgumentException($"LearningRateScheduler: the schedule should return a finite learning rate ≥ 0. Received: {rate.ToString(System.Globalization.CultureInfo.InvariantCulture)} at epoch {epoch}");
        optimizer.LearningRate = rate;
        if (verbose > 0)
            Console.WriteLine($"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
    }
}

/// <summary>
/// Stops training at the first batch whose loss is NaN or infinite, as Keras's does: it prints
/// <c>Batch N: Invalid loss, terminating training</c> (N counted from 0 within the epoch) and Fit ends after that
/// batch. The epoch it ended is still recorded (History, CsvLogger), with the loss that stopped it.
/// </summary>
public sealed class TerminateOnNaN : Callback
{
    /// <inheritdoc/>
    public override void OnTrainBatchEnd(int batch, IReadOnlyDictionary<string, float> logs)
    {
        if (!logs.TryGetValue("loss", out float loss) || float.IsFinite(loss)) return;
        Console.WriteLine($"Batch {batch}: Invalid loss, terminating training");
        Model!.StopTraining = true;
    }
}

/// <summary>
/// Writes each epoch's logs as a CSV row (<c>epoch,accuracy,loss,…</c>); with <c>append</c>, after the rows already in
/// the file.
/// </summary>
/// <remarks>
/// After every epoch the whole file is written again, atomically, as <see cref="Model.Save"/> writes a model: a
/// temporary file beside it, flushed and renamed over it. A crash therefore leaves the rows of every epoch that ended
/// and never a torn row, where appending could leave a half-written last row (and, with <c>append</c>, glue the next
/// run's first row to it). A history of a few thousand epochs is a few hundred kilobytes, quick to rewrite; a program
/// that follows the file should reopen it by name (<c>tail -F</c>, not <c>tail -f</c>).
/// </remarks>
/// <example><code>new CsvLogger("history.csv")</code></example>
public sealed class CsvLogger(string path, char separator = ',', bool append = false) : Callback
{
    /// <inheritdoc/>
    public override bool ChiefOnly => true;

    private List<string>? keys;
    private readonly System.Text.StringBuilder text = new();

    /// <inheritdoc/>
    public override void OnTrainBegin()
    {
        keys = null;
        text.Clear();
        if (!append)
        {
            if (File.Exists(path)) File.Delete(path);
            return;
        }
        if (!File.Exists(path)) return;
        text.Append(File.ReadAllText(path));
        // A row cut short by an older, appending writer stays a row of its own rather than the start of ours.
        if (text.Length > 0 && text[^1] != '\n') text.Append('\n');
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (keys == null)
        {
            keys = [.. logs.Keys.OrderBy(k => k, StringComparer.Ordinal)];
            if (text.Length == 0) text.Append("epoch" + separator + string.Join(separator, keys) + "\n");
        }
        text.Append(epoch.ToString(inv) + separator +
            string.Join(separator, keys.Select(k => logs.TryGetValue(k, out var v) ? v.ToString("R", inv) : "")) + "\n");
        string contents = text.ToString();
        AtomicFile.Write(path, stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(contents)));
    }
}
