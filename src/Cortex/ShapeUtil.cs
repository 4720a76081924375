using System.Text;

namespace Cortex;

/// <summary>Shape arithmetic shared by ops: counting, formatting, broadcasting, axis normalisation.</summary>
internal static class ShapeUtil
{
    public static int Count(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return (int)n;
    }

    /// <summary>Counts elements, rejecting negative dimensions and sizes past 2^31 − 1 with the op's name.</summary>
    public static int Count(string op, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}: dimensions must be non-negative. Received: shape {Format(shape)}");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"{op}: shape {Format(shape)} has more than {int.MaxValue} elements.");
        }
        return (int)n;
    }

    /// <summary>Resolves one -1 dimension and checks the element count against <paramref name="count"/>.</summary>
    public static int[] Resolve(string op, int[] shape, int count)
    {
        var r = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < r.Length; i++)
        {
            if (r[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1. Received: shape {Format(shape)}");
                infer = i;
            }
            else if (r[i] < 0) throw new ArgumentException($"{op}: dimensions must be non-negative or -1. Received: shape {Format(shape)}");
            else known *= r[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || count % known != 0)
                throw new ArgumentException($"{op}: cannot infer the -1 dimension of shape {Format(shape)} for {count} elements.");
            r[infer] = (int)(count / known);
            known *= r[infer];
        }
        if (known != count)
            throw new ArgumentException($"{op}: shape {Format(shape)} holds {known} elements but the data has {count}.");
        return r;
    }

    /// <summary>Formats a shape the way Keras prints it: <c>(4, 3)</c>, <c>(5,)</c>, <c>()</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 1) return $"({shape[0]},)";
        var sb = new StringBuilder("(");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(')').ToString();
    }

    public static bool SameShape(int[] a, int[] b) => a.AsSpan().SequenceEqual(b);

    /// <summary>The NumPy broadcast of two shapes, or an error naming the op and both shapes.</summary>
    public static int[] Broadcast(string op, int[] a, int[] b)
    {
        if (SameShape(a, b)) return a;
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da == db || db == 1) r[i] = da;
            else if (da == 1) r[i] = db;
            else throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (axis {i}: {da} vs {db}).");
        }
        return r;
    }

    /// <summary>Normalises a possibly negative axis, naming the op and rank when it is out of range.</summary>
    public static int Axis(string op, int axis, int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if ((uint)a >= (uint)rank && !(rank == 0 && (axis == 0 || axis == -1)))
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for a tensor of rank {rank} (valid: {-rank}..{rank - 1}).");
        return rank == 0 ? 0 : a;
    }

    /// <summary>Row-major strides of a shape.</summary>
    public static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>Splits a shape around an axis into (outer, axis length, inner) element counts.</summary>
    public static (int Outer, int Len, int Inner) Split(int[] shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape.Length == 0 ? 1 : shape[axis], inner);
    }
}
