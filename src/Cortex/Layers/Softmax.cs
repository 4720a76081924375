using System.Numerics.Tensors;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Softmax))]

namespace Cortex.Layers;

/// <summary>
/// Keras's <c>Softmax</c> layer: e^(x − max) / Σ e^(x − max) jointly over one or several axes of each sample (the
/// values of all the listed axes form one distribution), e.g. attention weights over a 2-D grid.
/// </summary>
/// <example>
/// <code>
/// var probs = new Softmax();                 // over the last axis, as the "softmax" activation
/// var grid = new Softmax(axis: [1, 2]);      // one distribution over each image's (H, W) positions, per channel
/// </code>
/// </example>
public sealed class Softmax : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="axis">The axes normalised together (negative counts from the end; the batch axis 0 cannot be one);
    /// null for Keras's default, the last axis.</param>
    /// <param name="name">Layer name; <c>softmax</c>, … when null.</param>
    /// <exception cref="ArgumentException"><paramref name="axis"/> is empty, names an axis twice, or names axis 0.</exception>
    public Softmax(int[]? axis = null, string? name = null) : base(name)
    {
        Axis = axis is null ? [-1] : (int[])axis.Clone();
        if (Axis.Length == 0 || Axis.Contains(0) || Axis.Distinct().Count() != Axis.Length)
            throw new ArgumentException($"Softmax: axis must name distinct axes other than the batch axis 0. Received: axis={ShapeUtil.Format(Axis)}", nameof(axis));
    }

    /// <summary>The axes normalised together.</summary>
    public int[] Axis { get; }

    /// <summary>The normalised axes as positions in <paramref name="shape"/> (batch axis 0), ascending.</summary>
    private int[] Axes(int[] shape)
    {
        var axes = Axis.Select(a => a < 0 ? a + shape.Length : a).Order().ToArray();
        if (axes.Any(a => a <= 0 || a >= shape.Length) || axes.Distinct().Count() != axes.Length)
            throw new ArgumentException($"Softmax '{Name}': axis {ShapeUtil.Format(Axis)} does not fit input of shape {ShapeUtil.Format(shape)} (the batch axis cannot be one).");
        return axes;
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => Axes(inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => Axes(inputs.ShapeRef);

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] axes = Axes([-1, .. context.Sample]);
        // Each sample permuted so the normalised axes come last (their own order kept): groups of their joint length.
        int[] perm = [.. Enumerable.Range(0, context.Sample.Length).Where(d => !axes.Contains(d + 1)), .. axes.Select(a => a - 1)];
        int group = axes.Aggregate(1, (n, a) => n * context.Sample[a - 1]);
        stage = new SoftmaxStage(context.Sample, perm, group) { Width = context.InputWidth };
        return true;
    }

    /// <summary>Per sample: permute (unless the axes already come last), a softmax per group, permute back; backward
    /// dx = y ⊙ (g − Σ g ⊙ y) per group in the same layout.</summary>
    private sealed class SoftmaxStage(int[] sample, int[] perm, int group) : Stage
    {
        private readonly bool identity = perm.Select((p, i) => p == i).All(b => b);
        private readonly int[] permuted = [.. perm.Select(p => sample[p])];
        private readonly int[] inverse = [.. Enumerable.Range(0, perm.Length).Select(i => Array.IndexOf(perm, i))];
        private readonly float[] a = new float[sample.Aggregate(1, (n, d) => n * d)], b = new float[sample.Aggregate(1, (n, d) => n * d)];

        public override void Forward(float[] input, int rows)
        {
            for (int r = 0; r < rows; r++)
            {
                Span<float> x = input.AsSpan(r * Width, Width), y = Output.AsSpan(r * Width, Width);
                if (identity) { SoftmaxGroups(x, y); continue; }
                Kernels.Permute.Run(x, sample, perm, a);
                SoftmaxGroups(a, b);
                Kernels.Permute.Run(b, permuted, inverse, y);
            }
        }

        private void SoftmaxGroups(ReadOnlySpan<float> x, Span<float> y)
        {
            for (int at = 0; at < x.Length; at += group)
            {
                var ys = y.Slice(at, group);
                TensorPrimitives.Subtract(x.Slice(at, group), TensorPrimitives.Max(x.Slice(at, group)), ys);   // finite for any logits
                TensorPrimitives.Exp(ys, ys);
                TensorPrimitives.Divide(ys, TensorPrimitives.Sum(ys), ys);
            }
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad == null) return;
            for (int r = 0; r < rows; r++)
            {
                Span<float> g = OutputGrad.AsSpan(r * Width, Width), y = Output.AsSpan(r * Width, Width), dx = inputGrad.AsSpan(r * Width, Width);
                if (identity) { GradGroups(g, y, dx); continue; }
                Kernels.Permute.Run(g, sample, perm, a);
                Kernels.Permute.Run(y, sample, perm, b);
                GradGroups(a, b, a);
                Kernels.Permute.Run(a, permuted, inverse, dx);
            }
        }

        private void GradGroups(ReadOnlySpan<float> g, ReadOnlySpan<float> y, Span<float> dx)
        {
            for (int at = 0; at < g.Length; at += group)
            {
                var gs = g.Slice(at, group);
                var ys = y.Slice(at, group);
                float dot = TensorPrimitives.Dot(gs, ys);
                var d = dx.Slice(at, group);
                TensorPrimitives.Subtract(gs, dot, d);   // may write over g (in place is safe: each element read before written)
                TensorPrimitives.Multiply(d, ys, d);
            }
        }
    }
}
