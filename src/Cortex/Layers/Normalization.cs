using System.Numerics.Tensors;
using Cortex.Initializers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Normalization))]

namespace Cortex.Layers;

/// <summary>
/// Standardises features: <c>(x − mean) / √variance</c> with one mean and variance per index of the kept
/// <see cref="Axis"/> (Keras's default: the last axis, one per feature), the statistics learned from data by
/// <see cref="Adapt(Tensor)"/> or given — the course notes' feature scaling, as a layer that travels with the model.
/// With <see cref="Invert"/> it undoes the standardisation (<c>x·√variance + mean</c>), e.g. to turn a regression's
/// standardised predictions back into the label's units.
/// </summary>
/// <example>
/// <code>
/// var norm = new Normalization();
/// norm.Adapt(x);                                      // learns each column's mean and variance
/// Tensor xn = norm.Call(x);                           // each column now has mean 0 and variance 1
/// var pixels = new Normalization(axis: null);         // one mean and variance for every value
/// pixels.Adapt(batches);                              // from an IEnumerable of batches, streamed
/// var known = new Normalization(mean: [3f], variance: [4f]);
/// var back = new Normalization(mean: [3f], variance: [4f], invert: true);   // back.Call(known.Call(x)) ≈ x
/// </code>
/// </example>
public sealed class Normalization : Layer
{
    internal const float Epsilon = 1e-7f; // Keras's backend epsilon: guards constant features (variance 0)

    /// <summary>Creates the layer; call <see cref="Adapt(Tensor)"/> before training unless <paramref name="mean"/> and
    /// <paramref name="variance"/> are given.</summary>
    /// <param name="axis">The axes that keep a mean and variance per index (Keras's <c>axis</c>; negative counts from
    /// the end): null for Keras's default, the last axis; empty (<c>[]</c>, Keras's <c>axis=None</c>) for one mean and
    /// variance over all values.</param>
    /// <param name="mean">The mean, when known: one value, or one per index of the kept axes. Needs <paramref name="variance"/>.</param>
    /// <param name="variance">The variance, when known, shaped as <paramref name="mean"/>.</param>
    /// <param name="invert">Whether to undo the standardisation instead: <c>x·√variance + mean</c>.</param>
    /// <param name="name">The layer's name; null for an automatic one.</param>
    /// <exception cref="ArgumentException">Only one of mean and variance is given, they differ in length, a variance is
    /// negative, or an axis is 0 (the batch axis) or repeated.</exception>
    public Normalization(int[]? axis = null, float[]? mean = null, float[]? variance = null, bool invert = false, string? name = null) : base(name)
    {
        Axis = axis is null ? [-1] : (int[])axis.Clone();
        if (Axis.Contains(0)) throw new ArgumentException($"Normalization: axis 0 is the batch axis, which cannot keep its own statistics. Received: axis=[{string.Join(", ", Axis)}]", nameof(axis));
        if (Axis.Distinct().Count() != Axis.Length) throw new ArgumentException($"Normalization: axis names an axis twice. Received: axis=[{string.Join(", ", Axis)}]", nameof(axis));
        if ((mean is null) != (variance is null))
            throw new ArgumentException($"Normalization: mean and variance must be given together. Received: {(mean is null ? "variance" : "mean")} only", mean is null ? nameof(variance) : nameof(mean));
        if (mean is not null && (mean.Length == 0 || mean.Length != variance!.Length))
            throw new ArgumentException($"Normalization: mean and variance must hold the same (non-zero) number of values. Received: {mean.Length} and {variance!.Length}", nameof(variance));
        if (variance is not null && variance.Any(v => !(v >= 0)))
            throw new ArgumentException($"Normalization: a variance cannot be negative or NaN. Received: variance=[{string.Join(", ", variance)}]", nameof(variance));
        Mean = mean is null ? null : (float[])mean.Clone();
        Variance = variance is null ? null : (float[])variance.Clone();
        Invert = invert;
    }

    /// <summary>Creates the layer with one mean and variance over all values (Keras's <c>axis=None</c>).</summary>
    /// <example><code>var pixels = Normalization.OverAllValues();</code></example>
    public static Normalization OverAllValues(bool invert = false, string? name = null) => new([], invert: invert, name: name);

    /// <summary>The axes with a mean and variance per index (empty: one over all values).</summary>
    public int[] Axis { get; }

    /// <summary>The mean given to the constructor, or null when <see cref="Adapt(Tensor)"/> learns it.</summary>
    public float[]? Mean { get; }

    /// <summary>The variance given to the constructor, or null when <see cref="Adapt(Tensor)"/> learns it.</summary>
    public float[]? Variance { get; }

    /// <summary>Whether the layer undoes the standardisation (<c>x·√variance + mean</c>).</summary>
    public bool Invert { get; }

    /// <summary>Per-index mean (non-trainable), shaped as the kept axes.</summary>
    public Variable? MeanWeight { get; private set; }
    /// <summary>Per-index variance (non-trainable), shaped as the kept axes.</summary>
    public Variable? VarianceWeight { get; private set; }
    /// <summary>Number of samples the statistics came from (non-trainable, as Keras counts it).</summary>
    public Variable? CountWeight { get; private set; }

    /// <summary>The kept axes as non-negative positions in a shape of <paramref name="rank"/> (batch axis included).</summary>
    private int[] Kept(int rank, int[] shape)
    {
        var kept = new int[Axis.Length];
        for (int i = 0; i < Axis.Length; i++)
        {
            int a = Axis[i] < 0 ? Axis[i] + rank : Axis[i];
            if (a <= 0 || a >= rank)
                throw new ArgumentException($"Normalization '{Name}': axis {Axis[i]} is out of range for input of shape {ShapeUtil.Format(shape)} (the batch axis cannot keep statistics).");
            kept[i] = a;
        }
        Array.Sort(kept);
        return kept;
    }

    /// <summary>For each value of one sample (no batch axis), the index of its mean and variance.</summary>
    private int[] StatIndex(int[] shape)
    {
        int[] kept = Kept(shape.Length, shape);
        int width = 1;
        for (int d = 1; d < shape.Length; d++) width *= shape[d];
        var index = new int[width];
        for (int i = 0; i < width; i++)
        {
            int rest = i, at = 0, scale = 1;
            for (int d = shape.Length - 1; d >= 1; d--)
            {
                int c = rest % shape[d];
                rest /= shape[d];
                if (Array.IndexOf(kept, d) < 0) continue;
                at += c * scale;
                scale *= shape[d];
            }
            index[i] = at;
        }
        return index;
    }

    /// <summary>Whether <paramref name="axis"/> (non-negative, of an input of <paramref name="rank"/>) keeps its own statistics.</summary>
    internal bool KeepsAxis(int axis, int rank) => Axis.Any(a => (a < 0 ? a + rank : a) == axis);

    /// <summary>Whether the statistics are one per index of the last axis only (the fast path).</summary>
    private bool LastAxisOnly(int rank) => Axis.Length == 1 && (Axis[0] == -1 || Axis[0] == rank - 1);

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        int[] stats = [.. Kept(inputShape.Length, inputShape).Select(a => inputShape[a])];
        int count = stats.Aggregate(1, (a, b) => a * b);
        if (Mean is not null && Mean.Length != 1 && Mean.Length != count)
            throw new ArgumentException($"Normalization '{Name}': the given mean and variance hold {Mean.Length} values; input of shape {ShapeUtil.Format(inputShape)} with axis [{string.Join(", ", Axis)}] needs 1 or {count}.");
        MeanWeight = AddWeight("mean", stats, Given(Mean) ?? new Zeros(), trainable: false);
        VarianceWeight = AddWeight("variance", stats, Given(Variance) ?? new Ones(), trainable: false);
        CountWeight = AddWeight("count", [], new Zeros(), trainable: false);
    }

    private static Constant? Given(float[]? values) => values is null ? null : values.Length == 1 ? new Constant(values[0]) : new Constant(values: values);

    /// <summary>Computes the mean and (population) variance of <paramref name="data"/> per index of the kept axes.</summary>
    /// <exception cref="ArgumentException">The data is empty, has no feature axis, or its shape differs from the built layer's.</exception>
    public void Adapt(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Adapt([data]);
    }

    /// <summary>
    /// Computes the mean and (population) variance over every batch of <paramref name="batches"/>, read once and
    /// combined as they come (Chan's pairwise update, in double), so data larger than memory can be streamed — Keras's
    /// <c>adapt(dataset)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">There is no batch, a batch is empty, or batches differ in shape after the batch axis.</exception>
    public void Adapt(IEnumerable<Tensor> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        double[]? mean = null, m2 = null;
        long n = 0;
        int[]? index = null, sample = null;
        int batchNumber = 0;
        foreach (var batch in batches)
        {
            ArgumentNullException.ThrowIfNull(batch, nameof(batches));
            if (batch.Rank < 1 || batch.Size == 0)
                throw new ArgumentException($"Normalization '{Name}'.Adapt needs non-empty tensors with a feature axis. Received: shape {ShapeUtil.Format(batch.ShapeRef)} (batch {batchNumber})");
            var d = batch.Rank == 1 ? batch.Reshape(-1, 1) : batch;
            if (sample == null)
            {
                if (Built) CheckInput(d);
                sample = d.ShapeRef[1..];
                index = StatIndex(d.ShapeRef);
                int stats = index.Length == 0 ? 1 : index.Max() + 1;
                mean = new double[stats];
                m2 = new double[stats];
            }
            else if (!d.ShapeRef.AsSpan(1).SequenceEqual(sample))
                throw new ArgumentException($"Normalization '{Name}'.Adapt: batch {batchNumber} has shape {ShapeUtil.Format(d.ShapeRef)}; the first had {ShapeUtil.Format([-1, .. sample])}.");
            Combine(d, index!, mean!, m2!, ref n);
            batchNumber++;
        }
        if (sample == null) throw new ArgumentException($"Normalization '{Name}'.Adapt: no batches.", nameof(batches));
        EnsureBuilt([-1, .. sample]);
        MeanWeight!.Assign(Tensor.FromArray([.. mean!.Select(v => (float)v)], MeanWeight.Shape));
        VarianceWeight!.Assign(Tensor.FromArray([.. m2!.Select(v => (float)(v / n))], VarianceWeight.Shape));
        CountWeight!.Assign(Tensor.Scalar(n));
    }

    /// <summary>Adds one batch's statistics to the running ones: its per-index mean and squared deviations (two passes
    /// in double), then Chan's update (for the first batch, exactly the batch's own).</summary>
    private static void Combine(Tensor batch, int[] index, double[] mean, double[] m2, ref long n)
    {
        int width = index.Length, rows = batch.ShapeRef[0], stats = mean.Length;
        long per = (long)rows * width / stats;   // values per statistic in this batch
        var sum = new double[stats];
        var sq = new double[stats];
        ReadOnlySpan<float> s = batch.AsSpan();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++) sum[index[j]] += s[r * width + j];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++) { double c = s[r * width + j] - sum[index[j]] / per; sq[index[j]] += c * c; }
        long total = n + per;
        for (int k = 0; k < stats; k++)
        {
            double batchMean = sum[k] / per;
            if (n == 0) { mean[k] = batchMean; m2[k] = sq[k]; continue; }
            double delta = batchMean - mean[k];
            mean[k] += delta * per / total;
            m2[k] += sq[k] + delta * delta * n * per / total;
        }
        n = total;
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int[] built = BuildInputShape!;
        if (inputs.Rank != built.Length || !inputs.ShapeRef.AsSpan(1).SequenceEqual(built.AsSpan(1)))
            throw new ArgumentException($"Normalization '{Name}' expects input of shape {ShapeUtil.Format(built)}. Received: shape {ShapeUtil.Format(inputs.ShapeRef)}");
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        stage = new NormalizationStage(this, [-1, .. context.Sample]) { Width = context.InputWidth };
        return true;
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <summary>(x − mean) / max(√variance, ε) (or, inverted, x·max(√variance, ε) + mean) with each value's own
    /// statistics; the gradient is divided (multiplied) by the same.</summary>
    private sealed class NormalizationStage : Stage
    {
        private readonly Normalization layer;
        private readonly float[] std;
        // Per value of a sample, its statistic's index, and the statistics spread out by it; null and empty when the
        // statistics are the last axis's alone (the fast path).
        private readonly int[]? index;
        private readonly float[] meanWide = [], stdWide = [];

        public NormalizationStage(Normalization layer, int[] inputShape)
        {
            this.layer = layer;
            std = new float[layer.MeanWeight!.Size];
            if (layer.LastAxisOnly(inputShape.Length)) return;
            index = layer.StatIndex(inputShape);
            meanWide = new float[index.Length];
            stdWide = new float[index.Length];
        }

        public override void Forward(float[] input, int rows)
        {
            TensorPrimitives.Sqrt(layer.VarianceWeight!.AsSpan(), std);
            TensorPrimitives.Max(std, Epsilon, std);
            ReadOnlySpan<float> mean = layer.MeanWeight!.AsSpan(), scale = std;
            if (index != null)
            {
                for (int j = 0; j < index.Length; j++) { meanWide[j] = mean[index[j]]; stdWide[j] = std[index[j]]; }
                mean = meanWide;
                scale = stdWide;
            }
            int f = scale.Length;
            for (int at = 0; at < rows * Width; at += f)
            {
                var o = Output.AsSpan(at, f);
                if (layer.Invert) TensorPrimitives.FusedMultiplyAdd(input.AsSpan(at, f), scale, mean, o);
                else
                {
                    TensorPrimitives.Subtract(input.AsSpan(at, f), mean, o);
                    TensorPrimitives.Divide(o, scale, o);
                }
            }
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad == null) return;
            ReadOnlySpan<float> scale = index != null ? stdWide : std;
            int f = scale.Length;
            for (int at = 0; at < rows * Width; at += f)
                if (layer.Invert) TensorPrimitives.Multiply(OutputGrad.AsSpan(at, f), scale, inputGrad.AsSpan(at, f));
                else TensorPrimitives.Divide(OutputGrad.AsSpan(at, f), scale, inputGrad.AsSpan(at, f));
        }
    }
}
