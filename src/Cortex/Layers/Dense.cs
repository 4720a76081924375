using Cortex.Optimizers;
using Cortex.Kernels;
using System.Runtime.CompilerServices;
using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Dense))]

namespace Cortex.Layers;

/// <summary>
/// A fully connected layer: <c>a = g(x·W + b)</c>. The kernel W has shape (inputs, units), so each neuron's weights
/// are one column; the bias b has one entry per unit.
/// </summary>
/// <example>
/// <code>
/// var layer = new Dense(units: 3, activation: "sigmoid");
/// Tensor a = layer.Call(Tensor.FromArray(new float[,] { { 200, 17 } }));   // shape (1, 3)
/// </code>
/// </example>
public sealed class Dense : KernelLayer
{
    /// <summary>Creates the layer; weights are made on first use, when the input size is known.</summary>
    /// <param name="units">Number of neurons (output features).</param>
    /// <param name="activation">g, by name (<c>"relu"</c>) or typed; linear when null.</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="kernelInitializer">How W starts (Keras default: glorot_uniform — random, never zeros).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="kernelRegularizer">Penalty on W added to the loss (e.g. <c>new L2(0.01f)</c>).</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="kernelConstraint">Projection of the kernel after each update (e.g. <c>new MaxNorm(3f)</c>).</param>
    /// <param name="biasConstraint">Projection of the bias after each update.</param>
    /// <param name="name">Layer name; <c>dense</c>, <c>dense_1</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="units"/> is not positive.</exception>
    public Dense(int units, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, string? name = null)
        : base(activation, useBias, kernelInitializer, biasInitializer, kernelRegularizer, biasRegularizer, kernelConstraint, biasConstraint, name)
    {
        if (units <= 0) throw new ArgumentOutOfRangeException(nameof(units), $"Dense: units must be a positive integer. Received: units={units}");
        Units = units;
    }

    /// <summary>Number of neurons.</summary>
    public int Units { get; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (inputShape.Length < 2)
            throw new ArgumentException($"Dense '{Name}' expects input of rank ≥ 2 (batch, features). Received: shape {ShapeUtil.Format(inputShape)}");
        if (inputShape[^1] < 0)
            throw new ArgumentException($"Dense '{Name}' needs its input's last dimension to make its kernel, but it is known only when called. Received: shape {Models.Model.FormatShape(inputShape)}. " +
                "Pool the unknown axes first (e.g. GlobalAveragePooling2D, GlobalMaxPooling1D, an LSTM without returnSequences) rather than Flatten them.");
        AddKernelAndBias([inputShape[^1], Units]);
    }

    /// <inheritdoc/>
    protected override bool TryBuildFromWeights(Tensor[] values)
    {
        if (values[0].Rank != 2) return false;
        EnsureBuilt([-1, values[0].ShapeRef[0]]);
        return true;
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int expected = Kernel!.ShapeRef[0];
        if (inputs.Rank < 2 || inputs.ShapeRef[^1] != expected)
            throw new ArgumentException($"Dense '{Name}' expects input with {expected} features. Received: shape {ShapeUtil.Format(inputs.ShapeRef)}");
    }

    /// <inheritdoc/>
    private protected override bool PassesMask => true;

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training)
    {
        if (inputs.Rank == 2) return FusedDense.Forward(inputs, Kernel!, Bias, Activation);
        int[] shape = inputs.ShapeRef;
        var flat = FusedDense.Forward(inputs.Reshape(-1, shape[^1]), Kernel!, Bias, Activation);
        return flat.Reshape([.. shape[..^1], Units]);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) => [.. inputShape[..^1], Units];

    /// <inheritdoc/>
    private protected override string SampleRefusal(int[] sample) =>
        sample.Length != 1 || Kernel!.ShapeRef[0] != sample[0] ? $"gets samples of shape {ShapeUtil.Format(sample)}, not rows of {Kernel!.ShapeRef[0]}" : "";

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context, Tensor kernelGrad, Tensor? biasGrad) =>
        new DenseStage(this, context.Sample[0]) { Width = Units, KernelGrad = kernelGrad, BiasGrad = biasGrad! };
}

/// <summary>Dense on rows: one GEMM, the bias and the activation in place (as <see cref="FusedDense"/>).</summary>
internal sealed class DenseStage(Dense layer, int inputs) : Stage
{
    private readonly Dense layer = layer;
    private readonly int inputs = inputs;
    public Tensor KernelGrad = null!, BiasGrad = null!;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Forward(float[] input, int rows) =>
        FusedDense.ForwardCore(input, layer.Kernel!.AsSpan(), layer.Bias == null ? default : layer.Bias.AsSpan(), layer.Activation, rows, inputs, Width, Output);

    /// <inheritdoc/>
    public override int GatherSplit => Gemm.SplitKColumn(inputs);

    /// <summary>
    /// Backward with the kernel's optimizer update folded in: dW is computed a block of rows at a time into an
    /// L1-sized scratch and each block is applied at once, so the 784×128 gradient is never written out and read
    /// back. The two cores take the same row halves as the forward GEMM's k split, so each updates the weights it
    /// multiplies. The bias gradient is left for the optimizer as usual. Same bits as <see cref="Backward"/> followed
    /// by ApplyGradients.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override unsafe bool TryBackwardAndUpdate(float[] input, int rows, Optimizer optimizer)
    {
        if (!optimizer.TryBeginPieces(layer.Kernel!, out var step)) return false;
        OutputDelta(rows);
        fixed (float* x = input, d = OutputGrad, w = layer.Kernel!.AsSpan())
        {
            step.W = w;
            var job = new PieceJob { X = x, Dz = d, Step = step, Inputs = inputs, Units = Width, Rows = rows };
            int split = GatherSplit;
            if (split > 0)
            {
                Span<int> bounds = [0, split, inputs];
                if (GemmThreads.TryRunRanges(&UpdateRows, &job, bounds)) return true;
            }
            UpdateRows(&job, 0, inputs);
        }
        return true;
    }

    /// <summary>The start of both backward passes: dz in place of the output gradient, and the bias gradient.</summary>
    private void OutputDelta(int rows) =>
        FusedDense.OutputDelta(OutputGrad, Output, layer.Activation, rows, Width, layer.Bias == null ? default : BiasGrad.Span);

    private unsafe struct PieceJob
    {
        public float* X, Dz;
        public PieceStep Step;
        public int Inputs, Units, Rows;
    }

    /// <summary>Kernel rows [lo, hi): dW block = X[:, block]ᵀ·dz on this thread, then the optimizer on the block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void UpdateRows(void* state, int lo, int hi)
    {
        var j = (PieceJob*)state;
        int units = j->Units, inputs = j->Inputs, rows = j->Rows;
        int block = Math.Max(8, 4096 / units / 8 * 8);   // ≤ 16 KiB of gradient per block
        float* scratch = stackalloc float[block * units];
        for (int r0 = lo; r0 < hi; r0 += block)
        {
            int r1 = Math.Min(hi, r0 + block), count = (r1 - r0) * units;
            Gemm.Sgemm(true, false, r1 - r0, units, rows, new ReadOnlySpan<float>(j->X + r0, (rows - 1) * inputs + (r1 - r0)), inputs,
                new ReadOnlySpan<float>(j->Dz, rows * units), units, new Span<float>(scratch, count), units, false, GemmKernel.Auto, 1);
            j->Step.Update(scratch, (long)r0 * units, count);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Backward(float[] input, float[]? inputGrad, int rows)
    {
        OutputDelta(rows);
        FusedDense.BackwardProducts(input, layer.Kernel!.AsSpan(), OutputGrad, rows, inputs, Width, KernelGrad.Span, inputGrad);
    }
}
