using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;


namespace Cortex;

/// <summary>
/// An n-dimensional float32 tensor with row-major, contiguous storage and NumPy broadcasting.
/// Operations return new tensors; inside a <see cref="GradientTape"/> they are recorded for differentiation.
/// </summary>
/// <example>
/// <code>
/// var a = Tensor.FromArray(new float[] { 1, 2 });
/// var w = Tensor.FromArray(new float[,] { { 3, 5 }, { 4, 6 } });
/// Tensor z = a.MatMul(w);   // [11 17]
/// </code>
/// </example>
public partial class Tensor
{
    // Storage is exactly Size floats, row-major. A Variable may replace the array's contents in place (Assign),
    // never its shape.
    internal float[] data;
    private readonly int[] shape;

    /// <summary>Creates a tensor over <paramref name="data"/> (not copied) with the given shape.</summary>
    internal Tensor(float[] data, int[] shape)
    {
        this.data = data;
        this.shape = shape;
    }

    /// <summary>The size of each dimension. A scalar has an empty shape.</summary>
    public int[] Shape => (int[])shape.Clone();

    /// <summary>The shape without a defensive copy, for internal use.</summary>
    internal int[] ShapeRef => shape;

    /// <summary>The number of dimensions (0 for a scalar).</summary>
    public int Rank => shape.Length;

    /// <summary>The number of elements.</summary>
    public int Size => data.Length;

    /// <summary>The elements, row-major, without copying. Do not hold on to it across ops that may reuse storage.</summary>
    internal Span<float> Span => data;

    /// <summary>The elements as a read-only span (row-major), without copying.</summary>
    public ReadOnlySpan<float> AsSpan() => data;

    /// <summary>Whether this tensor is a variable (trainable parameter).</summary>
    public virtual bool IsVariable => false;

    // ---------------------------------------------------------------- creation

    /// <summary>Creates a 1-D tensor holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromArray(float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new Tensor((float[])values.Clone(), [values.Length]);
    }

    /// <summary>Creates a tensor holding a copy of <paramref name="values"/> with the given shape (-1 infers one dimension).</summary>
    /// <exception cref="ArgumentException">The shape's element count differs from the data's length.</exception>
    public static Tensor FromArray(float[] values, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        int[] resolved = ShapeUtil.Resolve("FromArray", shape, values.Length);
        return new Tensor((float[])values.Clone(), resolved);
    }

    /// <summary>Creates a 2-D tensor from a rectangular array.</summary>
    public static Tensor FromArray(float[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new Tensor(CopyMulti(values, values.Length), [values.GetLength(0), values.GetLength(1)]);
    }

    /// <summary>Creates a 3-D tensor from a rectangular array.</summary>
    public static Tensor FromArray(float[,,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new Tensor(CopyMulti(values, values.Length), [values.GetLength(0), values.GetLength(1), values.GetLength(2)]);
    }

    /// <summary>Creates a 4-D tensor from a rectangular array (e.g. NHWC images).</summary>
    public static Tensor FromArray(float[,,,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new Tensor(CopyMulti(values, values.Length),
            [values.GetLength(0), values.GetLength(1), values.GetLength(2), values.GetLength(3)]);
    }

    private static float[] CopyMulti(Array values, int length)
    {
        var result = new float[length];
        if (length > 0)
        {
            // Multi-dimensional arrays are stored row-major and contiguously, so one block copy suffices.
            ref byte src = ref MemoryMarshal.GetArrayDataReference(values);
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref result[0]), ref src, (uint)(length * sizeof(float)));
        }
        return result;
    }

    /// <summary>Creates a scalar (rank-0) tensor.</summary>
    public static Tensor Scalar(float value) => new([value], []);

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => new(new float[ShapeUtil.Count("Zeros", shape)], (int[])shape.Clone());

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(params int[] shape) => Full(shape, 1f);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, float value)
    {
        var t = Uninitialized(ShapeUtil.Count("Full", shape), (int[])shape.Clone());
        t.data.AsSpan().Fill(value);
        return t;
    }

    /// <summary>Values from <paramref name="start"/> (inclusive) to <paramref name="stop"/> (exclusive) in steps, like <c>np.arange</c>.</summary>
    public static Tensor Arange(float start, float stop, float step = 1f)
    {
        if (step == 0 || float.IsNaN(step)) throw new ArgumentException($"Arange: step must be non-zero. Received: {step}", nameof(step));
        int n = Math.Max(0, (int)Math.Ceiling((stop - start) / (double)step));
        var d = new float[n];
        for (int i = 0; i < n; i++) d[i] = (float)(start + (double)i * step);
        return new Tensor(d, [n]);
    }

    /// <summary>Values 0, 1, …, <paramref name="stop"/> − 1.</summary>
    public static Tensor Arange(int stop) => Arange(0, stop, 1);

    /// <summary>Samples from a normal distribution. The same seed gives the same numbers on every run and machine.</summary>
    public static Tensor RandomNormal(int[] shape, float mean = 0f, float std = 1f, int? seed = null)
    {
        var t = Uninitialized(ShapeUtil.Count("RandomNormal", shape), (int[])shape.Clone());
        var rng = CortexRandom.FromSeedOrGlobal(seed);
        rng.FillNormal(t.data, mean, std);
        return t;
    }

    /// <summary>Samples uniformly from [<paramref name="low"/>, <paramref name="high"/>). The same seed gives the same numbers.</summary>
    public static Tensor RandomUniform(int[] shape, float low = 0f, float high = 1f, int? seed = null)
    {
        var t = Uninitialized(ShapeUtil.Count("RandomUniform", shape), (int[])shape.Clone());
        var rng = CortexRandom.FromSeedOrGlobal(seed);
        rng.FillUniform(t.data, low, high);
        return t;
    }

    /// <summary>A tensor whose storage is not zeroed; every element must be written by the caller.</summary>
    internal static Tensor Uninitialized(int count, int[] shape) =>
        new(count == 0 ? [] : GC.AllocateUninitializedArray<float>(count), shape);

    /// <summary>Like <see cref="Uninitialized(int, int[])"/> with the element count computed from the shape.</summary>
    internal static Tensor Uninitialized(int[] shape) => Uninitialized(ShapeUtil.Count(shape), shape);

    // ---------------------------------------------------------------- reading

    /// <summary>Gets or sets one element by its full index.</summary>
    [IndexerName("At")] // frees the name Item for Item(), NumPy's scalar accessor
    public float this[params int[] index]
    {
        get => data[FlatIndex(index)];
        set => data[FlatIndex(index)] = value;
    }

    private int FlatIndex(int[] index)
    {
        if (index.Length != shape.Length)
            throw new IndexOutOfRangeException($"Tensor of shape {ShapeUtil.Format(shape)} needs {shape.Length} indices. Received: {index.Length}");
        int flat = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            int i = index[d];
            if (i < 0) i += shape[d];
            if ((uint)i >= (uint)shape[d])
                throw new IndexOutOfRangeException($"Index {index[d]} is out of range for axis {d} with size {shape[d]} (shape {ShapeUtil.Format(shape)}).");
            flat = flat * shape[d] + i;
        }
        return flat;
    }

    /// <summary>A copy of the elements, row-major.</summary>
    public float[] ToArray() => (float[])data.Clone();

    /// <summary>A copy of a 2-D tensor as a rectangular array.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not 2-D.</exception>
    public float[,] ToArray2D()
    {
        if (Rank != 2) throw new InvalidOperationException($"ToArray2D needs a 2-D tensor. Received: shape {ShapeUtil.Format(shape)}");
        var result = new float[shape[0], shape[1]];
        if (data.Length > 0)
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref result[0, 0]), ref Unsafe.As<float, byte>(ref data[0]), (uint)(data.Length * 4));
        return result;
    }

    /// <summary>The value of a tensor holding exactly one element.</summary>
    /// <exception cref="InvalidOperationException">The tensor holds more or fewer than one element.</exception>
    public float Item()
    {
        if (data.Length != 1) throw new InvalidOperationException($"Item() needs a tensor with one element. Received: shape {ShapeUtil.Format(shape)} ({data.Length} elements)");
        return data[0];
    }

    /// <summary>Prints the tensor like NumPy (<c>[[0.2 0.7 0.3]]</c>), eliding long axes, followed by its shape.</summary>
    public override string ToString() => TensorFormatter.Format(this);
}
