using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Cortex.Activations;
using Cortex.Autodiff;
using Cortex.Kernels;

namespace Cortex;

/// <summary>
/// Grouped convolution (Keras's <c>Conv2D(groups)</c>, and <c>DepthwiseConv2D</c> as groups = input channels) on the
/// same im2col and GEMM kernels as <see cref="ConvOp"/>: each group's input channels are copied out contiguous, turned
/// into that group's im2col matrix, and multiplied by the group's columns of the kernel, the result written straight
/// into the group's columns of the NHWC output (the GEMM's leading dimensions do the slicing, so nothing is copied back).
/// </summary>
/// <remarks>
/// The kernel is (KH, KW, C / groups, F), viewed as (KH·KW·C/groups) × F; group i uses columns [i·F/g, (i+1)·F/g).
/// Depthwise's (KH, KW, C, M) kernel is the same floats as (KH, KW, 1, C·M), with channel c's M filters consecutive.
/// One group per channel takes an element-wise path over the whole im2col matrix instead (see DepthwiseForward).
/// Nothing here allocates: the copies live in <see cref="ConvOp.Scratch"/>, or in the caller's <c>cols</c>.
/// </remarks>
internal static class GroupedConv
{
    /// <summary>y (rows × F, overwritten) = each group's conv, no bias or activation. When <paramref name="cols"/> is
    /// given (rows·KH·KW·C floats) each group's im2col matrix is kept there, group after group, for <see cref="Backward"/>.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, in Window2D w, int groups, int filters,
        Span<float> y, Span<float> cols)
    {
        if (groups == w.C)
        {
            DepthwiseForward(x, kernel, w, filters / groups, y, cols);
            return;
        }
        var (wg, pixels, groupIn, groupCols, fg) = Geometry(w, groups, filters);
        bool keep = !cols.IsEmpty;
        var scratch = ConvOp.Scratch(groupIn + (keep ? 0 : groupCols));
        Span<float> xg = scratch.AsSpan(0, groupIn);
        for (int g = 0; g < groups; g++)
        {
            Span<float> c = keep ? cols.Slice(g * groupCols, groupCols) : scratch.AsSpan(groupIn, groupCols);
            Gather(x, pixels, w.C, g * wg.C, wg.C, xg);
            Im2ColKernel.Im2Col(xg, wg, c);
            Gemm.Sgemm(false, false, w.Rows, fg, wg.Patch, c, wg.Patch, kernel[(g * fg)..], filters, y[(g * fg)..], filters);
        }
    }

    /// <summary>dK (overwritten) and, when not empty, dx (overwritten) from dz, the gradient before the bias and
    /// activation; <paramref name="cols"/> is the forward's kept im2col matrices, or empty to rebuild them.</summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w,
        int groups, int filters, Span<float> dk, Span<float> dx, ReadOnlySpan<float> cols)
    {
        if (groups == w.C)
        {
            DepthwiseBackward(x, kernel, dz, w, filters / groups, dk, dx, cols);
            return;
        }
        var (wg, pixels, groupIn, groupCols, fg) = Geometry(w, groups, filters);
        bool keep = !cols.IsEmpty, inputGrad = !dx.IsEmpty;
        int rebuild = keep ? 0 : groupIn + groupCols, patch = wg.Patch, rows = w.Rows;
        var scratch = ConvOp.Scratch(rebuild + (inputGrad ? groupCols + groupIn : 0));
        Span<float> dcols = inputGrad ? scratch.AsSpan(rebuild, groupCols) : default;
        Span<float> dxg = inputGrad ? scratch.AsSpan(rebuild + groupCols, groupIn) : default;
        for (int g = 0; g < groups; g++)
        {
            ReadOnlySpan<float> c;
            if (keep) c = cols.Slice(g * groupCols, groupCols);
            else
            {
                Span<float> xg = scratch.AsSpan(0, groupIn), built = scratch.AsSpan(groupIn, groupCols);
                Gather(x, pixels, w.C, g * wg.C, wg.C, xg);
                Im2ColKernel.Im2Col(xg, wg, built);
                c = built;
            }
            Gemm.Sgemm(true, false, patch, fg, rows, c, patch, dz[(g * fg)..], filters, dk[(g * fg)..], filters);        // colsᵀ·dz
            if (!inputGrad) continue;
            Gemm.Sgemm(false, true, rows, patch, fg, dz[(g * fg)..], filters, kernel[(g * fg)..], filters, dcols, patch);  // dz·Kᵀ
            dxg.Clear();
            Im2ColKernel.Col2Im(dcols, wg, dxg);
            Scatter(dxg, pixels, w.C, g * wg.C, wg.C, dx);
        }
    }

    /// <summary>
    /// One group per channel (depthwise, M filters each): the whole image's im2col matrix — one block copy per kernel
    /// row, as for Conv2D — and then, per output pixel and tap, the tap's C values times the kernel's C·M, element-wise.
    /// (As C GEMMs of one or a few columns each, a 3×3 depthwise step on 64×28×28×32 took 2.3× as long as the full
    /// 32→32 convolution; element-wise it is a fraction of it.) <paramref name="cols"/> keeps the matrix when given.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DepthwiseForward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, in Window2D w, int m, Span<float> y, Span<float> cols)
    {
        int rows = w.Rows, patch = w.Patch, c = w.C, taps = w.KH * w.KW, f = c * m;
        Span<float> col = cols.IsEmpty ? ConvOp.Scratch(rows * patch).AsSpan(0, rows * patch) : cols[..(rows * patch)];
        Im2ColKernel.Im2Col(x, w, col);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> cr = col.Slice(r * patch, patch);
            Span<float> yr = y.Slice(r * f, f);
            if (m == 1)
            {
                TensorPrimitives.Multiply(cr[..c], kernel[..c], yr);
                for (int t = 1; t < taps; t++) TensorPrimitives.MultiplyAdd(cr.Slice(t * c, c), kernel.Slice(t * c, c), yr, yr);
                continue;
            }
            // Several filters per channel: a few values per call, so plain loops (a span call each cost 5× as much).
            yr.Clear();
            for (int t = 0, k = 0; t < taps; t++)
                for (int ch = 0, o = 0; ch < c; ch++)
                {
                    float v = cr[t * c + ch];
                    for (int j = 0; j < m; j++, k++, o++) yr[o] += v * kernel[k];
                }
        }
    }

    /// <summary>The depthwise backward: dK summed over the pixels tap by tap, dcols = dz times the kernel, col2im into dx.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DepthwiseBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w, int m,
        Span<float> dk, Span<float> dx, ReadOnlySpan<float> cols)
    {
        int rows = w.Rows, patch = w.Patch, c = w.C, taps = w.KH * w.KW, f = c * m, size = rows * patch;
        bool keep = !cols.IsEmpty;
        var scratch = ConvOp.Scratch((keep ? 0 : size) + (dx.IsEmpty ? 0 : size));
        ReadOnlySpan<float> col = cols;
        if (!keep)
        {
            Im2ColKernel.Im2Col(x, w, scratch.AsSpan(0, size));
            col = scratch.AsSpan(0, size);
        }
        dk[..(patch * m)].Clear();
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> cr = col.Slice(r * patch, patch), dr = dz.Slice(r * f, f);
            if (m == 1)
            {
                for (int t = 0; t < taps; t++) TensorPrimitives.MultiplyAdd(cr.Slice(t * c, c), dr, dk.Slice(t * c, c), dk.Slice(t * c, c));
                continue;
            }
            for (int t = 0, k = 0; t < taps; t++)
                for (int ch = 0, o = 0; ch < c; ch++)
                {
                    float v = cr[t * c + ch];
                    for (int j = 0; j < m; j++, k++, o++) dk[k] += v * dr[o];
                }
        }
        if (dx.IsEmpty) return;
        Span<float> dcols = scratch.AsSpan(keep ? 0 : size, size);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> dr = dz.Slice(r * f, f);
            Span<float> dc = dcols.Slice(r * patch, patch);
            for (int t = 0; t < taps; t++)
            {
                if (m == 1) { TensorPrimitives.Multiply(dr, kernel.Slice(t * c, c), dc.Slice(t * c, c)); continue; }
                for (int ch = 0, o = 0, k = t * c * m; ch < c; ch++)
                {
                    float sum = 0;
                    for (int j = 0; j < m; j++, k++, o++) sum += dr[o] * kernel[k];
                    dc[t * c + ch] = sum;
                }
            }
        }
        dx[..(w.N * w.H * w.W * c)].Clear();
        Im2ColKernel.Col2Im(dcols, w, dx);
    }

    private static (Window2D Group, int Pixels, int GroupIn, int GroupCols, int GroupFilters) Geometry(in Window2D w, int groups, int filters)
    {
        var wg = w with { C = w.C / groups };
        int pixels = w.N * w.H * w.W;
        return (wg, pixels, pixels * wg.C, w.Rows * wg.Patch, filters / groups);
    }

    /// <summary>dst (pixels × width) = channels [offset, offset + width) of each pixel of x (pixels × channels).</summary>
    private static void Gather(ReadOnlySpan<float> x, int pixels, int channels, int offset, int width, Span<float> dst)
    {
        if (width == 1) { for (int p = 0; p < pixels; p++) dst[p] = x[p * channels + offset]; return; }
        for (int p = 0; p < pixels; p++) x.Slice(p * channels + offset, width).CopyTo(dst.Slice(p * width, width));
    }

    /// <summary>Channels [offset, offset + width) of each pixel of dx = src (pixels × width); <see cref="Gather"/>'s inverse.</summary>
    private static void Scatter(ReadOnlySpan<float> src, int pixels, int channels, int offset, int width, Span<float> dx)
    {
        if (width == 1) { for (int p = 0; p < pixels; p++) dx[p * channels + offset] = src[p]; return; }
        for (int p = 0; p < pixels; p++) src.Slice(p * width, width).CopyTo(dx.Slice(p * channels + offset, width));
    }
}

/// <summary>
/// The transposed convolution of Keras's <c>Conv2DTranspose</c>: the input gradient of a convolution, run forward.
/// With <c>g</c> the window of the convolution that maps the output image y (N, OH, OW, F) to the input x (N, H, W, C)
/// — so g.H, g.W are the output's size and g.OH, g.OW the input's — the forward is <c>y = col2im(x·Kᵀ)</c> with the
/// kernel (KH, KW, F, C) viewed as (KH·KW·F) × C; the backward is <c>dcols = im2col(dy)</c>, <c>dx = dcols·K</c>,
/// <c>dK = dcolsᵀ·x</c> — the same im2col, col2im and GEMM kernels as <see cref="ConvOp"/>, roles swapped.
/// </summary>
internal static class ConvTransposeOp
{
    private sealed class State(Window2D window, ActivationFunction activation, bool inputGrad)
    {
        public readonly Window2D Window = window;
        public readonly ActivationFunction Activation = activation;
        public readonly bool InputGrad = inputGrad;
    }

    /// <summary>y = g(convᵀ(x, kernel) + bias), x (N, H, W, C), kernel (KH, KW, F, C); output (N, g.H, g.W, F).</summary>
    public static Tensor Conv2DTranspose(Tensor x, Tensor kernel, Tensor? bias, in Window2D g, ActivationFunction activation)
    {
        if (!activation.DerivativeFromOutput) return activation.Apply(Conv2DTranspose(x, kernel, bias, g, ActivationFunction.Linear));
        var y = Tensor.Uninitialized([g.N, g.H, g.W, g.C]);
        Forward(x.AsSpan(), kernel.AsSpan(), bias == null ? default : bias.AsSpan(), g, activation, y.Span);
        if (GradientTape.IsRecording)
        {
            var node = bias != null
                ? GradientTape.Record("Conv2DTranspose", y, Backward, x, kernel, bias)
                : GradientTape.Record("Conv2DTranspose", y, Backward, x, kernel);
            if (node != null) node.State = new State(g, activation, GradientTape.AnyTracks(x));
        }
        return y;
    }

    /// <summary>The forward on spans (shared with the fused training step); y is overwritten.</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, in Window2D g,
        ActivationFunction activation, Span<float> y)
    {
        int rows = g.Rows, patch = g.Patch, inputs = kernel.Length / patch;
        var cols = ConvOp.Scratch(rows * patch).AsSpan(0, rows * patch);
        Gemm.Sgemm(false, true, rows, patch, inputs, x, inputs, kernel, inputs, cols, patch);    // x·Kᵀ
        Span<float> out_ = y[..(g.N * g.H * g.W * g.C)];
        out_.Clear();
        Im2ColKernel.Col2Im(cols, g, out_);
        activation.AddBiasApplyInPlace(out_, bias, g.C);
    }

    private static Tensor?[] Backward(Tensor grad, TapeNode node)
    {
        var s = (State)node.State!;
        Tensor x = node.Inputs[0], kernel = node.Inputs[1];
        Tensor dz = grad;
        if (!s.Activation.IsLinear)
        {
            dz = Tensor.Uninitialized(grad.ShapeRef);
            grad.AsSpan().CopyTo(dz.Span);
            s.Activation.BackwardInPlace(dz.Span, node.Output.AsSpan(), s.Window.C);
        }
        var dk = Tensor.Uninitialized(kernel.ShapeRef);
        Tensor? db = node.Inputs.Length == 3 ? Tensor.Uninitialized([s.Window.C]) : null;
        Tensor? dx = s.InputGrad ? Tensor.Uninitialized(x.ShapeRef) : null;
        BackwardCore(x.AsSpan(), kernel.AsSpan(), dz.AsSpan(), s.Window, dk.Span, db == null ? default : db.Span, dx == null ? default : dx.Span);
        return db == null ? [dx, dk] : [dx, dk, db];
    }

    /// <summary>dK, db (when not empty) and dx (when not empty), all overwritten, from dz, the gradient before the activation.</summary>
    internal static void BackwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D g,
        Span<float> dk, Span<float> db, Span<float> dx)
    {
        int rows = g.Rows, patch = g.Patch, inputs = kernel.Length / patch;
        if (!db.IsEmpty) Reduce.Sum(dz, 1, g.N * g.H * g.W, g.C, db);
        var dcols = ConvOp.Scratch(rows * patch).AsSpan(0, rows * patch);
        Im2ColKernel.Im2Col(dz, g, dcols);
        Gemm.Sgemm(true, false, patch, inputs, rows, dcols, patch, x, inputs, dk, inputs);       // dcolsᵀ·x
        if (!dx.IsEmpty) Gemm.Sgemm(false, false, rows, inputs, patch, dcols, patch, kernel, inputs, dx, inputs); // dcols·K
    }
}
