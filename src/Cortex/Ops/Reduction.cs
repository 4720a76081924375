using System.Numerics.Tensors;
using Cortex.Autodiff;
using Cortex.Kernels;

namespace Cortex;

// Reductions over all elements or along one axis, with keepDims as in NumPy/Keras.
public partial class Tensor
{
    /// <summary>Sum of all elements (a scalar).</summary>
    public Tensor Sum()
    {
        var r = Scalar(Reduce.Sum(data));
        if (GradientTape.IsRecording) GradientTape.Record("Sum", r, static (g, n) => [Full(n.X.shape, g.data[0])], this);
        return r;
    }

    /// <summary>Sum along <paramref name="axis"/> (negative counts from the end).</summary>
    public Tensor Sum(int axis, bool keepDims = false) => AxisReduce("Sum", axis, keepDims);

    /// <summary>Mean of all elements (a scalar).</summary>
    public Tensor Mean() => Sum() / (float)data.Length; // empty: 0/0 = NaN, as NumPy

    /// <summary>Mean along <paramref name="axis"/>.</summary>
    public Tensor Mean(int axis, bool keepDims = false)
    {
        int a = ShapeUtil.Axis("Mean", axis, Rank);
        int len = Rank == 0 ? 1 : shape[a];
        return Sum(axis, keepDims) / (float)len;
    }

    /// <summary>Largest element (a scalar); NaN if any element is NaN.</summary>
    /// <exception cref="InvalidOperationException">The tensor is empty.</exception>
    public Tensor Max() => FlatExtreme("Max", true);

    /// <summary>Smallest element (a scalar); NaN if any element is NaN.</summary>
    public Tensor Min() => FlatExtreme("Min", false);

    /// <summary>Largest element along <paramref name="axis"/>. Tied maxima share the gradient evenly (like torch.amax).</summary>
    public Tensor Max(int axis, bool keepDims = false) => AxisReduce("Max", axis, keepDims);

    /// <summary>Smallest element along <paramref name="axis"/>. Tied minima share the gradient evenly.</summary>
    public Tensor Min(int axis, bool keepDims = false) => AxisReduce("Min", axis, keepDims);

    /// <summary>Index of the largest element along <paramref name="axis"/> (first on ties), as a float tensor of indices.</summary>
    public Tensor ArgMax(int axis = -1)
    {
        int a = ShapeUtil.Axis("ArgMax", axis, Rank);
        if (Rank > 0 && shape[a] == 0) throw new InvalidOperationException($"ArgMax: axis {axis} of shape {ShapeUtil.Format(shape)} is empty.");
        var (outer, len, inner) = ShapeUtil.Split(shape, a);
        var r = Uninitialized(ReducedShape(a, false));
        Reduce.ArgMax(data, outer, len, inner, r.data);
        return r;
    }

    private Tensor FlatExtreme(string op, bool max)
    {
        if (data.Length == 0) throw new InvalidOperationException($"{op}: the tensor is empty (shape {ShapeUtil.Format(shape)}).");
        var r = Scalar(max ? TensorPrimitives.Max(data) : TensorPrimitives.Min(data));
        if (GradientTape.IsRecording)
            GradientTape.Record(op, r, static (g, n) => [ExtremeMask(n.X, n.Output.BroadcastTo(n.X.shape)) * g], this);
        return r;
    }

    /// <summary>1/count at the positions equal to the extreme, so ties share the gradient.</summary>
    private static Tensor ExtremeMask(Tensor x, Tensor extremeBroadcast)
    {
        Tensor hit = Equal(x, extremeBroadcast);
        return hit / hit.Sum().Item();
    }

    private int[] ReducedShape(int axis, bool keepDims)
    {
        if (Rank == 0) return [];
        var s = new List<int>(shape);
        if (keepDims) s[axis] = 1; else s.RemoveAt(axis);
        return [.. s];
    }

    private Tensor AxisReduce(string op, int axis, bool keepDims)
    {
        int a = ShapeUtil.Axis(op, axis, Rank);
        var (outer, len, inner) = ShapeUtil.Split(shape, a);
        if (op != "Sum" && len == 0) throw new InvalidOperationException($"{op}: axis {axis} of shape {ShapeUtil.Format(shape)} is empty.");
        var r = Uninitialized(ReducedShape(a, keepDims));
        switch (op)
        {
            case "Sum": Reduce.Sum(data, outer, len, inner, r.data); break;
            case "Max": Reduce.Max(data, outer, len, inner, r.data); break;
            default: Reduce.Min(data, outer, len, inner, r.data); break;
        }
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record(op, r, static (g, n) =>
            {
                int[] kept = n.X.ReducedShape(n.Axis, true);
                Tensor gk = g.Reshape(kept).BroadcastTo(n.X.shape);
                if (n.Op == "Sum") return [gk];
                Tensor hit = Equal(n.X, n.Output.Reshape(kept));
                return [gk * hit / hit.Sum(n.Axis, keepDims: true)];
            }, this);
            if (node != null) node.Axis = a;
        }
        return r;
    }

    /// <summary>
    /// Sums a broadcast gradient back to <paramref name="target"/> shape: leading extra axes are summed away and
    /// axes where the target has size 1 are summed with keepDims. The inverse of broadcasting.
    /// </summary>
    internal Tensor SumTo(int[] target)
    {
        if (ShapeUtil.SameShape(shape, target)) return this;
        Tensor t = this;
        int extra = Rank - target.Length;
        if (extra > 0)
        {
            // Fold all leading axes into one and sum it: one pass, rows added with SIMD.
            int lead = 1;
            for (int i = 0; i < extra; i++) lead *= shape[i];
            t = t.Reshape([lead, .. shape[extra..]]).Sum(0);
        }
        for (int ax = 0; ax < target.Length; ax++)
            if (target[ax] == 1 && t.shape[ax] != 1) t = t.Sum(ax, keepDims: true);
        return t;
    }
}
