using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Cortex.Kernels;

/// <summary>
/// The geometry of a 2-D window sliding over NHWC images — shared by convolution and pooling: input and output sizes,
/// the window, strides, dilation and the padding before the first row and column.
/// </summary>
/// <remarks>
/// Keras's <c>"same"</c> padding gives <c>ceil(in / stride)</c> outputs and pads
/// <c>max((out − 1)·stride + (k − 1)·dilation + 1 − in, 0)</c> in all, half (rounded down) before and the rest after —
/// so with an even total and stride 2 the extra row and column go at the bottom and right, as TensorFlow does.
/// </remarks>
internal readonly record struct Window2D(int N, int H, int W, int C, int KH, int KW, int SH, int SW, int DH, int DW,
    int PadTop, int PadLeft, int OH, int OW)
{
    /// <summary>The geometry, or null when a <c>"valid"</c> window (its dilated extent) is larger than the input.</summary>
    public static Window2D? Create(int n, int h, int w, int c, int kh, int kw, int sh, int sw, int dh, int dw, bool same)
    {
        int eh = (kh - 1) * dh + 1, ew = (kw - 1) * dw + 1; // the dilated window's extent
        if (same)
        {
            int oh = (h + sh - 1) / sh, ow = (w + sw - 1) / sw;
            int ph = Math.Max((oh - 1) * sh + eh - h, 0), pw = Math.Max((ow - 1) * sw + ew - w, 0);
            return new Window2D(n, h, w, c, kh, kw, sh, sw, dh, dw, ph / 2, pw / 2, oh, ow);
        }
        if (eh > h || ew > w) return null;
        return new Window2D(n, h, w, c, kh, kw, sh, sw, dh, dw, 0, 0, (h - eh) / sh + 1, (w - ew) / sw + 1);
    }

    /// <summary>Keras's <c>"causal"</c> window over (N, 1, W, C) sequences: all the padding, (kw − 1)·dw, on the left,
    /// so output t sees inputs up to t only; ceil(w / sw) outputs.</summary>
    public static Window2D Causal(int n, int w, int c, int kw, int sw, int dw) =>
        new(n, 1, w, c, 1, kw, 1, sw, 1, dw, 0, (kw - 1) * dw, 1, (w + sw - 1) / sw);

    /// <summary>Output pixels over the whole batch: the row count of the im2col matrix.</summary>
    public int Rows => N * OH * OW;

    /// <summary>Values one window covers: the column count of the im2col matrix and the kernel's row count.</summary>
    public int Patch => KH * KW * C;
}

/// <summary>
/// Convolution as a matrix product: <see cref="Im2Col"/> copies each output pixel's receptive field into one row of a
/// (N·OH·OW) × (KH·KW·C) matrix, so the convolution is that matrix times the kernel viewed as (KH·KW·C) × filters —
/// one GEMM whose result is already the NHWC output. <see cref="Col2Im"/> is its adjoint, for the input gradient.
/// </summary>
/// <remarks>
/// Channels-last makes the copies long: with dilation 1 a whole kernel row (KW·C values) is contiguous in the input,
/// so a row of the patch is one block copy when it lies inside the image, and only the border pixels take the
/// per-pixel path. Nothing here allocates.
/// </remarks>
internal static unsafe class Im2ColKernel
{
    /// <summary>Copies each output pixel's receptive field into one row of <paramref name="cols"/>
    /// ((N·OH·OW) × (KH·KW·C)); the images of a large batch are split over two cores.</summary>
    public static void Im2Col(ReadOnlySpan<float> x, in Window2D g, Span<float> cols)
    {
        fixed (float* px = x, pc = cols)
        {
            var job = new PerImage.Job { A = px, Out = pc, G = g, Kind = PerImage.Kernel.Im2Col };
            PerImage.Run(ref job, (long)g.OH * g.OW * g.Patch);
        }
    }

    internal static void Im2ColImages(float* x, float* cols, in Window2D g) =>
        Im2ColSerial(new ReadOnlySpan<float>(x, g.N * g.H * g.W * g.C), g, new Span<float>(cols, g.Rows * g.Patch), 0, g.N * g.OH);

    /// <summary>The rows of the im2col matrix for output rows [u0, u1) of the batch — output row u being row u mod OH of
    /// image u / OH, OW matrix rows — into <paramref name="cols"/> ((u1 − u0)·OW × patch), on this thread.</summary>
    internal static void Im2ColOutputRows(float* x, float* cols, in Window2D g, int u0, int u1) =>
        Im2ColSerial(new ReadOnlySpan<float>(x, g.N * g.H * g.W * g.C), g, new Span<float>(cols, (u1 - u0) * g.OW * g.Patch), u0, u1);

    /// <summary>dx += the patches of <paramref name="cols"/> scattered back to where <c>Im2Col</c>
    /// read them (overlapping windows add up). <paramref name="dx"/> must start zeroed. Split over two cores by image.</summary>
    public static void Col2Im(ReadOnlySpan<float> cols, in Window2D g, Span<float> dx)
    {
        fixed (float* pc = cols, pd = dx)
        {
            var job = new PerImage.Job { A = pc, Out = pd, G = g, Kind = PerImage.Kernel.Col2Im };
            PerImage.Run(ref job, (long)g.OH * g.OW * g.Patch);
        }
    }

    internal static void Col2ImImages(float* cols, float* dx, in Window2D g) =>
        Col2ImSerial(new ReadOnlySpan<float>(cols, g.Rows * g.Patch), g, new Span<float>(dx, g.N * g.H * g.W * g.C), 0, g.N * g.OH);

    /// <summary>Col2Im of the im2col rows for output rows [u0, u1) of the batch (see <see cref="Im2ColOutputRows"/>),
    /// added into the whole batch's <paramref name="dx"/>, on this thread.</summary>
    internal static void Col2ImOutputRows(float* cols, float* dx, in Window2D g, int u0, int u1) =>
        Col2ImSerial(new ReadOnlySpan<float>(cols, (u1 - u0) * g.OW * g.Patch), g, new Span<float>(dx, g.N * g.H * g.W * g.C), u0, u1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Im2ColSerial(ReadOnlySpan<float> x, in Window2D g, Span<float> cols, int u0, int u1)
    {
        int c = g.C, rowLen = g.KW * c, patch = g.Patch;
        int r = 0;
        for (int u = u0; u < u1; u++)
        {
            int n = u / g.OH, oy = u - n * g.OH;
            for (int ox = 0; ox < g.OW; ox++, r++)
            {
                Span<float> dst = cols.Slice(r * patch, patch);
                int ix0 = ox * g.SW - g.PadLeft;
                bool rowInside = g.DW == 1 && ix0 >= 0 && ix0 + g.KW <= g.W;
                for (int ky = 0; ky < g.KH; ky++)
                {
                    Span<float> d = dst.Slice(ky * rowLen, rowLen);
                    int iy = oy * g.SH - g.PadTop + ky * g.DH;
                    if ((uint)iy >= (uint)g.H) { d.Clear(); continue; }
                    int rowBase = (n * g.H + iy) * g.W;
                    if (rowInside)
                    {
                        ReadOnlySpan<float> src = x.Slice((rowBase + ix0) * c, rowLen);
                        // A first layer's rows are a few values (3 for a 3×3 kernel on one channel): a plain loop
                        // beats a block copy's call there (im2col of 64×28×28×1: 0.50 → 0.3 ms).
                        if (rowLen <= 8) for (int i = 0; i < src.Length; i++) d[i] = src[i];
                        else src.CopyTo(d);
                        continue;
                    }
                    for (int kx = 0; kx < g.KW; kx++)
                    {
                        int ix = ix0 + kx * g.DW;
                        Span<float> dd = d.Slice(kx * c, c);
                        if ((uint)ix >= (uint)g.W) dd.Clear();
                        else x.Slice((rowBase + ix) * c, c).CopyTo(dd);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The im2col rows for output rows [u0, u1) written transposed: patch value v of matrix row r at
    /// <c>colsT[v·ld + r]</c> (ld ≥ (u1 − u0)·OW), for <c>Sgemm</c> with A transposed. For a first layer's few channels
    /// (a 3×3 window on one channel: 9 values a row) this is one strided copy of an input row per (patch value, output
    /// row) instead of nine one-float copies per pixel; the product's bits are the same either way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Im2ColTransposed(float* x, float* colsT, nint ld, in Window2D g, int u0, int u1)
    {
        int c = g.C, ow = g.OW;
        for (int ky = 0; ky < g.KH; ky++)
            for (int kx = 0; kx < g.KW; kx++)
                for (int ch = 0; ch < c; ch++)
                {
                    float* dst = colsT + ((ky * g.KW + kx) * c + ch) * ld;
                    // Output columns whose input column lies inside the image: [oxLo, oxHi).
                    int shift = kx * g.DW - g.PadLeft;
                    int oxLo = Math.Max(0, (-shift + g.SW - 1) / g.SW), oxHi = Math.Min(ow, (g.W - 1 - shift) / g.SW + 1);
                    if (g.W - 1 - shift < 0) oxHi = 0;
                    for (int u = u0; u < u1; u++, dst += ow)
                    {
                        int n = u / g.OH, oy = u - n * g.OH;
                        int iy = oy * g.SH - g.PadTop + ky * g.DH;
                        if ((uint)iy >= (uint)g.H || oxHi <= oxLo)
                        {
                            new Span<float>(dst, ow).Clear();
                            continue;
                        }
                        float* src = x + ((long)(n * g.H + iy) * g.W + shift) * c + ch;
                        for (int ox = 0; ox < oxLo; ox++) dst[ox] = 0f;
                        if (c == 1 && g.SW == 1) new ReadOnlySpan<float>(src + oxLo, oxHi - oxLo).CopyTo(new Span<float>(dst + oxLo, oxHi - oxLo));
                        else for (int ox = oxLo; ox < oxHi; ox++) dst[ox] = src[(long)ox * g.SW * c];
                        for (int ox = oxHi; ox < ow; ox++) dst[ox] = 0f;
                    }
                }
    }

    /// <summary>dx += the patches of <paramref name="cols"/> scattered back to where <see cref="Im2Col"/> read them
    /// (overlapping windows add up). <paramref name="dx"/> must start zeroed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Col2ImSerial(ReadOnlySpan<float> cols, in Window2D g, Span<float> dx, int u0, int u1)
    {
        int c = g.C, rowLen = g.KW * c, patch = g.Patch;
        int r = 0;
        for (int u = u0; u < u1; u++)
        {
            int n = u / g.OH, oy = u - n * g.OH;
            for (int ox = 0; ox < g.OW; ox++, r++)
            {
                ReadOnlySpan<float> src = cols.Slice(r * patch, patch);
                int ix0 = ox * g.SW - g.PadLeft;
                bool rowInside = g.DW == 1 && ix0 >= 0 && ix0 + g.KW <= g.W;
                for (int ky = 0; ky < g.KH; ky++)
                {
                    int iy = oy * g.SH - g.PadTop + ky * g.DH;
                    if ((uint)iy >= (uint)g.H) continue;
                    ReadOnlySpan<float> s = src.Slice(ky * rowLen, rowLen);
                    int rowBase = (n * g.H + iy) * g.W;
                    if (rowInside)
                    {
                        Span<float> d = dx.Slice((rowBase + ix0) * c, rowLen);
                        TensorPrimitives.Add(d, s, d);
                        continue;
                    }
                    for (int kx = 0; kx < g.KW; kx++)
                    {
                        int ix = ix0 + kx * g.DW;
                        if ((uint)ix >= (uint)g.W) continue;
                        Span<float> d = dx.Slice((rowBase + ix) * c, c);
                        TensorPrimitives.Add(d, s.Slice(kx * c, c), d);
                    }
                }
            }
        }
    }
}

/// <summary>
/// Max and average pooling over NHWC images, vectorised across channels (each pixel's C values are contiguous).
/// Padding is never read: max pooling ignores it (as −∞ would) and average pooling divides by the number of real
/// pixels in the window, as Keras's <c>"same"</c> average pooling does.
/// </summary>
internal static unsafe class PoolKernel
{
    /// <summary>y = the maximum of each window, per channel. Split over two cores by image.</summary>
    public static void MaxForward(ReadOnlySpan<float> x, in Window2D g, Span<float> y) => Run(PerImage.Kernel.MaxForward, x, default, default, g, y);

    /// <summary>dx (overwritten: each core clears its images' part) = each output's gradient added at the first position of its window that holds the maximum.
    /// Split over two cores by image.</summary>
    public static void MaxBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, in Window2D g, Span<float> dx) =>
        Run(PerImage.Kernel.MaxBackward, x, y, dy, g, dx);

    /// <summary>y = the mean of each window's real pixels. Split over two cores by image.</summary>
    public static void AverageForward(ReadOnlySpan<float> x, in Window2D g, Span<float> y) => Run(PerImage.Kernel.AverageForward, x, default, default, g, y);

    /// <summary>dx (overwritten: each core clears its images' part) = each output's gradient spread evenly over its window. Split over two cores by image.</summary>
    public static void AverageBackward(ReadOnlySpan<float> dy, in Window2D g, Span<float> dx) => Run(PerImage.Kernel.AverageBackward, default, default, dy, g, dx);

    private static void Run(PerImage.Kernel kernel, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, in Window2D g, Span<float> output)
    {
        fixed (float* px = x, py = y, pdy = dy, po = output)
        {
            var job = new PerImage.Job { A = px, B = py, C = pdy, Out = po, G = g, Kind = kernel };
            PerImage.Run(ref job, (long)g.H * g.W * g.C);
        }
    }

    /// <summary>Whether the windows tile the input without overlap and without padding (a 2×2 pooling with stride 2,
    /// the common case): each input pixel is then in at most one window, so max pooling's backward writes the input
    /// gradient whole (the pixels past the last window get zeros) instead of clearing it and adding into it.</summary>
    internal static bool Tiles(in Window2D g) =>
        g.SH == g.KH && g.SW == g.KW && g.DH == 1 && g.DW == 1 && g.PadTop == 0 && g.PadLeft == 0 && g.OH * g.KH <= g.H && g.OW * g.KW <= g.W;

    /// <summary>Images [0, g.N) of a per-image job, serially (pointers already offset to the first image).</summary>
    internal static void Serial(PerImage.Kernel kernel, float* x, float* y, float* dy, float* output, in Window2D g)
    {
        int inSize = g.N * g.H * g.W * g.C, outSize = g.N * g.OH * g.OW * g.C;
        switch (kernel)
        {
            case PerImage.Kernel.MaxForward when Tiles(g):
                ForWidths(new TiledMax { X = x, Y = output, G = g }, g.C);
                break;
            case PerImage.Kernel.MaxBackward when Tiles(g):
                ForWidths(new TiledMaxGradient<Activations.LinearOperator> { X = x, Y = y, Dy = dy, Dx = output, G = g }, g.C);
                break;
            case PerImage.Kernel.MaxForward:
                MaxForwardSerial(new ReadOnlySpan<float>(x, inSize), g, new Span<float>(output, outSize));
                break;
            case PerImage.Kernel.MaxBackward:
                MaxBackwardSerial(new ReadOnlySpan<float>(x, inSize), new ReadOnlySpan<float>(y, outSize), new ReadOnlySpan<float>(dy, outSize), g,
                    new Span<float>(output, inSize));
                break;
            case PerImage.Kernel.AverageForward:
                AverageForwardSerial(new ReadOnlySpan<float>(x, inSize), g, new Span<float>(output, outSize));
                break;
            default:
                AverageBackwardSerial(new ReadOnlySpan<float>(dy, outSize), g, new Span<float>(output, inSize));
                break;
        }
    }

    /// <summary>A pass over the images for the channels [c0, c1), one vector width's lanes at a time.</summary>
    private interface IChannelPass
    {
        void Run<L>(int c0, int c1) where L : unmanaged, ILanes<L>;
    }

    /// <summary>Runs <paramref name="pass"/> on the channels the widest accelerated width covers, then narrower ones,
    /// then one at a time (the same values at every width: maxima and selections are exact).</summary>
    private static void ForWidths<T>(T pass, int c) where T : struct, IChannelPass
    {
        int c0 = 0;
        if (Vector512.IsHardwareAccelerated && c >= 16) { int c1 = c - c % 16; pass.Run<Lanes512>(c0, c1); c0 = c1; }
        if (Vector256.IsHardwareAccelerated && c - c0 >= 8) { int c1 = c0 + (c - c0) / 8 * 8; pass.Run<Lanes256>(c0, c1); c0 = c1; }
        if (Vector128.IsHardwareAccelerated && c - c0 >= 4) { int c1 = c0 + (c - c0) / 4 * 4; pass.Run<Lanes128>(c0, c1); c0 = c1; }
        if (c0 < c) pass.Run<ScalarLane>(c0, c);
    }

    /// <summary>Max pooling over non-overlapping windows (<see cref="Tiles"/>).</summary>
    private struct TiledMax : IChannelPass
    {
        public float* X, Y;
        public Window2D G;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run<L>(int c0, int c1) where L : unmanaged, ILanes<L>
        {
            Window2D g = G;   // in locals: the stores below might otherwise make the JIT reload the geometry
            int c = g.C, kh = g.KH, kw = g.KW;
            long row = (long)g.W * c, pixel = c;
            float* y = Y;
            for (int n = 0; n < g.N; n++)
                for (int oy = 0; oy < g.OH; oy++)
                {
                    float* top = X + ((long)(n * g.H + oy * kh) * g.W) * c;
                    for (int ox = 0; ox < g.OW; ox++, y += c)
                    {
                        float* window = top + (long)ox * kw * pixel;
                        for (int ch = c0; ch < c1; ch += L.Count)
                        {
                            L m = L.Broadcast(float.NegativeInfinity);
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                    m = L.Max(m, L.Load(window + i * row + j * pixel + ch));
                            m.Store(y + ch);
                        }
                    }
                }
        }
    }

    /// <summary>Max pooling's backward over non-overlapping windows (<see cref="Tiles"/>): each window's first
    /// position holding the maximum gets the output's gradient, its other positions +0, and the pixels no window
    /// covers +0; dx is written whole, never read.</summary>
    private struct TiledMaxGradient<TOp> : IChannelPass where TOp : unmanaged, Activations.IActivationOperator
    {
        public float* X, Y, Dy, Dx;
        public Window2D G;
        public TOp Then;   // the gradient of the activation before the pooling, applied as dx is written (LinearOperator: none)

        /// <summary>A pixel outside every window: g'(0), what the activation's pass makes of the pooling's zero.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Outside<L>(long at, L zero) where L : unmanaged, ILanes<L>
        {
            if (typeof(TOp) == typeof(Activations.LinearOperator)) zero.Store(Dx + at);
            else
            {
                L x = L.Load(X + at);
                L.ActivationGradient(Then, zero, x, x).Store(Dx + at);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run<L>(int c0, int c1) where L : unmanaged, ILanes<L>
        {
            Window2D g = G;
            int c = g.C, kh = g.KH, kw = g.KW;
            long row = (long)g.W * c, pixel = c, o = 0;
            L all = L.Broadcast(BitConverter.Int32BitsToSingle(-1)), zero = L.Broadcast(0f);
            for (int n = 0; n < g.N; n++)
            {
                for (int oy = 0; oy < g.OH; oy++)
                {
                    long top = ((long)(n * g.H + oy * kh) * g.W) * c;
                    for (int ox = 0; ox < g.OW; ox++, o += c)
                    {
                        long window = top + (long)ox * kw * pixel;
                        for (int ch = c0; ch < c1; ch += L.Count)
                        {
                            L m = L.Load(Y + o + ch), grad = L.Load(Dy + o + ch), pending = all;
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    long at = window + i * row + j * pixel + ch;
                                    L x = L.Load(X + at);
                                    L.ActivationGradient(Then, L.RouteMax(x, m, grad, ref pending), x, x).Store(Dx + at);
                                }
                        }
                    }
                    // The columns right of the last window, in this band of rows.
                    for (int i = 0; i < kh; i++)
                        for (long at = top + i * row + (long)g.OW * kw * pixel; at < top + (i + 1) * row; at += pixel)
                            for (int ch = c0; ch < c1; ch += L.Count) Outside<L>(at + ch, zero);
                }
                // The rows below the last band.
                for (long at = ((long)(n * g.H + g.OH * kh) * g.W) * c; at < (long)(n + 1) * g.H * g.W * c; at += pixel)
                    for (int ch = c0; ch < c1; ch += L.Count) Outside<L>(at + ch, zero);
            }
        }
    }

    /// <summary>
    /// Max pooling's backward over non-overlapping windows followed by the gradient of the activation that produced
    /// its input (x, the pooling's input, is that activation's output): dx = g'(routed gradient) as one pass, the same
    /// values the two passes give one after the other. A training step runs a convolution's ReLU and its pooling's
    /// backward this way (<c>PoolStage.TryTakeActivationGradient</c>). False (nothing written) when the windows overlap or the
    /// activation is not element-wise or needs its input.
    /// </summary>
    public static bool MaxBackwardThen(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, in Window2D g, Span<float> dx,
        Activations.ActivationFunction activation)
    {
        if (!TakesActivation(g, activation)) return false;
        fixed (float* px = x, py = y, pdy = dy, pdx = dx)
        {
            var visitor = new ThenVisitor { X = px, Y = py, Dy = pdy, Dx = pdx, G = g };
            return activation.Kernel.Accept(ref visitor);
        }
    }

    /// <summary>Whether <see cref="MaxBackwardThen"/> serves these windows and this activation: non-overlapping
    /// windows, and an element-wise activation (not the identity, not softmax) whose derivative comes from its output.</summary>
    public static bool TakesActivation(in Window2D g, Activations.ActivationFunction activation)
    {
        var probe = new ElementWise();
        return Tiles(g) && !activation.IsLinear && activation.DerivativeFromOutput && activation.Kernel.Accept(ref probe);
    }

    /// <summary>Accepted only by an element-wise activation's kernel.</summary>
    private struct ElementWise : Activations.IOperatorVisitor
    {
        public readonly void Visit<TOp>(TOp op) where TOp : unmanaged, Activations.IActivationOperator { }
    }

    private struct ThenVisitor : Activations.IOperatorVisitor
    {
        public float* X, Y, Dy, Dx;
        public Window2D G;

        public readonly void Visit<TOp>(TOp op) where TOp : unmanaged, Activations.IActivationOperator
        {
            var pass = new TiledMaxGradient<TOp> { X = X, Y = Y, Dy = Dy, Dx = Dx, G = G, Then = op };
            PerImage.Images(&ThenImages<TOp>, &pass, G.N, (long)G.H * G.W * G.C);   // split as the pooling alone is
        }
    }

    private static void ThenImages<TOp>(void* state, int n0, int n1) where TOp : unmanaged, Activations.IActivationOperator
    {
        var p = (TiledMaxGradient<TOp>*)state;
        long input = (long)p->G.H * p->G.W * p->G.C, output = (long)p->G.OH * p->G.OW * p->G.C;
        var part = *p;
        part.G = p->G with { N = n1 - n0 };
        part.X += n0 * input; part.Dx += n0 * input; part.Y += n0 * output; part.Dy += n0 * output;
        ForWidths(part, part.G.C);
    }

    /// <remarks>Eight channels at a time in a register (a span call per window pixel cost 0.4 ms for 64×26×26×32).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxForwardSerial(ReadOnlySpan<float> x, in Window2D g, Span<float> y)
    {
        int c = g.C, r = 0;
        if (Vector256.IsHardwareAccelerated && c % 8 == 0)
        {
            // The geometry in locals: read through `in g` the JIT reloads it after every store (y might alias it).
            var w = g;
            int images = w.N, oh = w.OH, ow = w.OW, h = w.H, width = w.W;
            fixed (float* px = x, py = y)
                for (int n = 0; n < images; n++)
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++, r++)
                        {
                            var (y0, y1, x0, x1) = Range(w, oy, ox);
                            float* o = py + (long)r * c;
                            for (int ch = 0; ch < c; ch += 8)
                            {
                                var m = Vector256.Create(float.NegativeInfinity);
                                for (int iy = y0; iy < y1; iy++)
                                {
                                    float* row = px + ((long)(n * h + iy) * width) * c + ch;
                                    for (int ix = x0; ix < x1; ix++) m = Vector256.Max(m, Vector256.Load(row + (long)ix * c));
                                }
                                m.Store(o + ch);
                            }
                        }
            return;
        }
        for (int n = 0; n < g.N; n++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++, r++)
                {
                    Span<float> o = y.Slice(r * c, c);
                    o.Fill(float.NegativeInfinity);
                    var (y0, y1, x0, x1) = Range(g, oy, ox);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            TensorPrimitives.Max(o, x.Slice(((n * g.H + iy) * g.W + ix) * c, c), o);
                }
    }

    /// <summary>dx (zeroed) gets each output's gradient at the first position of its window that holds the maximum,
    /// as PyTorch routes it; the maximum is found again by comparing with the output, so the forward stores no indices.</summary>
    /// <remarks>Eight channels at a time (four on the 128-bit path, and for a remainder of four or more): a lane takes
    /// the gradient where x equals the max (or both are NaN) and no earlier position took it. A scalar search per
    /// channel ran 13× slower (4.7 ms for a 64×26×26×32 input).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxBackwardSerial(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, in Window2D g, Span<float> dx)
    {
        int c = g.C, r = 0;
        int vectorEnd = Vector256.IsHardwareAccelerated ? c - c % 8 : 0;
        int narrowEnd = Vector128.IsHardwareAccelerated ? c - c % 4 : vectorEnd;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float dxr = ref MemoryMarshal.GetReference(dx);
        for (int n = 0; n < g.N; n++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++, r++)
                {
                    var (y0, y1, x0, x1) = Range(g, oy, ox);
                    int o = r * c;
                    for (int ch = 0; ch < vectorEnd; ch += 8)
                    {
                        var m = Vector256.Create(y.Slice(o + ch, 8));
                        var grad = Vector256.Create(dy.Slice(o + ch, 8));
                        var pending = Vector256<float>.AllBitsSet;
                        bool mNaN = Vector256.IsNaN(m) != Vector256<float>.Zero;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                            {
                                nuint i = (nuint)(((n * g.H + iy) * g.W + ix) * c + ch);
                                var xv = Vector256.LoadUnsafe(ref xr, i);
                                var hit = Vector256.Equals(xv, m);
                                if (mNaN) hit |= Vector256.IsNaN(xv) & Vector256.IsNaN(m);
                                hit &= pending;
                                (Vector256.LoadUnsafe(ref dxr, i) + (grad & hit)).StoreUnsafe(ref dxr, i);
                                pending = Vector256.AndNot(pending, hit);
                            }
                    }
                    for (int ch = vectorEnd; ch < narrowEnd; ch += 4)
                    {
                        var m = Vector128.Create(y.Slice(o + ch, 4));
                        var grad = Vector128.Create(dy.Slice(o + ch, 4));
                        var pending = Vector128<float>.AllBitsSet;
                        bool mNaN = Vector128.IsNaN(m) != Vector128<float>.Zero;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                            {
                                nuint i = (nuint)(((n * g.H + iy) * g.W + ix) * c + ch);
                                var xv = Vector128.LoadUnsafe(ref xr, i);
                                var hit = Vector128.Equals(xv, m);
                                if (mNaN) hit |= Vector128.IsNaN(xv) & Vector128.IsNaN(m);
                                hit &= pending;
                                (Vector128.LoadUnsafe(ref dxr, i) + (grad & hit)).StoreUnsafe(ref dxr, i);
                                pending = Vector128.AndNot(pending, hit);
                            }
                    }
                    for (int ch = narrowEnd; ch < c; ch++)
                    {
                        float m = y[o + ch];
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                            {
                                int i = ((n * g.H + iy) * g.W + ix) * c + ch;
                                if (x[i] == m || float.IsNaN(m) && float.IsNaN(x[i]))
                                {
                                    dx[i] += dy[o + ch];
                                    goto next;
                                }
                            }
                        next:;
                    }
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AverageForwardSerial(ReadOnlySpan<float> x, in Window2D g, Span<float> y)
    {
        int c = g.C, r = 0;
        for (int n = 0; n < g.N; n++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++, r++)
                {
                    Span<float> o = y.Slice(r * c, c);
                    o.Clear();
                    var (y0, y1, x0, x1) = Range(g, oy, ox);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            TensorPrimitives.Add(o, x.Slice(((n * g.H + iy) * g.W + ix) * c, c), o);
                    TensorPrimitives.Multiply(o, 1f / ((y1 - y0) * (x1 - x0)), o);
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AverageBackwardSerial(ReadOnlySpan<float> dy, in Window2D g, Span<float> dx)
    {
        int c = g.C, r = 0;
        for (int n = 0; n < g.N; n++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++, r++)
                {
                    var (y0, y1, x0, x1) = Range(g, oy, ox);
                    float scale = 1f / ((y1 - y0) * (x1 - x0));
                    ReadOnlySpan<float> gr = dy.Slice(r * c, c);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                        {
                            Span<float> d = dx.Slice(((n * g.H + iy) * g.W + ix) * c, c);
                            TensorPrimitives.MultiplyAdd(gr, scale, d, d);
                        }
                }
    }

    /// <summary>The window of output (oy, ox) clipped to the image: rows [y0, y1), columns [x0, x1).</summary>
    private static (int Y0, int Y1, int X0, int X1) Range(in Window2D g, int oy, int ox)
    {
        int y0 = oy * g.SH - g.PadTop, x0 = ox * g.SW - g.PadLeft;
        return (Math.Max(y0, 0), Math.Min(y0 + g.KH, g.H), Math.Max(x0, 0), Math.Min(x0 + g.KW, g.W));
    }
}

/// <summary>
/// Runs a per-image convolution or pooling kernel over a batch in two halves, one per core. Each image is computed
/// exactly as alone, so the split cannot change a bit; and the halves match the rows the GEMM next to it gives each
/// core (it splits the same N·OH·OW rows in two), so an image's pixels stay in one core's cache from kernel to kernel.
/// Small batches, or a call made while the workers are busy, run on this thread.
/// </summary>
internal static unsafe class PerImage
{
    /// <summary>Below this many floats written the second core costs more to wake than it saves.</summary>
    private const long MinFloats = 1 << 16;

    public enum Kernel { Im2Col, Col2Im, MaxForward, MaxBackward, AverageForward, AverageBackward }

    public struct Job
    {
        public float* A, B, C, Out;
        public Window2D G;
        public Kernel Kind;
    }

    /// <summary>
    /// Where a two-way split of <paramref name="rows"/> matrix rows falls so that it matches the GEMM's row split (whole
    /// 8-row tiles per part): an element-wise pass over a GEMM's output then finds each half in the cache of the core
    /// that computed it.
    /// </summary>
    public static int RowSplit(int rows) => (rows + 7) / 8 / 2 * 8;

    /// <summary>Element-wise passes below this many floats stay on one core: an MLP layer's output (128×512) is computed
    /// by one core and read there next, so splitting it would only move it.</summary>
    private const long MinRowFloats = 1 << 18;

    /// <summary>The same for the output of a product of more than <see cref="Gemm.SplitKMaxRows"/> rows (inference on
    /// a large batch): the product split its rows between the cores, so each half is already in the cache of the core
    /// that computed it, and a smaller pass pays.</summary>
    private const long MinSplitRowFloats = 1 << 14;

    /// <summary>Runs <paramref name="body"/> over elements [0, rows·rowLength) in two row-aligned halves (see
    /// <see cref="RowSplit"/>) when the pass is big enough (a convolution's output), else on this thread.</summary>
    public static void RunRows(delegate*<void*, int, int, void> body, void* state, int rows, int rowLength)
    {
        long n = (long)rows * rowLength;
        if (rows >= 16 && GemmThreads.MaxParts > 1 && (n >= MinRowFloats || rows > Gemm.SplitKMaxRows && n >= MinSplitRowFloats))
        {
            Span<int> bounds = [0, RowSplit(rows) * rowLength, (int)n];
            if (GemmThreads.TryRunRanges(body, state, bounds)) return;
        }
        body(state, 0, (int)n);
    }

    /// <summary>
    /// Runs <paramref name="body"/> over elements [0, mid) and [mid, rows·rowLength), mid = RowSplit(rows)·rowLength:
    /// on the two cores when the pass is big enough, else one half after the other on this thread. Unlike
    /// <see cref="RunRows"/> the halves are always these two, so a pass that keeps a partial sum per half gets the same
    /// bits on any number of cores. (The body sees an empty first half when the rows are few.)
    /// </summary>
    public static void RunHalves(delegate*<void*, int, int, void> body, void* state, int rows, int rowLength)
    {
        long n = (long)rows * rowLength;
        int mid = RowSplit(rows) * rowLength;
        if (rows >= 16 && GemmThreads.MaxParts > 1 && n >= MinRowFloats)
        {
            Span<int> bounds = [0, mid, (int)n];
            if (GemmThreads.TryRunRanges(body, state, bounds)) return;
        }
        body(state, 0, mid);
        body(state, mid, (int)n);
    }

    public static void Run(ref Job job, long floatsPerImage)
    {
        fixed (Job* p = &job) Images(&Part, p, job.G.N, floatsPerImage);
    }

    /// <summary>Runs <paramref name="body"/>(state, n0, n1) over images [0, <paramref name="images"/>) in two halves on
    /// the cores when the pass is large enough, else on this thread.</summary>
    public static void Images(delegate*<void*, int, int, void> body, void* state, int images, long floatsPerImage)
    {
        if (images >= 2 && GemmThreads.MaxParts > 1 && images * floatsPerImage >= MinFloats)
        {
            Span<int> bounds = [0, images / 2, images];
            if (GemmThreads.TryRunRanges(body, state, bounds)) return;
        }
        body(state, 0, images);
    }

    /// <summary>Images [n0, n1) of the job.</summary>
    private static void Part(void* state, int n0, int n1)
    {
        var j = (Job*)state;
        var g = j->G with { N = n1 - n0 };
        long input = (long)g.H * g.W * g.C, output = (long)g.OH * g.OW * g.C, cols = (long)g.OH * g.OW * g.Patch;
        switch (j->Kind)
        {
            case Kernel.Im2Col:
                Im2ColKernel.Im2ColImages(j->A + n0 * input, j->Out + n0 * cols, g);
                break;
            case Kernel.Col2Im:
                Im2ColKernel.Col2ImImages(j->A + n0 * cols, j->Out + n0 * input, g);
                break;
            case Kernel.AverageBackward:
                new Span<float>(j->Out + n0 * input, (int)(g.N * input)).Clear();   // each core its own images, in its cache
                PoolKernel.Serial(j->Kind, null, null, j->C + n0 * output, j->Out + n0 * input, g);
                break;
            case Kernel.MaxBackward:
                if (!PoolKernel.Tiles(g)) new Span<float>(j->Out + n0 * input, (int)(g.N * input)).Clear();   // (tiled windows write it whole)
                PoolKernel.Serial(j->Kind, j->A + n0 * input, j->B + n0 * output, j->C + n0 * output, j->Out + n0 * input, g);
                break;
            default: // forward pooling
                PoolKernel.Serial(j->Kind, j->A + n0 * input, null, null, j->Out + n0 * output, g);
                break;
        }
    }
}
