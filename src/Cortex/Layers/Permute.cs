using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Permute))]

namespace Cortex.Layers;

/// <summary>
/// Reorders each sample's axes, as <c>keras.layers.Permute</c>: <c>dims</c> lists, for each output axis, the input axis
/// it takes, numbered from 1 (the batch axis stays first and is not listed). <c>new Permute([2, 3, 1])</c> turns
/// channels-first images (N, C, H, W) into channels-last (N, H, W, C); <c>new Permute([3, 1, 2])</c> turns them back.
/// </summary>
/// <example><code>var model = new Sequential(new Input([1, 28, 28]), new Permute([2, 3, 1]), new Conv2D(8, 3));   // NCHW data into an NHWC network</code></example>
public sealed class Permute : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="dims">A permutation of 1…rank−1: output axis i takes input axis dims[i].</param>
    /// <param name="name">Layer name; <c>permute</c>, … when null.</param>
    /// <exception cref="ArgumentException"><paramref name="dims"/> is not a permutation of 1…n.</exception>
    public Permute(int[] dims, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length == 0 || !dims.Order().SequenceEqual(Enumerable.Range(1, dims.Length)))
            throw new ArgumentException($"Permute: dims must be a permutation of 1…{Math.Max(dims.Length, 1)} (the batch axis is not listed). Received: dims={ShapeUtil.Format(dims)}", nameof(dims));
        Dims = (int[])dims.Clone();
    }

    /// <summary>For each output axis (after the batch axis), the input axis it takes, from 1.</summary>
    public int[] Dims { get; }

    private void Check(int[] shape)
    {
        if (shape.Length != Dims.Length + 1)
            throw new ArgumentException($"Permute '{Name}' expects input of rank {Dims.Length + 1} (dims={ShapeUtil.Format(Dims)}). Received: shape {ShapeUtil.Format(shape)}");
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => Check(inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => Check(inputs.ShapeRef);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        Check(inputShape);
        return [inputShape[0], .. Dims.Select(d => inputShape[d])];
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        Check([-1, .. context.Sample]);
        stage = new PermuteStage(context.Sample, [.. Dims.Select(d => d - 1)]) { Width = context.InputWidth };
        return true;
    }

    /// <summary>Each sample transposed by the shared permutation kernel; backward applies the inverse permutation.</summary>
    private sealed class PermuteStage(int[] sample, int[] perm) : Stage
    {
        private readonly int[] outSample = [.. perm.Select(p => sample[p])];
        private readonly int[] inverse = [.. Enumerable.Range(0, perm.Length).Select(i => Array.IndexOf(perm, i))];

        public override void Forward(float[] input, int rows)
        {
            for (int r = 0; r < rows; r++)
                Kernels.Permute.Run(input.AsSpan(r * Width, Width), sample, perm, Output.AsSpan(r * Width, Width));
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad == null) return;
            for (int r = 0; r < rows; r++)
                Kernels.Permute.Run(OutputGrad.AsSpan(r * Width, Width), outSample, inverse, inputGrad.AsSpan(r * Width, Width));
        }
    }
}
