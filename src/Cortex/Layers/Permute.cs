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

    /// <summary>Gathers each sample's values in the permuted order; backward scatters the gradient back.</summary>
    private sealed class PermuteStage : Stage
    {
        private readonly int[] source; // for each output position within a sample, the input position it reads

        public PermuteStage(int[] sample, int[] perm)
        {
            int rank = sample.Length, count = sample.Aggregate(1, (a, b) => a * b);
            var strides = new int[rank];
            for (int i = rank - 1, s = 1; i >= 0; s *= sample[i], i--) strides[i] = s;
            int[] outShape = [.. perm.Select(p => sample[p])];
            source = new int[count];
            var index = new int[rank];
            for (int o = 0; o < count; o++)
            {
                int src = 0;
                for (int i = 0; i < rank; i++) src += index[i] * strides[perm[i]];
                source[o] = src;
                for (int i = rank - 1; i >= 0 && ++index[i] == outShape[i]; i--) index[i] = 0;
            }
        }

        public override void Forward(float[] input, int rows)
        {
            int w = source.Length;
            for (int r = 0; r < rows; r++)
            {
                int at = r * w;
                for (int o = 0; o < w; o++) Output[at + o] = input[at + source[o]];
            }
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad == null) return;
            int w = source.Length;
            for (int r = 0; r < rows; r++)
            {
                int at = r * w;
                for (int o = 0; o < w; o++) inputGrad[at + source[o]] = OutputGrad[at + o];
            }
        }
    }
}
