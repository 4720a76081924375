using System.Numerics.Tensors;
using System.Runtime.InteropServices;
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
        if (Winograd.Applies(w, groups, filters))
        {
            Winograd.Forward(x, kernel, bias, w, activation, filters, y, cols);
            return;
        }
        if (groups == 1 && !IsPointwise(w))
        {
            // A buffer kept for a larger batch's Winograd pass may be too short for this batch's patches: then none is kept.
            ForwardInBlocks(x, kernel, bias, w, activation, filters, y, cols.Length >= (long)rows * patch ? cols : default);
            return;
        }
        if (groups > 1) GroupedConv.Forward(x, kernel, w, groups, filters, y, cols);
        else Gemm.Sgemm(false, false, rows, filters, patch, x[..(rows * patch)], patch, kernel, filters, y, filters);
        activation.AddBiasApplyInPlace(y, bias, filters);
    }

    /// <summary>Floats of patches and outputs one block holds: 512 KiB, so a block stays in a core's L2 (1 MiB and more
    /// on the hosts measured) from its im2col through its product to its bias and activation.</summary>
    private const int BlockFloats = 1 << 17;

    /// <summary>The job <see cref="ForwardInBlocks"/> hands to the cores.</summary>
    private unsafe struct BlockJob
    {
        public float* X, Kernel, Bias, Y, Cols, Pooled;
        public int BiasLength, Filters, UnitsPerBlock, UnitsPerImage, SplitRow;
        public Window2D W, Pool;
        public bool Max;
        public GCHandle Activation;
    }

    /// <summary>A pooling layer folded into the convolution before it (inference): its window over the convolution's
    /// output, max or average, and where its output goes.</summary>
    internal readonly ref struct FoldedPool(in Window2D window, bool max, Span<float> output)
    {
        public readonly Window2D Window = window;
        public readonly bool Max = max;
        public readonly Span<float> Output = output;
    }

    /// <summary>
    /// The convolution in blocks of output rows (one output row of one image is the unit): each block's patches are
    /// copied, multiplied by the kernel and given their bias and activation while they are still in the core's cache,
    /// instead of three passes over the whole batch through memory (the im2col matrix of 256 images of the CNN's second
    /// convolution is 36 MB). The cores take whole blocks. Every output element is the same multiply-add chain as one
    /// product over the whole batch would give (the GEMM's k order depends on the shapes only), so the bits do not depend
    /// on the blocks or the cores. With <paramref name="cols"/> the patches are kept there (for backward); otherwise each
    /// core copies its block into its own scratch.
    /// With a <paramref name="pool"/> (inference) the unit is one pooled output row: the block computes the convolution
    /// rows its pooling windows read into the core's scratch and pools them from there, so the convolution's output never
    /// goes through memory; the pooled values are the same bits as pooling the whole output.
    /// </summary>
    private static unsafe void ForwardInBlocks(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        in Window2D w, ActivationFunction activation, int filters, Span<float> y, Span<float> cols, in FoldedPool pool = default)
    {
        bool pooled = !pool.Output.IsEmpty;
        int unitsPerImage = pooled ? pool.Window.OH : w.OH, units = w.N * unitsPerImage;
        int convRowsPerUnit = pooled ? Math.Min(pool.Window.KH, w.OH) : 1;
        int perUnit = convRowsPerUnit * w.OW * (w.Patch + filters);
        int unitsPerBlock = Math.Clamp(BlockFloats / perUnit, 1, units);
        int blocks = (units + unitsPerBlock - 1) / unitsPerBlock;
        int parts = GemmThreads.SerialOnThisThread ? 1 : Math.Min(GemmThreads.MaxParts, units);
        if (parts > 1 && blocks < parts)
        {
            // Too few blocks to go round (one small image): smaller blocks, so every core has some.
            unitsPerBlock = (units + parts - 1) / parts;
            blocks = (units + unitsPerBlock - 1) / unitsPerBlock;
        }
        parts = Math.Min(parts, blocks);
        // A second core pays from ~64K multiply-adds (one 28×28 image's first convolution, 195K, took 15 µs on one core
        // and 11 on two, its pooling folded in).
        if ((long)w.Rows * w.Patch * filters < 1L << 16) parts = 1;
        fixed (float* px = x, pk = kernel, pb = bias, py = y, pc = cols, pp = pool.Output)
        {
            var job = new BlockJob
            {
                X = px, Kernel = pk, Bias = pb, BiasLength = bias.Length, Y = py, Cols = pc, Pooled = pp, Filters = filters,
                UnitsPerBlock = unitsPerBlock, UnitsPerImage = unitsPerImage, W = w, Pool = pool.Window, Max = pool.Max,
                Activation = GCHandle.Alloc(activation),
            };
            try
            {
                if (parts == 2 && pooled && units == unitsPerImage && units % 2 == 1 && filters % 2 == 0 && !TransposedPatches(w))
                {
                    // One image whose pooled rows cannot split evenly between two cores (the CNN's second convolution
                    // has 5: 3 : 2 put 60% on one core): each core takes its whole rows and half the filters of the
                    // middle row. Every output element is the same multiply-add chain (the product's k order depends
                    // on the shapes only), so the bits are those of the rows computed whole. Not for a first layer's
                    // transposed patches: its 13 pooled rows already split 7 : 6, and splitting a row's filters there
                    // too measured slower (CNN b1 39.8–40.5 µs against 36.5–39.4, 3 interleaved rounds).
                    job.SplitRow = units / 2;
                    if (GemmThreads.TryRunRanges(&SplitMiddleRow, &job, [0, 1, 2])) return;
                }
                else if (parts > 1)
                {
                    Span<int> bounds = stackalloc int[parts + 1];
                    for (int t = 0; t <= parts; t++) bounds[t] = (int)((long)blocks * t / parts);
                    if (GemmThreads.TryRunRanges(&Blocks, &job, bounds)) return;
                }
                Blocks(&job, 0, blocks);
            }
            finally { job.Activation.Free(); }
        }
    }

    [ThreadStatic] private static float[]? outputScratch;

    /// <summary>Blocks [b0, b1) of a <see cref="BlockJob"/>, on whichever core runs the part; the work inside stays on it.</summary>
    private static unsafe void Blocks(void* state, int b0, int b1)
    {
        var j = (BlockJob*)state;
        var activation = (ActivationFunction)j->Activation.Target!;
        Window2D w = j->W;
        int units = w.N * j->UnitsPerImage;
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            for (int b = b0; b < b1; b++)
            {
                int u0 = b * j->UnitsPerBlock, u1 = Math.Min(units, u0 + j->UnitsPerBlock);
                if (j->Pooled == null)
                {
                    ConvRows(j, activation, u0, u1, j->Y + (long)u0 * w.OW * j->Filters, 0, j->Filters);
                    continue;
                }
                // Pooled rows [p0, p1) of image n at a time: the convolution rows their windows read, then the pooling.
                var pw = j->Pool;
                for (int u = u0; u < u1;)
                {
                    int n = u / j->UnitsPerImage, p0 = u - n * j->UnitsPerImage, p1 = Math.Min(j->UnitsPerImage, p0 + u1 - u);
                    int images = p0 == 0 ? (u1 - u) / j->UnitsPerImage : 0;
                    if (images >= 2)
                    {
                        // Whole images: all their rows in one product, then each image pooled.
                        ConvRowsPooled(j, activation, n * w.OH, (n + images) * w.OH, pw with { N = images },
                            j->Pooled + (long)n * pw.OH * pw.OW * pw.C, 0, j->Filters);
                        u += images * j->UnitsPerImage;
                        continue;
                    }
                    PooledRows(j, activation, n, p0, p1, 0, j->Filters);
                    u += p1 - p0;
                }
            }
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
    }

    /// <summary>Filters [f0, f1) of pooled rows [p0, p1) of image <paramref name="n"/>: the convolution rows their
    /// windows read, pooled.</summary>
    private static unsafe void PooledRows(BlockJob* j, ActivationFunction activation, int n, int p0, int p1, int f0, int f1)
    {
        Window2D w = j->W, pw = j->Pool;
        int r0 = Math.Max(0, p0 * pw.SH - pw.PadTop), r1 = Math.Min(w.OH, (p1 - 1) * pw.SH - pw.PadTop + pw.KH);
        // The rows as an image of their own, its padding shifted so that each window reads what it would.
        ConvRowsPooled(j, activation, n * w.OH + r0, n * w.OH + r1,
            pw with { N = 1, H = r1 - r0, PadTop = pw.PadTop - p0 * pw.SH + r0, OH = p1 - p0 },
            j->Pooled + ((long)n * pw.OH + p0) * pw.OW * pw.C, f0, f1);
    }

    /// <summary>Part <paramref name="t0"/> of a single image's pooled convolution split at its middle row
    /// (<see cref="BlockJob.SplitRow"/>): part 0 takes the rows above it and the first half of its filters, part 1 the
    /// second half and the rows below.</summary>
    private static unsafe void SplitMiddleRow(void* state, int t0, int t1)
    {
        var j = (BlockJob*)state;
        var activation = (ActivationFunction)j->Activation.Target!;
        int m = j->SplitRow, half = j->Filters / 2;
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            for (int t = t0; t < t1; t++)
            {
                if (t == 0)
                {
                    if (m > 0) PooledRows(j, activation, 0, 0, m, 0, j->Filters);
                    PooledRows(j, activation, 0, m, m + 1, 0, half);
                }
                else
                {
                    PooledRows(j, activation, 0, m, m + 1, half, j->Filters);
                    if (m + 1 < j->UnitsPerImage) PooledRows(j, activation, 0, m + 1, j->UnitsPerImage, 0, j->Filters);
                }
            }
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
    }

    /// <summary>Filters [f0, f1) of convolution output rows [u0, u1) into this thread's scratch, then pooled by
    /// <paramref name="pool"/> (a window over exactly those rows) into those channels of <paramref name="pooled"/>.</summary>
    private static unsafe void ConvRowsPooled(BlockJob* j, ActivationFunction activation, int u0, int u1, in Window2D pool,
        float* pooled, int f0, int f1)
    {
        int filters = j->Filters, count = f1 - f0, convLength = (u1 - u0) * j->W.OW * count;
        int positions = pool.N * pool.OH * pool.OW;
        // Some of the filters: pooled into the scratch as well, then each position's channels put in place.
        int length = convLength + (count < filters ? positions * count : 0);
        var y = outputScratch;
        if (y == null || y.Length < length) outputScratch = y = GC.AllocateUninitializedArray<float>(length);
        fixed (float* py = y)
        {
            ConvRows(j, activation, u0, u1, py, f0, f1);
            var kernel = j->Max ? PerImage.Kernel.MaxForward : PerImage.Kernel.AverageForward;
            if (count == filters)
            {
                PoolKernel.Serial(kernel, py, null, null, pooled, pool);
                return;
            }
            float* some = py + convLength;
            PoolKernel.Serial(kernel, py, null, null, some, pool with { C = count });
            for (int q = 0; q < positions; q++)
                new ReadOnlySpan<float>(some + q * count, count).CopyTo(new Span<float>(pooled + (long)q * filters + f0, count));
        }
    }

    /// <summary>Filters [f0, f1) of convolution output rows [u0, u1) of the batch (row u: row u mod OH of image u / OH)
    /// into <paramref name="y"/> (f1 − f0 values per position): their patches, the product with those columns of the
    /// kernel, the bias and the activation, on this thread.</summary>
    private static unsafe void ConvRows(BlockJob* j, ActivationFunction activation, int u0, int u1, float* y, int f0, int f1)
    {
        Window2D w = j->W;
        int patch = w.Patch, filters = j->Filters, count = f1 - f0, rows = (u1 - u0) * w.OW;
        var yBlock = new Span<float>(y, rows * count);
        // Columns [f0, f1) of the kernel (patch × filters, row-major): the same rows, stride filters.
        var k = new ReadOnlySpan<float>(j->Kernel + f0, (patch - 1) * filters + count);
        if (TransposedPatches(w))
        {
            // The patches transposed (patch × rows; kept ones have the whole batch's rows as their row length).
            int ld = j->Cols != null ? w.Rows : rows;
            var patchesT = j->Cols != null ? new Span<float>(j->Cols + (long)u0 * w.OW, (patch - 1) * ld + rows)
                : Scratch(rows * patch).AsSpan(0, rows * patch);
            fixed (float* c = patchesT) Im2ColKernel.Im2ColTransposed(j->X, c, ld, w, u0, u1);
            Gemm.Sgemm(true, false, rows, count, patch, patchesT, ld, k, filters, yBlock, count);
        }
        else
        {
            Span<float> patches = j->Cols != null ? new Span<float>(j->Cols + (long)u0 * w.OW * patch, rows * patch)
                : Scratch(rows * patch).AsSpan(0, rows * patch);
            fixed (float* c = patches) Im2ColKernel.Im2ColOutputRows(j->X, c, w, u0, u1);
            Gemm.Sgemm(false, false, rows, count, patch, patches, patch, k, filters, yBlock, count);
        }
        activation.AddBiasApplyInPlace(yBlock, j->BiasLength == 0 ? default : new ReadOnlySpan<float>(j->Bias + f0, count), count);
    }

    /// <summary>
    /// Inference's convolution followed by pooling, as one pass (see <see cref="ForwardInBlocks"/>): the pooled output
    /// only, the convolution's never stored. Bits as <see cref="Forward"/> then the pooling kernel.
    /// </summary>
    internal static void ForwardPooled(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, in Window2D w,
        ActivationFunction activation, int filters, in Window2D pool, bool max, Span<float> pooled) =>
        ForwardInBlocks(x, kernel, bias, w, activation, filters, default, default, new FoldedPool(pool, max, pooled[..(pool.N * pool.OH * pool.OW * pool.C)]));

    /// <summary>Whether <see cref="ForwardPooled"/> serves this convolution (a plain one: not grouped, not 1×1, and not
    /// one <see cref="Winograd"/> computes, whose output the pooling then reads as training's does).</summary>
    internal static bool CanFoldPool(in Window2D w, int groups, int filters) => groups == 1 && !IsPointwise(w) && !Winograd.Applies(w, groups, filters);

    /// <summary>
    /// Whether a plain convolution's patches are laid out transposed (patch × rows, see
    /// <see cref="Im2ColKernel.Im2ColTransposed"/>): a first layer's short patch rows (a 3×3 window on one channel is 9
    /// values), which the usual layout copies a few floats at a time. The products give the same bits in either layout.
    /// </summary>
    private static bool TransposedPatches(in Window2D w) => w.C * w.KW <= 8 && !IsPointwise(w);

    /// <summary>The im2col matrix of x rebuilt in this thread's scratch (transposed where <see cref="TransposedPatches"/>),
    /// for a backward whose forward kept none.</summary>
    private static unsafe ReadOnlySpan<float> Patches(ReadOnlySpan<float> x, Window2D w)
    {
        int rows = w.Rows, patch = w.Patch;
        var cols = Scratch(rows * patch).AsSpan(0, rows * patch);
        if (TransposedPatches(w))
            fixed (float* px = x, pc = cols) Im2ColKernel.Im2ColTransposed(px, pc, rows, w, 0, w.N * w.OH);
        else Im2ColKernel.Im2Col(x, w, cols);
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
        Tensor? dx = s.InputGrad ? Tensor.Uninitialized(x.ShapeRef) : null;   // BackwardCore overwrites it
        BackwardCore(x.AsSpan(), kernel.AsSpan(), dz.AsSpan(), s.Window, filters, dk.Span,
            db == null ? default : db.Span, dx == null ? default : dx.Span, default, s.Groups);
        return db == null ? [dx, dk] : [dx, dk, db];
    }

    /// <summary>dK, db (when not empty) and dx (when not empty), all overwritten, from dz, the gradient before the
    /// activation. <paramref name="cols"/> is the forward's im2col matrix (or Winograd's transformed input) when kept,
    /// else it is rebuilt.</summary>
    internal static void BackwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w,
        int filters, Span<float> dk, Span<float> db, Span<float> dx, ReadOnlySpan<float> cols = default, int groups = 1)
    {
        int rows = w.Rows, patch = w.Patch;
        if (Winograd.Applies(w, groups, filters))
        {
            Winograd.Backward(x, kernel, dz, w, filters, dk, db, dx, cols);   // db summed as it reads dz
            return;
        }
        if (!db.IsEmpty) Reduce.Sum(dz, 1, rows, filters, db);
        if (groups > 1)
        {
            dx.Clear();   // the groups' col2im add into it
            GroupedConv.Backward(x, kernel, dz, w, groups, filters, dk, dx, cols);
            return;
        }
        if (IsPointwise(w)) cols = x[..(rows * patch)];
        else if (cols.Length < (long)rows * patch) cols = Patches(x, w);
        if (TransposedPatches(w)) Gemm.Sgemm(false, false, patch, filters, rows, cols, rows, dz, filters, dk, filters);
        else Gemm.Sgemm(true, false, patch, filters, rows, cols, patch, dz, filters, dk, filters);          // colsᵀ·dz
        if (dx.IsEmpty) return;
        if (IsPointwise(w))
        {
            Gemm.Sgemm(false, true, rows, patch, filters, dz, filters, kernel, filters, dx, patch);    // dz·Kᵀ is dx
            return;
        }
        InputGradientInBlocks(kernel, dz, w, filters, dx);
    }

    /// <summary>The job <see cref="InputGradientInBlocks"/> hands to the cores.</summary>
    private unsafe struct GradientJob
    {
        public float* Kernel, Dz, Dx;
        public int Filters, UnitsPerBlock;
        public Window2D W;
    }

    /// <summary>
    /// dx = col2im(dz·Kᵀ) in blocks of output rows (each core clears its images' part first), each block's rows of dz·Kᵀ scattered back while they are in the
    /// core's cache (the whole batch's matrix is several megabytes). The cores take whole images, so no two write the
    /// same pixel, and each image's rows are added in order: the same bits as one product and one col2im.
    /// </summary>
    private static unsafe void InputGradientInBlocks(ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w, int filters, Span<float> dx)
    {
        int units = w.N * w.OH;
        int parts = GemmThreads.SerialOnThisThread || (long)w.Rows * w.Patch * filters < 1L << 18 ? 1 : Math.Min(GemmThreads.MaxParts, w.N);
        fixed (float* pk = kernel, pz = dz, pd = dx)
        {
            var job = new GradientJob
            {
                Kernel = pk, Dz = pz, Dx = pd, Filters = filters, W = w,
                UnitsPerBlock = Math.Clamp(BlockFloats / (w.OW * (w.Patch + filters)), 1, units),
            };
            if (parts > 1)
            {
                Span<int> bounds = stackalloc int[parts + 1];
                for (int t = 0; t <= parts; t++) bounds[t] = (int)((long)w.N * t / parts) * w.OH;
                if (GemmThreads.TryRunRanges(&GradientRows, &job, bounds)) return;
            }
            GradientRows(&job, 0, units);
        }
    }

    /// <summary>Output rows [lo, hi) of a <see cref="GradientJob"/>, a block at a time, on this core.</summary>
    private static unsafe void GradientRows(void* state, int lo, int hi)
    {
        var j = (GradientJob*)state;
        Window2D w = j->W;
        int patch = w.Patch, filters = j->Filters;
        // The parts are whole images (lo and hi are multiples of OH): each core clears its own, in its cache.
        long image = (long)w.H * w.W * w.C;
        new Span<float>(j->Dx + lo / w.OH * image, (int)((hi - lo) / w.OH * image)).Clear();
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            for (int u0 = lo; u0 < hi; u0 += j->UnitsPerBlock)
            {
                int u1 = Math.Min(hi, u0 + j->UnitsPerBlock), rows = (u1 - u0) * w.OW;
                var dcols = Scratch(rows * patch).AsSpan(0, rows * patch); // the scratch's patches are no longer needed
                Gemm.Sgemm(false, true, rows, patch, filters, new ReadOnlySpan<float>(j->Dz + (long)u0 * w.OW * filters, rows * filters), filters,
                    new ReadOnlySpan<float>(j->Kernel, patch * filters), filters, dcols, patch);   // dz·Kᵀ
                fixed (float* c = dcols) Im2ColKernel.Col2ImOutputRows(c, j->Dx, w, u0, u1);
            }
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
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
                var dx = Tensor.Uninitialized(n.X.ShapeRef);   // the kernel overwrites it
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
                var dx = Tensor.Uninitialized(n.X.ShapeRef);   // the kernel overwrites it
                PoolKernel.AverageBackward(g.AsSpan(), (Window2D)n.State!, dx.Span);
                return [dx];
            }, x);
            if (node != null) node.State = w;
        }
        return y;
    }
}
