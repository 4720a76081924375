using System.Numerics.Tensors;
using Cortex.Activations;
using Cortex.Autodiff;
using Cortex.Kernels;

namespace Cortex;

/// <summary>
/// The Conv2D layer's computation <c>a = g(conv(x, K) + b)</c> on NHWC images as one fused op: im2col into a scratch
/// matrix, one GEMM with the kernel viewed as (KH·KW·C) × filters (its result is already NHWC), the bias and the
/// activation applied in place, and one tape record whose backward needs only x and the output.
/// </summary>
/// <remarks>
/// Backward: dz = g ⊙ g'(y); db = Σ dz; dK = colsᵀ·dz (a GEMM with A transposed); dx = col2im(dz·Kᵀ). The im2col
/// matrix is not kept from the forward pass — it is rebuilt into the same per-thread scratch (a memory-bound copy
/// costs less than holding several megabytes per layer until backward), and dx is skipped when no tape wants it.
/// </remarks>
internal static class ConvOp
{
    private sealed class State(Window2D window, ActivationFunction activation, bool inputGrad, int groups)
    {
        public readonly Window2D Window = window;
        public readonly ActivationFunction Activation = activation;
        public readonly bool InputGrad = inputGrad;
        public readonly int Groups = groups;
    }

    [ThreadStatic] private static float[]? scratch;

    /// <summary>A per-thread buffer of at least <paramref name="length"/> floats, reused by every convolution.</summary>
    internal static float[] Scratch(int length)
    {
        var s = scratch;
        if (s == null || s.Length < length) scratch = s = GC.AllocateUninitializedArray<float>(length);
        return s;
    }

    /// <summary>y = g(conv(x, kernel) + bias) for x (N, H, W, C) and kernel (KH, KW, C / groups, F); output (N, OH, OW, F).
    /// With <paramref name="groups"/> &gt; 1 input channel group i feeds only filter group i (Keras's <c>groups</c>;
    /// DepthwiseConv2D is groups = C, its (KH, KW, C, M) kernel being the same floats as (KH, KW, 1, C·M)).</summary>
    public static Tensor Conv2D(Tensor x, Tensor kernel, Tensor? bias, in Window2D w, ActivationFunction activation, int groups = 1)
    {
        if (!activation.DerivativeFromOutput) return activation.Apply(Conv2D(x, kernel, bias, w, ActivationFunction.Linear, groups));
        int filters = Filters(kernel.Size, w, groups);
        var y = Tensor.Uninitialized([w.N, w.OH, w.OW, filters]);
        Forward(x.AsSpan(), kernel.AsSpan(), bias == null ? default : bias.AsSpan(), w, activation, filters, y.Span, default, groups);
        if (GradientTape.IsRecording)
        {
            var node = bias != null
                ? GradientTape.Record("Conv2D", y, Backward, x, kernel, bias)
                : GradientTape.Record("Conv2D", y, Backward, x, kernel);
            if (node != null) node.State = new State(w, activation, GradientTape.AnyTracks(x), groups);
        }
        return y;
    }

    /// <summary>Output channels of a kernel of <paramref name="size"/> floats, (KH, KW, C / groups, F) — or Conv1D's
    /// (K, C, F), or DepthwiseConv2D's (KH, KW, C, M) with F = C·M.</summary>
    private static int Filters(int size, in Window2D w, int groups) => size / (w.KH * w.KW * (w.C / groups));

    /// <summary>The forward computation on spans (shared with the fused training step). When <paramref name="cols"/>
    /// is given the im2col matrix is built there (and kept, for <see cref="BackwardCore"/>); otherwise in the scratch.</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, in Window2D w,
        ActivationFunction activation, int filters, Span<float> y, Span<float> cols = default, int groups = 1)
    {
        int rows = w.Rows, patch = w.Patch;
        if (groups > 1) GroupedConv.Forward(x, kernel, w, groups, filters, y, cols);
        else
        {
            ReadOnlySpan<float> a = Patches(x, w, rows, patch, cols);
            Gemm.Sgemm(false, false, rows, filters, patch, a, patch, kernel, filters, y, filters);
        }
        activation.AddBiasApplyInPlace(y, bias, filters);
    }

    /// <summary>The im2col matrix of x — or x itself for a 1×1, stride-1 window, where they are the same.</summary>
    private static ReadOnlySpan<float> Patches(ReadOnlySpan<float> x, Window2D w, int rows, int patch, Span<float> into)
    {
        if (IsPointwise(w)) return x[..(rows * patch)];
        var cols = into.IsEmpty ? Scratch(rows * patch).AsSpan(0, rows * patch) : into[..(rows * patch)];
        Im2ColKernel.Im2Col(x, w, cols);
        return cols;
    }

    private static bool IsPointwise(in Window2D w) => w.KH == 1 && w.KW == 1 && w.SH == 1 && w.SW == 1;

    private static Tensor?[] Backward(Tensor g, TapeNode node)
    {
        var s = (State)node.State!;
        Tensor x = node.Inputs[0], kernel = node.Inputs[1];
        int filters = Filters(kernel.Size, s.Window, s.Groups);
        Tensor dz = g;
        if (!s.Activation.IsLinear)
        {
            dz = Tensor.Uninitialized(g.ShapeRef);
            g.AsSpan().CopyTo(dz.Span);
            s.Activation.BackwardInPlace(dz.Span, node.Output.AsSpan(), filters);
        }
        var dk = Tensor.Uninitialized(kernel.ShapeRef);
        Tensor? db = node.Inputs.Length == 3 ? Tensor.Uninitialized([filters]) : null;
        Tensor? dx = s.InputGrad ? Tensor.Zeros(x.ShapeRef) : null;
        BackwardCore(x.AsSpan(), kernel.AsSpan(), dz.AsSpan(), s.Window, filters, dk.Span,
            db == null ? default : db.Span, dx == null ? default : dx.Span, default, s.Groups);
        return db == null ? [dx, dk] : [dx, dk, db];
    }

    /// <summary>dK, db (when not empty) and dx (when not empty; must be zeroed) from dz, the gradient before the
    /// activation. <paramref name="cols"/> is the forward's im2col matrix when kept, else it is rebuilt.</summary>
    internal static void BackwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w,
        int filters, Span<float> dk, Span<float> db, Span<float> dx, ReadOnlySpan<float> cols = default, int groups = 1)
    {
        int rows = w.Rows, patch = w.Patch;
        if (!db.IsEmpty) Reduce.Sum(dz, 1, rows, filters, db);
        if (groups > 1)
        {
            GroupedConv.Backward(x, kernel, dz, w, groups, filters, dk, dx, cols);
            return;
        }
        if (IsPointwise(w)) cols = x[..(rows * patch)];
        else if (cols.IsEmpty) cols = Patches(x, w, rows, patch, default);
        Gemm.Sgemm(true, false, patch, filters, rows, cols, patch, dz, filters, dk, filters);          // colsᵀ·dz
        if (dx.IsEmpty) return;
        if (IsPointwise(w))
        {
            Gemm.Sgemm(false, true, rows, patch, filters, dz, filters, kernel, filters, dx, patch);    // dz·Kᵀ is dx
            return;
        }
        var dcols = Scratch(rows * patch).AsSpan(0, rows * patch); // the scratch's patches are no longer needed
        Gemm.Sgemm(false, true, rows, patch, filters, dz, filters, kernel, filters, dcols, patch);      // dz·Kᵀ
        Im2ColKernel.Col2Im(dcols, w, dx);
    }
}

/// <summary>Max and average pooling on NHWC images, forward and backward (<see cref="PoolKernel"/>).</summary>
internal static class PoolOp
{
    public static Tensor MaxPool2D(Tensor x, in Window2D w)
    {
        var y = Tensor.Uninitialized([w.N, w.OH, w.OW, w.C]);
        PoolKernel.MaxForward(x.AsSpan(), w, y.Span);
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("MaxPool2D", y, static (g, n) =>
            {
                var dx = Tensor.Zeros(n.X.ShapeRef);
                PoolKernel.MaxBackward(n.X.AsSpan(), n.Output.AsSpan(), g.AsSpan(), (Window2D)n.State!, dx.Span);
                return [dx];
            }, x);
            if (node != null) node.State = w;
        }
        return y;
    }

    public static Tensor AveragePool2D(Tensor x, in Window2D w)
    {
        var y = Tensor.Uninitialized([w.N, w.OH, w.OW, w.C]);
        PoolKernel.AverageForward(x.AsSpan(), w, y.Span);
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record("AveragePool2D", y, static (g, n) =>
            {
                var dx = Tensor.Zeros(n.X.ShapeRef);
                PoolKernel.AverageBackward(g.AsSpan(), (Window2D)n.State!, dx.Span);
                return [dx];
            }, x);
            if (node != null) node.State = w;
        }
        return y;
    }
}
