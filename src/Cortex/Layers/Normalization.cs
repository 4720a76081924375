using System.Numerics.Tensors;
using Cortex.Initializers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Normalization))]

namespace Cortex.Layers;

/// <summary>
/// Standardises features: <c>(x − mean) / √variance</c> per feature (last axis), with the statistics learned from
/// data by <see cref="Adapt"/> — the course notes' feature scaling, as a layer that travels with the model.
/// </summary>
/// <example>
/// <code>
/// var norm = new Normalization();
/// norm.Adapt(x);                    // learns each column's mean and variance
/// Tensor xn = norm.Call(x);         // each column now has mean 0 and variance 1
/// </code>
/// </example>
public sealed class Normalization : Layer
{
    internal const float Epsilon = 1e-7f; // Keras's backend epsilon: guards constant features (variance 0)

    /// <summary>Creates the layer; call <see cref="Adapt"/> before training.</summary>
    public Normalization(string? name = null) : base(name) { }

    /// <summary>Per-feature mean (non-trainable).</summary>
    public Variable? MeanWeight { get; private set; }
    /// <summary>Per-feature variance (non-trainable).</summary>
    public Variable? VarianceWeight { get; private set; }
    /// <summary>Number of samples the statistics came from (non-trainable, as Keras counts it).</summary>
    public Variable? CountWeight { get; private set; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        int f = inputShape[^1];
        MeanWeight = AddWeight("mean", [f], new Zeros(), trainable: false);
        VarianceWeight = AddWeight("variance", [f], new Ones(), trainable: false);
        CountWeight = AddWeight("count", [], new Zeros(), trainable: false);
    }

    /// <summary>Computes each feature's mean and (population) variance over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The data is empty, has no feature axis, or its feature count differs from the built layer's.</exception>
    public void Adapt(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Rank < 1 || data.Size == 0)
            throw new ArgumentException($"Normalization '{Name}'.Adapt needs a non-empty tensor with a feature axis. Received: shape {ShapeUtil.Format(data.ShapeRef)}");
        var d = data.Rank == 1 ? data.Reshape(-1, 1) : data;
        if (Built) CheckInput(d);
        int f = d.ShapeRef[^1];
        int n = d.Size / f;
        // Accumulate in double: feature scales like 425 °C and 17 min would lose digits in float sums.
        var sum = new double[f];
        var sq = new double[f];
        ReadOnlySpan<float> s = d.AsSpan();
        for (int r = 0; r < n; r++)
            for (int j = 0; j < f; j++) sum[j] += s[r * f + j];
        var mean = new float[f];
        for (int j = 0; j < f; j++) mean[j] = (float)(sum[j] / n);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < f; j++) { double c = s[r * f + j] - sum[j] / n; sq[j] += c * c; }
        var variance = new float[f];
        for (int j = 0; j < f; j++) variance[j] = (float)(sq[j] / n);
        EnsureBuilt(d.ShapeRef);
        MeanWeight!.Assign(Tensor.FromArray(mean));
        VarianceWeight!.Assign(Tensor.FromArray(variance));
        CountWeight!.Assign(Tensor.Scalar(n));
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int f = MeanWeight!.Size;
        if (inputs.Rank < 1 || inputs.ShapeRef[^1] != f)
            throw new ArgumentException($"Normalization '{Name}' expects input with {f} features. Received: shape {ShapeUtil.Format(inputs.ShapeRef)}");
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        stage = new NormalizationStage(this) { Width = context.InputWidth };
        return true;
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <summary>(x − mean) / max(√variance, ε) over each sample's last axis; the gradient is divided by the same.</summary>
    private sealed class NormalizationStage(Normalization layer) : Stage
    {
        private readonly float[] std = new float[layer.MeanWeight!.Size];

        public override void Forward(float[] input, int rows)
        {
            TensorPrimitives.Sqrt(layer.VarianceWeight!.AsSpan(), std);
            TensorPrimitives.Max(std, Epsilon, std);
            ReadOnlySpan<float> mean = layer.MeanWeight!.AsSpan();
            int f = std.Length;
            for (int at = 0; at < rows * Width; at += f)
            {
                var o = Output.AsSpan(at, f);
                TensorPrimitives.Subtract(input.AsSpan(at, f), mean, o);
                TensorPrimitives.Divide(o, std, o);
            }
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad == null) return;
            int f = std.Length;
            for (int at = 0; at < rows * Width; at += f)
                TensorPrimitives.Divide(OutputGrad.AsSpan(at, f), std, inputGrad.AsSpan(at, f));
        }
    }
}
