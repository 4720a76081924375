using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Cortex.Kernels;

namespace Cortex.Activations;

/// <summary>
/// An activation's span-level compute, behind one virtual call per pass (not per element): what
/// <see cref="ActivationFunction"/> holds and what the tape op, the layers and the fused training step call. Values
/// are laid out in rows (the last axis); an element-wise activation uses rows only to split a large pass between the
/// cores, softmax normalises each row.
/// </summary>
internal abstract class ActivationKernel
{
    /// <summary>Whether <see cref="Backward"/> may be given no input (see <see cref="IActivationOperator.DerivativeFromOutput"/>).</summary>
    public abstract bool DerivativeFromOutput { get; }

    /// <summary>True for the identity (linear), which callers skip rather than copy.</summary>
    public virtual bool IsIdentity => false;

    /// <summary>y = g(x) over rows of <paramref name="rowLength"/>; <paramref name="x"/> may be <paramref name="y"/>.</summary>
    public abstract void Forward(ReadOnlySpan<float> x, Span<float> y, int rowLength);

    /// <summary>y = g(y + bias) in place over rows of <paramref name="rowLength"/> (a layer's bias and activation in one
    /// pass); <paramref name="bias"/> is empty (no bias) or one row long.</summary>
    public abstract void AddBiasForward(Span<float> y, ReadOnlySpan<float> bias, int rowLength);

    /// <summary>dx from the output gradient <paramref name="g"/>, the input <paramref name="x"/> (empty: take it from
    /// the output, allowed where <see cref="DerivativeFromOutput"/>) and the output <paramref name="y"/>;
    /// <paramref name="dx"/> may be <paramref name="g"/>.</summary>
    public abstract void Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dx, int rowLength);

    /// <summary>Hands this kernel's element-wise operator to <paramref name="visitor"/> (its <c>Visit&lt;TOp&gt;</c> runs
    /// compiled for that operator), so a formula that mixes several activations, such as a recurrent cell, runs in one
    /// pass; false for a kernel that is not element-wise (softmax).</summary>
    public virtual bool Accept<TV>(ref TV visitor) where TV : struct, IOperatorVisitor => false;
}

/// <summary>Code compiled for one activation operator, reached through <see cref="ActivationKernel.Accept"/>.</summary>
internal interface IOperatorVisitor
{
    /// <summary>Runs with the kernel's operator.</summary>
    void Visit<TOp>(TOp op) where TOp : unmanaged, IActivationOperator;
}

/// <summary>
/// An element-wise operator run by <see cref="ActivationEngine"/>. A large pass (a convolution's output, over 2^18
/// values) is split over the two cores in the GEMM's row halves (<see cref="PerImage.RunRows"/>), so each core works on
/// the rows it has just computed; the halves are many vectors long, so the split changes no bits.
/// </summary>
internal sealed unsafe class ActivationKernel<TOp>(TOp op) : ActivationKernel where TOp : unmanaged, IActivationOperator
{
    private readonly TOp op = op;

    public override bool DerivativeFromOutput => op.DerivativeFromOutput;

    public override bool IsIdentity => typeof(TOp) == typeof(LinearOperator);

    public override bool Accept<TV>(ref TV visitor)
    {
        visitor.Visit(op);
        return true;
    }

    public override void Forward(ReadOnlySpan<float> x, Span<float> y, int rowLength)
    {
        if (IsIdentity)
        {
            if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y))) x.CopyTo(y);
            return;
        }
        fixed (float* px = x, py = y)
        {
            var job = new Job { Op = op, X = px, Y = py };
            Run(&ForwardRange, &job, y.Length, rowLength);
        }
    }

    public override void AddBiasForward(Span<float> y, ReadOnlySpan<float> bias, int rowLength)
    {
        if (bias.IsEmpty)
        {
            Forward(y, y, rowLength);
            return;
        }
        fixed (float* py = y, pb = bias)
        {
            var job = new Job { Op = op, Y = py, Bias = pb, BiasLength = bias.Length };
            Run(&AddBiasRange, &job, y.Length, rowLength);
        }
    }

    public override void Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dx, int rowLength)
    {
        if (IsIdentity)
        {
            if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(g), ref MemoryMarshal.GetReference(dx))) g.CopyTo(dx);
            return;
        }
        if (x.IsEmpty)
        {
            if (!op.DerivativeFromOutput && !y.IsEmpty) throw new InvalidOperationException("This activation's derivative needs its input, not only its output.");
            x = y;
        }
        fixed (float* pg = g, px = x, py = y, pd = dx)
        {
            var job = new Job { Op = op, G = pg, X = px, Y = py, Dx = pd };
            Run(&BackwardRange, &job, dx.Length, rowLength);
        }
    }

    /// <summary>Runs a range body over [0, length), in two row-aligned halves when the pass is large.</summary>
    private static void Run(delegate*<void*, int, int, void> body, void* job, int length, int rowLength)
    {
        if (rowLength > 0 && length % rowLength == 0) PerImage.RunRows(body, job, length / rowLength, rowLength);
        else body(job, 0, length);
    }

    private struct Job
    {
        public TOp Op;
        public float* X, Y, G, Dx, Bias;
        public int BiasLength;
    }

    private static void ForwardRange(void* state, int lo, int hi)
    {
        var j = (Job*)state;
        ActivationEngine.Forward(j->Op, new ReadOnlySpan<float>(j->X + lo, hi - lo), new Span<float>(j->Y + lo, hi - lo));
    }

    private static void AddBiasRange(void* state, int lo, int hi)
    {
        var j = (Job*)state;
        ActivationEngine.AddBiasForward(j->Op, new Span<float>(j->Y + lo, hi - lo), new ReadOnlySpan<float>(j->Bias, j->BiasLength));
    }

    private static void BackwardRange(void* state, int lo, int hi)
    {
        var j = (Job*)state;
        int n = hi - lo;
        ActivationEngine.Backward(j->Op, new ReadOnlySpan<float>(j->G + lo, n), new ReadOnlySpan<float>(j->X + lo, n),
            new ReadOnlySpan<float>(j->Y + lo, n), new Span<float>(j->Dx + lo, n));
    }
}
