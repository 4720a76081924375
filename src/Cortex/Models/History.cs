using Cortex.Callbacks;

namespace Cortex.Models;

/// <summary>
/// What <see cref="Model.Fit(Tensor, Tensor, int, int, bool, float, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callback}, int, CancellationToken, Tensor, IReadOnlyDictionary{int, float}, Tensor)"/> returns: the loss and metrics after each epoch, keyed like Keras's
/// <c>history.history</c> (<c>loss</c>, <c>accuracy</c>, <c>val_loss</c>, …).
/// </summary>
/// <example>
/// <code>
/// History history = model.Fit(x, y, epochs: 10);
/// float last = history["loss"][^1];
/// </code>
/// </example>
public sealed class History : Callback
{
    private readonly Dictionary<string, List<float>> values = [];

    /// <summary>Each metric's value per epoch.</summary>
    public IReadOnlyDictionary<string, List<float>> Values => values;

    /// <summary>The epochs that ran (0-based).</summary>
    public List<int> Epochs { get; } = [];

    /// <summary>One metric's per-epoch values.</summary>
    /// <exception cref="KeyNotFoundException">The metric was not recorded; the message lists those that were.</exception>
    public List<float> this[string metric] => values.TryGetValue(metric, out var v) ? v
        : throw new KeyNotFoundException($"History has no '{metric}'. Recorded: {string.Join(", ", values.Keys)}");

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
    {
        Epochs.Add(epoch);
        foreach (var (k, v) in logs)
        {
            if (!values.TryGetValue(k, out var list)) values[k] = list = [];
            list.Add(v);
        }
    }
}
