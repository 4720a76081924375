using Cortex.Autodiff;

namespace Cortex;

// Shape ops: reshape, transpose, concatenation, stacking, gathering and slicing (mini-batches), one-hot.
public partial class Tensor
{
    /// <summary>The same elements with a new shape; one dimension may be -1 (inferred).</summary>
    /// <exception cref="ArgumentException">The new shape holds a different number of elements.</exception>
    public Tensor Reshape(params int[] newShape)
    {
        ArgumentNullException.ThrowIfNull(newShape);
        int[] resolved = ShapeUtil.Resolve($"Reshape of {ShapeUtil.Format(shape)}", newShape, data.Length);
        // Storage is immutable once produced, so a reshape may share it (a view) — except for variables, which
        // change in place and must not alias a tensor recorded on a tape.
        var r = new Tensor(IsVariable ? (float[])data.Clone() : data, resolved);
        if (GradientTape.IsRecording) GradientTape.Record("Reshape", r, static (g, n) => [g.Reshape(n.X.shape)], this);
        return r;
    }

    /// <summary>The transpose: axes reversed (for a matrix, rows become columns).</summary>
    public Tensor T => Transpose();

    /// <summary>Permutes the axes; with no arguments reverses them, as <c>np.transpose</c>.</summary>
    /// <exception cref="ArgumentException">The permutation is not a permutation of 0..rank−1.</exception>
    public Tensor Transpose(params int[] perm)
    {
        int rank = Rank;
        if (perm == null || perm.Length == 0)
        {
            perm = new int[rank];
            for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        }
        if (perm.Length != rank)
            throw new ArgumentException($"Transpose: the permutation must list {rank} axes for shape {ShapeUtil.Format(shape)}. Received: {ShapeUtil.Format(perm)}");
        var seen = new bool[rank];
        var p = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int a = ShapeUtil.Axis("Transpose", perm[i], rank);
            if (seen[a]) throw new ArgumentException($"Transpose: axis {perm[i]} appears twice in {ShapeUtil.Format(perm)}.");
            seen[a] = true;
            p[i] = a;
        }
        var outShape = new int[rank];
        for (int i = 0; i < rank; i++) outShape[i] = shape[p[i]];
        var r = Uninitialized(data.Length, outShape);
        Kernels.Permute.Run(data, shape, p, r.data);
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("Transpose", r, static (g, n) =>
            {
                var fwd = (int[])n.State!;
                var inv = new int[fwd.Length];
                for (int i = 0; i < fwd.Length; i++) inv[fwd[i]] = i;
                return [g.Transpose(inv)];
            }, this);
            if (node != null) node.State = p;
        }
        return r;
    }

    /// <summary>Joins tensors along an existing axis; all other dimensions must match.</summary>
    /// <exception cref="ArgumentException">No tensors, ranks differ, or a dimension other than the axis differs.</exception>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Concat: needs at least one tensor.");
        var first = tensors[0];
        int a = ShapeUtil.Axis("Concat", axis, first.Rank);
        if (first.Rank == 0) throw new ArgumentException("Concat: cannot concatenate scalars; use Stack.");
        int total = 0;
        foreach (var t in tensors)
        {
            bool ok = t.Rank == first.Rank;
            for (int d = 0; ok && d < t.Rank; d++) ok = d == a || t.shape[d] == first.shape[d];
            if (!ok) throw new ArgumentException($"Concat: all shapes must match except on axis {a}. Received: {ShapeUtil.Format(first.shape)} and {ShapeUtil.Format(t.shape)}");
            total += t.shape[a];
        }
        var outShape = (int[])first.shape.Clone();
        outShape[a] = total;
        var r = Uninitialized(outShape);
        var (outer, _, inner) = ShapeUtil.Split(outShape, a);
        int offset = 0;
        foreach (var t in tensors)
        {
            int chunk = t.shape[a] * inner;
            for (int o = 0; o < outer; o++)
                t.data.AsSpan(o * chunk, chunk).CopyTo(r.data.AsSpan(o * total * inner + offset, chunk));
            offset += chunk;
        }
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("Concat", r, static (g, n) =>
            {
                var grads = new Tensor?[n.Inputs.Length];
                int start = 0;
                for (int i = 0; i < grads.Length; i++)
                {
                    int len = n.Inputs[i].shape[n.Axis];
                    grads[i] = g.Slice(start, len, n.Axis);
                    start += len;
                }
                return grads;
            }, [.. tensors]);
            if (node != null) node.Axis = a;
        }
        return r;
    }

    /// <summary>Joins tensors of the same shape along a new axis.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Stack: needs at least one tensor.");
        int rank = tensors[0].Rank;
        int a = ShapeUtil.Axis("Stack", axis, rank + 1);
        var parts = new Tensor[tensors.Count];
        for (int i = 0; i < parts.Length; i++)
        {
            var t = tensors[i];
            if (!ShapeUtil.SameShape(t.shape, tensors[0].shape))
                throw new ArgumentException($"Stack: all tensors must have the same shape. Received: {ShapeUtil.Format(tensors[0].shape)} and {ShapeUtil.Format(t.shape)} (tensor {i})");
            parts[i] = t.Reshape([.. t.shape[..a], 1, .. t.shape[a..]]);
        }
        return Concat(parts, a);
    }

    /// <summary>A contiguous range of <paramref name="length"/> entries along <paramref name="axis"/> starting at
    /// <paramref name="start"/> — e.g. <c>x.Slice(64, 32)</c> is rows 64..95, a mini-batch.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range lies outside the axis.</exception>
    public Tensor Slice(int start, int length, int axis = 0)
    {
        int a = ShapeUtil.Axis("Slice", axis, Rank);
        if (Rank == 0) throw new ArgumentException("Slice: cannot slice a scalar.");
        if (start < 0 || length < 0 || start + length > shape[a])
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice: [{start}, {start + length}) is outside axis {a} of size {shape[a]} (shape {ShapeUtil.Format(shape)}).");
        var outShape = (int[])shape.Clone();
        outShape[a] = length;
        var (outer, len, inner) = ShapeUtil.Split(shape, a);
        var r = Uninitialized(outShape);
        for (int o = 0; o < outer; o++)
            data.AsSpan((o * len + start) * inner, length * inner).CopyTo(r.data.AsSpan(o * length * inner, length * inner));
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("Slice", r, static (g, n) =>
            {
                var x = n.X;
                var (outer, len, inner) = ShapeUtil.Split(x.shape, n.Axis);
                int start = (int)n.Alpha, length = g.shape[n.Axis];
                var gx = Zeros(x.shape);
                for (int o = 0; o < outer; o++)
                    g.data.AsSpan(o * length * inner, length * inner).CopyTo(gx.data.AsSpan((o * len + start) * inner));
                return [gx];
            }, this);
            if (node != null) { node.Axis = a; node.Alpha = start; }
        }
        return r;
    }

    /// <summary>Picks entries along <paramref name="axis"/> by index (e.g. the rows of a shuffled mini-batch), like <c>tf.gather</c>.
    /// Indices may repeat; their gradients add up.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the axis.</exception>
    public Tensor Gather(ReadOnlySpan<int> indices, int axis = 0)
    {
        int a = ShapeUtil.Axis("Gather", axis, Rank);
        if (Rank == 0) throw new ArgumentException("Gather: cannot gather from a scalar.");
        var (outer, len, inner) = ShapeUtil.Split(shape, a);
        for (int i = 0; i < indices.Length; i++)
            if ((uint)indices[i] >= (uint)len)
                throw new ArgumentOutOfRangeException(nameof(indices), $"Gather: index {indices[i]} (position {i}) is outside axis {a} of size {len} (shape {ShapeUtil.Format(shape)}).");
        var outShape = (int[])shape.Clone();
        outShape[a] = indices.Length;
        var r = Uninitialized(outShape);
        int m = indices.Length;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < m; i++)
                data.AsSpan((o * len + indices[i]) * inner, inner).CopyTo(r.data.AsSpan((o * m + i) * inner, inner));
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("Gather", r, static (g, n) =>
            {
                var x = n.X;
                var idx = (int[])n.State!;
                var (outer, len, inner) = ShapeUtil.Split(x.shape, n.Axis);
                var gx = Zeros(x.shape);
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < idx.Length; i++)
                    {
                        var dst = gx.data.AsSpan((o * len + idx[i]) * inner, inner);
                        System.Numerics.Tensors.TensorPrimitives.Add(dst, g.data.AsSpan((o * idx.Length + i) * inner, inner), dst);
                    }
                return [gx];
            }, this);
            if (node != null) { node.Axis = a; node.State = indices.ToArray(); }
        }
        return r;
    }

    /// <summary>Adds an axis of size 1 at <paramref name="axis"/>.</summary>
    public Tensor ExpandDims(int axis)
    {
        int a = ShapeUtil.Axis("ExpandDims", axis, Rank + 1);
        return Reshape([.. shape[..a], 1, .. shape[a..]]);
    }

    /// <summary>Removes axes of size 1 (all of them, or the one given).</summary>
    public Tensor Squeeze(int? axis = null)
    {
        if (axis is int ax)
        {
            int a = ShapeUtil.Axis("Squeeze", ax, Rank);
            if (shape[a] != 1) throw new ArgumentException($"Squeeze: axis {ax} has size {shape[a]}, not 1 (shape {ShapeUtil.Format(shape)}).");
            return Reshape([.. shape[..a], .. shape[(a + 1)..]]);
        }
        return Reshape([.. shape.Where(d => d != 1)]);
    }

    /// <summary>
    /// One-hot encodes class indices: a tensor of indices with shape S becomes shape S + (depth,).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is not an integer in [0, depth).</exception>
    public static Tensor OneHot(Tensor indices, int depth)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (depth <= 0) throw new ArgumentOutOfRangeException(nameof(depth), $"OneHot: depth must be positive. Received: {depth}");
        var r = Zeros([.. indices.shape, depth]);
        var src = indices.data;
        for (int i = 0; i < src.Length; i++)
        {
            float v = src[i];
            if (!(v >= 0 && v < depth) || v != MathF.Floor(v))
                throw new ArgumentOutOfRangeException(nameof(indices), $"OneHot: label {v} at position {i} is not a class index in [0, {depth}).");
            r.data[i * depth + (int)v] = 1f;
        }
        return r;
    }
}
