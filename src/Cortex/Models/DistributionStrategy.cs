using System.Runtime.InteropServices;

namespace Cortex.Models;

/// <summary>
/// How <see cref="Model.Fit(Tensor, Tensor, DistributionStrategy, int, int, bool, int, Nullable{ValueTuple{Tensor, Tensor}}, IEnumerable{Callbacks.Callback}, int, CancellationToken)"/>
/// trains one model replica per process (Keras's <c>tf.distribute.Strategy</c>, data-parallel): every process holds
/// the same weights, takes a fixed slice of each global batch, and the gradients are summed across processes before
/// every update, so that every replica makes the same update a single process would make on the whole batch.
/// </summary>
/// <remarks>
/// <para>The core knows no transport: a subclass supplies the three collectives (<see cref="AllReduceSum"/>,
/// <see cref="AllReduceMax"/>, <see cref="Broadcast"/>) and the process's place (<see cref="Rank"/>,
/// <see cref="WorldSize"/>). <c>Cortex.Distributed</c>'s <c>MpiDataParallel</c> implements them on MPI.</para>
/// <para>Every process must make the same calls in the same order with the same lengths (as with any MPI program):
/// the same model, data, batch size and epochs on every rank.</para>
/// </remarks>
/// <example>
/// <code>
/// using var dist = MpiDataParallel.Initialize();
/// model.Fit(x, y, dist, epochs: 5, batchSize: 64);   // run under: mpirun -np 2 dotnet app.dll
/// </code>
/// </example>
public abstract class DistributionStrategy
{
    /// <summary>This process's index among the <see cref="WorldSize"/> processes, 0 to WorldSize − 1.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of processes training together.</summary>
    public abstract int WorldSize { get; }

    /// <summary>Whether this is rank 0, the process that prints progress and runs chief-only callbacks
    /// (<see cref="Callbacks.Callback.ChiefOnly"/>: checkpoints, CSV logs).</summary>
    public bool IsChief => Rank == 0;

    /// <summary>Replaces <paramref name="values"/> on every rank by their element-wise sum over all ranks.</summary>
    public abstract void AllReduceSum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> on every rank by their element-wise maximum over all ranks.</summary>
    public abstract void AllReduceMax(Span<float> values);

    /// <summary>Copies <paramref name="values"/> of rank <paramref name="root"/> into every other rank's buffer.</summary>
    public abstract void Broadcast(Span<float> values, int root);

    /// <summary>The largest number of floats summed in one all-reduce: gradients are packed into buckets of at most
    /// this many (default 4 Mi floats, 16 MiB), so a large model needs few collectives and a bounded buffer.</summary>
    public int BucketFloats { get; init; } = 4 << 20;

    /// <summary>Every how many steps the replicas compare a checksum of their weights (default 100; 0 never);
    /// they always compare at the end of every epoch. A replica that differs is an error, not silence.</summary>
    public int CheckReplicasEvery { get; init; } = 100;

    private float[] bucket = [];

    /// <summary>One process training alone (rank 0 of 1; the collectives do nothing), as Keras's default strategy:
    /// the distributed <c>Fit</c> with it trains the plain Fit's bits, and gives single-process runs its
    /// <c>initialEpoch</c> to resume from a checkpoint.</summary>
    /// <example><code>var model = Model.Load("checkpoint.cortex");
    /// model.Fit(x, y, DistributionStrategy.SingleProcess, epochs: 10, initialEpoch: 4);</code></example>
    public static DistributionStrategy SingleProcess { get; } = new Alone();

    private sealed class Alone : DistributionStrategy
    {
        public override int Rank => 0;
        public override int WorldSize => 1;
        public override void AllReduceSum(Span<float> values) { }
        public override void AllReduceMax(Span<float> values) { }
        public override void Broadcast(Span<float> values, int root) { }
    }

    /// <summary>The rows [start, start + count) of a global batch that this rank trains on: a fixed, contiguous slice
    /// (rank r takes rows ⌊count·r/p⌋ to ⌊count·(r+1)/p⌋), so that the split depends only on the batch and the rank.</summary>
    public (int Start, int Count) Shard(int start, int count)
    {
        int lo = (int)((long)count * Rank / WorldSize), hi = (int)((long)count * (Rank + 1) / WorldSize);
        return (start + lo, hi - lo);
    }

    /// <summary>Multiplies every gradient by <paramref name="scale"/> and sums them over the ranks, in buckets of
    /// <see cref="BucketFloats"/>. Null gradients (weights without one) are skipped on every rank alike.</summary>
    internal void AllReduceGradients(IReadOnlyList<Tensor?> gradients, float scale)
    {
        int i = 0;
        while (i < gradients.Count)
        {
            // Fill one bucket with whole tensors (a tensor larger than a bucket goes alone).
            int first = i, used = 0;
            for (; i < gradients.Count; i++)
            {
                int size = gradients[i]?.Size ?? 0;
                if (used > 0 && used + size > BucketFloats) break;
                used += size;
            }
            if (used == 0) continue;
            if (bucket.Length < used) bucket = new float[used];
            Span<float> packed = bucket.AsSpan(0, used);
            int at = 0;
            for (int k = first; k < i; k++)
                if (gradients[k] is { } g)
                {
                    System.Numerics.Tensors.TensorPrimitives.Multiply(g.AsSpan(), scale, packed.Slice(at, g.Size));
                    at += g.Size;
                }
            AllReduceSum(packed);
            at = 0;
            for (int k = first; k < i; k++)
                if (gradients[k] is { } g)
                {
                    packed.Slice(at, g.Size).CopyTo(g.Span);
                    at += g.Size;
                }
        }
    }

    /// <summary>Makes a loss and metrics global: their running totals and counts summed over the ranks (the metrics
    /// that keep such totals; others stay this rank's own). Summed as floats: counts are exact to 2^24 rows, totals
    /// to float precision, which is what the logs show.</summary>
    internal void SumOverRanks(RunningMean loss, Model.Head[] heads)
    {
        var parts = new List<(Action<Span<double>, bool> Exchange, int Length)> { (loss.ExchangeState, 2) };
        foreach (var head in heads)
        {
            parts.Add((head.LossMean.ExchangeState, 2));
            foreach (var m in head.Metrics) parts.Add((m.ExchangeState, m.ReducibleStateLength));
        }
        var state = new double[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (var (exchange, length) in parts) { exchange(state.AsSpan(at, length), false); at += length; }
        var floats = state.Select(v => (float)v).ToArray();
        AllReduceSum(floats);
        for (int i = 0; i < state.Length; i++) state[i] = floats[i];
        at = 0;
        foreach (var (exchange, length) in parts) { exchange(state.AsSpan(at, length), true); at += length; }
    }

    /// <summary>Gives every rank rank 0's weights (its initialisation, or the checkpoint it loaded).</summary>
    internal void BroadcastVariables(IReadOnlyList<Variable> variables)
    {
        foreach (var v in variables) Broadcast(v.Span, 0);
    }

    /// <summary>Throws on every rank when the replicas' weights differ: each rank hashes its weights' bits into a
    /// 24-bit integer (exact in a float), and the maximum of the hash and of its negation must agree.</summary>
    /// <exception cref="InvalidOperationException">The replicas have diverged (the message names the step).</exception>
    internal void CheckReplicasEqual(IReadOnlyList<Variable> variables, int epoch, int step)
    {
        uint hash = 2166136261;
        foreach (var v in variables)
            foreach (uint bits in MemoryMarshal.Cast<float, uint>(v.AsSpan()))
                hash = (hash ^ bits) * 16777619;
        float h = (hash ^ (hash >> 24)) & 0xFFFFFF;
        Span<float> both = [h, -h];
        AllReduceMax(both);
        if (both[0] != -both[1])
            throw new InvalidOperationException($"Distributed training: the replicas' weights differ at epoch {epoch + 1}, step {step} (rank {Rank} of {WorldSize} has checksum {h}; the ranks' checksums range from {-both[1]} to {both[0]}). Every rank must run the same model, data and arguments.");
    }
}
