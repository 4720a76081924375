using System.Numerics.Tensors;

namespace Cortex.Kernels;

/// <summary>Element-wise passes long enough to split over the cores (element-wise, so the split changes no bit).</summary>
internal static unsafe class OnCores
{
    /// <summary>Below this many floats one core does the pass: waking the others costs more than it saves.</summary>
    internal const int MinFloats = 1 << 16;

    /// <summary>How many parts an element-wise pass over <paramref name="n"/> floats takes: one below
    /// <see cref="MinFloats"/> or on a thread that must stay serial, else one per core.</summary>
    internal static int Parts(int n) => n < MinFloats || GemmThreads.SerialOnThisThread ? 1 : GemmThreads.MaxParts;

    /// <summary>The parts' bounds over [0, n): equal shares, each starting on a multiple of 16 floats.</summary>
    internal static void Bounds(int n, Span<int> bounds)
    {
        int parts = bounds.Length - 1;
        for (int t = 0; t < parts; t++) bounds[t] = (int)((long)n * t / parts) & ~15;
        bounds[parts] = n;
    }

    private struct AddJob
    {
        public float* Sum, Addend;
    }

    /// <summary>sum += addend (a gradient reaching a tensor from its second reader, added to the first's).</summary>
    public static void Add(Span<float> sum, ReadOnlySpan<float> addend)
    {
        int parts = Parts(sum.Length);
        if (parts > 1)
            fixed (float* ps = sum, pa = addend)
            {
                var job = new AddJob { Sum = ps, Addend = pa };
                Span<int> bounds = stackalloc int[parts + 1];
                Bounds(sum.Length, bounds);
                if (GemmThreads.TryRunRanges(&AddPart, &job, bounds)) return;
            }
        TensorPrimitives.Add(sum, addend, sum);
    }

    private static void AddPart(void* state, int lo, int hi)
    {
        var j = (AddJob*)state;
        var sum = new Span<float>(j->Sum + lo, hi - lo);
        TensorPrimitives.Add(sum, new ReadOnlySpan<float>(j->Addend + lo, hi - lo), sum);
    }
}
