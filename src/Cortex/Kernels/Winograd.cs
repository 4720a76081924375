using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Cortex.Activations;

namespace Cortex.Kernels;

/// <summary>
/// 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2016): each 2×2 block of outputs ("tile") is computed from its 4×4 input patch with
/// 16 multiplies per (channel, filter) instead of 36. The input patch is transformed (V = Bᵀ·d·B), the kernel once per
/// call (U = G·g·Gᵀ), and the 16 element-wise products summed over channels are 16 GEMMs, one per position ξ of the
/// 4×4 transform: M[ξ] = V[ξ]·U[ξ] with V[ξ] tiles × C and U[ξ] C × F; the output tile is Aᵀ·M·A.
/// </summary>
/// <remarks>
/// <para>Backward is the adjoint of the same computation (exact, since the forward is linear in both operands): the
/// output gradient of a tile is transformed (Wz = A·dY·Aᵀ, 4×4 from 2×2), then dU[ξ] = V[ξ]ᵀ·Wz[ξ] gives the kernel
/// gradient (dK = Gᵀ·dU·G) and dV[ξ] = Wz[ξ]·U[ξ]ᵀ the input gradient (dX = the sum of B·dV·Bᵀ over the overlapping
/// 4×4 patches).</para>
/// <para>Both passes split the batch into the same chunks of whole images (at most 16; the shapes decide), which the
/// cores take one at a time, and each chunk into blocks of tile rows (one row of tiles of one image is the unit) sized
/// so that a block's transformed input and products stay in a core's L2. A chunk has its own outputs, its own input
/// gradient pixels (neighbouring patches add into the same pixels only within an image) and its own slot for the kernel
/// and bias gradients; the slots are added in order. So the bits depend on the shapes only, never on the thread count
/// or on which core ran a chunk. The transforms are additions and halvings, the same IEEE operations at every vector
/// width, so every width gives the same bits there.</para>
/// <para>Against im2col + GEMM the products do 2.25× fewer multiply-adds (less the tiles' overhang where the output's
/// side is odd), and nothing copies the 9× larger patch matrix.</para>
/// </remarks>
internal static unsafe class Winograd
{
    /// <summary>Fewer channels or filters than this go through im2col: the 16 products are then too thin to pay for
    /// the transforms (a first layer's single channel above all).</summary>
    internal const int MinChannels = 8;

    /// <summary>Fewer tiles than this over the batch go through im2col: one image's 16 products have a few dozen rows
    /// each, and im2col's single product with the pooling folded in was faster there (the Fashion CNN's one-image
    /// Predict on a busy host: 47–49 µs against 63 with Winograd and the pooling apart).</summary>
    internal const int MinTiles = 128;

    /// <summary>Off under <c>CORTEX_WINOGRAD=0</c> (every convolution then takes im2col + GEMM): for comparing the two
    /// in benchmarks, or ruling Winograd out when results differ from another framework's in the last bits.</summary>
    internal static readonly bool Enabled = Environment.GetEnvironmentVariable("CORTEX_WINOGRAD") != "0";

    /// <summary>Floats one block of transformed input and products holds: 512 KiB, within a core's L2.</summary>
    private const int BlockFloats = 1 << 17;

    /// <summary>Floats the kernel gradient's chunk slots may take together (8 MiB).</summary>
    private const int SlotFloats = 1 << 21;

    /// <summary>Whether <see cref="Forward"/> and <see cref="Backward"/> serve this convolution: a 3×3 window, stride 1,
    /// no dilation, no groups, at least <see cref="MinChannels"/> channels and filters and <see cref="MinTiles"/> tiles.
    /// The choice depends on the shapes only, so training, the tape, <c>Call</c> and <c>Predict</c> make the same one.</summary>
    internal static bool Applies(in Window2D w, int groups, int filters) =>
        Enabled && groups == 1 && w.KH == 3 && w.KW == 3 && w.SH == 1 && w.SW == 1 && w.DH == 1 && w.DW == 1
        && w.C >= MinChannels && filters >= MinChannels && (long)w.N * ((w.OH + 1) / 2) * ((w.OW + 1) / 2) >= MinTiles;

    /// <summary>Floats <see cref="Forward"/> keeps for <see cref="Backward"/> when given a buffer this long: the whole
    /// batch's transformed input, 16 · tiles · C (for a 3×3 window about half of im2col's 9 · pixels · C).</summary>
    internal static long KeptFloats(in Window2D w) => 16L * w.N * ((w.OH + 1) / 2) * ((w.OW + 1) / 2) * w.C;

    private struct Job
    {
        public float* X, U, Bias, Y, Dz, Dx, Slots, Kept;
        public int Filters, BiasLength, TilesH, TilesW, UnitsPerBlock, Chunks, Transformed, SlotLength;
        public int Next;                                   // the next chunk a core may take
        public delegate*<void*, int, int, void> Body;      // what a core runs on the chunks it takes
        public Window2D W;
        public GCHandle Activation;
    }

    [ThreadStatic] private static float[]? work;     // a core's block: transformed input, products, zeros, a trash row
    [ThreadStatic] private static float[]? kernelBuf; // the caller's: U, and the kernel gradient's slots

    private static float* Pin(ref float[]? buffer, long length)
    {
        // Pinned arrays (POH) made once per thread and grown when a bigger layer comes: nothing allocates per step.
        if (buffer == null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }

    /// <summary>
    /// The partition both passes share (so a kept block of V is found where backward looks for it): the batch in
    /// <see cref="Job.Chunks"/> runs of whole images — the kernel gradient's slots, and what the cores take — and each
    /// chunk in blocks of up to <see cref="Job.UnitsPerBlock"/> tile rows. Shapes alone decide it.
    /// </summary>
    private static Job Partition(in Window2D w, int filters)
    {
        int th = (w.OH + 1) / 2, tw = (w.OW + 1) / 2;
        int transformed = 16 * w.C * filters;
        return new Job
        {
            W = w, Filters = filters, TilesH = th, TilesW = tw, Transformed = transformed, SlotLength = transformed + filters,
            Chunks = Math.Clamp(SlotFloats / (transformed + filters), 1, Math.Min(w.N, 16)),
            UnitsPerBlock = Math.Max(1, BlockFloats / (16 * tw * (w.C + filters))),
        };
    }

    /// <summary>Runs <paramref name="body"/> over the job's chunks on the cores. Each core takes the next chunk not
    /// yet taken until none is left, so a core that started late or runs slower (a busy hypervisor, a cold cache) takes
    /// fewer; which core runs a chunk changes none of its bits (each chunk has its own outputs and its own slot).</summary>
    private static void RunChunks(Job* job, delegate*<void*, int, int, void> body)
    {
        int parts = GemmThreads.SerialOnThisThread ? 1 : Math.Min(GemmThreads.MaxParts, job->Chunks);
        if (parts > 1)
        {
            job->Next = 0;
            job->Body = body;
            Span<int> bounds = stackalloc int[parts + 1];
            for (int t = 0; t <= parts; t++) bounds[t] = t;
            if (GemmThreads.TryRunRanges(&TakeChunks, job, bounds)) return;
        }
        body(job, 0, job->Chunks);
    }

    private static void TakeChunks(void* state, int part, int end)
    {
        var j = (Job*)state;
        for (int k; (k = Interlocked.Increment(ref j->Next) - 1) < j->Chunks;) j->Body(state, k, k + 1);
    }

    /// <summary>y = g(conv(x, kernel) + bias) for NHWC x and kernel (3, 3, C, F); y is (N, OH, OW, F). With a
    /// <paramref name="kept"/> buffer of <see cref="KeptFloats"/> the transformed input stays there for backward.</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, in Window2D w,
        ActivationFunction activation, int filters, Span<float> y, Span<float> kept = default)
    {
        var job = Partition(w, filters);
        float* u = Pin(ref kernelBuf, job.Transformed);
        fixed (float* pk = kernel) TransformKernel(pk, w.C, filters, u);
        fixed (float* px = x, pb = bias, py = y, pv = kept)
        {
            job.X = px; job.U = u; job.Bias = pb; job.BiasLength = bias.Length; job.Y = py;
            job.Kept = kept.Length >= KeptFloats(w) ? pv : null;
            job.Activation = GCHandle.Alloc(activation);
            try { RunChunks(&job, &ForwardChunks); }
            finally { job.Activation.Free(); }
        }
    }

    /// <summary>dK, db (when not empty) and dx (when not empty) from dz, the gradient before the activation, all three
    /// overwritten (dx need not be zeroed: each core clears its images' part before adding their patches into it).
    /// <paramref name="kept"/> is the buffer <see cref="Forward"/> was given (its transformed input; rebuilt when none
    /// was kept).</summary>
    internal static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w,
        int filters, Span<float> dk, Span<float> db, Span<float> dx, ReadOnlySpan<float> kept = default)
    {
        var job = Partition(w, filters);
        float* u = Pin(ref kernelBuf, job.Transformed + (long)job.SlotLength * job.Chunks);
        if (!dx.IsEmpty)
            fixed (float* pk = kernel) TransformKernel(pk, w.C, filters, u);
        fixed (float* px = x, pz = dz, pd = dx, pv = kept)
        {
            job.X = px; job.U = u; job.Dz = pz; job.Dx = pd; job.Slots = u + job.Transformed;
            job.Kept = kept.Length >= KeptFloats(w) ? pv : null;   // read only
            RunChunks(&job, &BackwardChunks);
            // The slots added in order, each core a run of elements: the same sum whatever ran each chunk.
            int parts = GemmThreads.SerialOnThisThread || job.Chunks == 1 ? 1 : GemmThreads.MaxParts;
            bool summed = false;
            if (parts > 1)
            {
                Span<int> bounds = stackalloc int[parts + 1];
                for (int t = 0; t <= parts; t++) bounds[t] = (int)((long)job.SlotLength * t / parts);
                summed = GemmThreads.TryRunRanges(&SumSlots, &job, bounds);
            }
            if (!summed) SumSlots(&job, 0, job.SlotLength);
        }
        fixed (float* pk = dk) TransformKernelGradient(job.Slots, w.C, filters, pk);
        if (!db.IsEmpty) new ReadOnlySpan<float>(job.Slots + job.Transformed, filters).CopyTo(db);
    }

    private static void SumSlots(void* state, int e0, int e1)
    {
        var j = (Job*)state;
        var sum = new Span<float>(j->Slots + e0, e1 - e0);
        for (int k = 1; k < j->Chunks; k++)
            TensorPrimitives.Add(sum, new ReadOnlySpan<float>(j->Slots + (long)k * j->SlotLength + e0, e1 - e0), sum);
    }

    /// <summary>Units (tile rows) [first, end) of chunk <paramref name="k"/>.</summary>
    private static (int First, int End) ChunkUnits(Job* j, int k) =>
        ((int)((long)j->W.N * k / j->Chunks) * j->TilesH, (int)((long)j->W.N * (k + 1) / j->Chunks) * j->TilesH);

    /// <summary>A core's block buffers: V (or, in backward, dV), the products, a row of zeros and a trash row.</summary>
    private static float* Work(Job* j, out float* products, out float* zeros, out float* trash)
    {
        int c = j->W.C, f = j->Filters, most = Math.Min(j->W.N * j->TilesH, j->UnitsPerBlock) * j->TilesW, edge = Math.Max(c, f);
        long v = 16L * most * c;
        float* p = Pin(ref work, v + 16L * most * f + 2 * edge);
        products = p + v;
        zeros = products + 16L * most * f;
        trash = zeros + edge;
        new Span<float>(zeros, edge).Clear();
        return p;
    }

    private static void ForwardChunks(void* state, int k0, int k1)
    {
        var j = (Job*)state;
        var activation = (ActivationFunction)j->Activation.Target!;
        Window2D w = j->W;
        int f = j->Filters, c = w.C, tw = j->TilesW;
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            float* scratch = Work(j, out float* m, out float* zeros, out float* trash);
            for (int k = k0; k < k1; k++)
            {
                var (first, end) = ChunkUnits(j, k);
                for (int u0 = first; u0 < end; u0 += j->UnitsPerBlock)
                {
                    int u1 = Math.Min(end, u0 + j->UnitsPerBlock), tiles = (u1 - u0) * tw;
                    float* v = j->Kept != null ? j->Kept + 16L * u0 * tw * c : scratch;
                    InputTiles(j, u0, u1, v, tiles, zeros);
                    for (int xi = 0; xi < 16; xi++)
                        Gemm.Sgemm(false, false, tiles, f, c, new ReadOnlySpan<float>(v + (long)xi * tiles * c, tiles * c), c,
                            new ReadOnlySpan<float>(j->U + (long)xi * c * f, c * f), f, new Span<float>(m + (long)xi * tiles * f, tiles * f), f);
                    OutputTiles(j, u0, u1, m, tiles, trash);
                    long r0 = RowOf(u0, j->TilesH, w.OH), r1 = RowOf(u1, j->TilesH, w.OH);
                    activation.AddBiasApplyInPlace(new Span<float>(j->Y + r0 * w.OW * f, (int)((r1 - r0) * w.OW * f)),
                        new ReadOnlySpan<float>(j->Bias, j->BiasLength), f);
                }
            }
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
    }

    private static void BackwardChunks(void* state, int k0, int k1)
    {
        var j = (Job*)state;
        Window2D w = j->W;
        int f = j->Filters, c = w.C, tw = j->TilesW;
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            float* scratch = Work(j, out float* wz, out float* zeros, out float* trash);
            for (int k = k0; k < k1; k++)
            {
                float* slot = j->Slots + (long)k * j->SlotLength, biasSum = slot + j->Transformed;
                var (first, end) = ChunkUnits(j, k);
                new Span<float>(biasSum, f).Clear();
                if (j->Dx != null)
                {
                    long image = (long)w.H * w.W * c;
                    new Span<float>(j->Dx + first / j->TilesH * image, (int)((end - first) / j->TilesH * image)).Clear();
                }
                for (int u0 = first; u0 < end; u0 += j->UnitsPerBlock)
                {
                    int u1 = Math.Min(end, u0 + j->UnitsPerBlock), tiles = (u1 - u0) * tw;
                    float* v = scratch;
                    if (j->Kept != null) v = j->Kept + 16L * u0 * tw * c;
                    else InputTiles(j, u0, u1, v, tiles, zeros);
                    float* dv = scratch;   // over V when V was rebuilt here (no longer needed by then)
                    GradientTiles(j, u0, u1, wz, tiles, zeros, biasSum);
                    for (int xi = 0; xi < 16; xi++)
                        Gemm.Sgemm(true, false, c, f, tiles, new ReadOnlySpan<float>(v + (long)xi * tiles * c, tiles * c), c,
                            new ReadOnlySpan<float>(wz + (long)xi * tiles * f, tiles * f), f, new Span<float>(slot + xi * c * f, c * f), f,
                            accumulate: u0 != first);
                    if (j->Dx == null) continue;
                    for (int xi = 0; xi < 16; xi++)   // dV[ξ] = Wz[ξ]·U[ξ]ᵀ
                        Gemm.Sgemm(false, true, tiles, c, f, new ReadOnlySpan<float>(wz + (long)xi * tiles * f, tiles * f), f,
                            new ReadOnlySpan<float>(j->U + (long)xi * c * f, c * f), f, new Span<float>(dv + (long)xi * tiles * c, tiles * c), c);
                    ScatterTiles(j, u0, u1, dv, tiles, trash);
                }
            }
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
    }

    /// <summary>y = Aᵀ·M·A for tiles of units [u0, u1): each tile's 2×2 outputs (those past the output's edge go to
    /// the trash row).</summary>
    private static void OutputTiles(Job* j, int u0, int u1, float* m, int tiles, float* trash)
    {
        Window2D w = j->W;
        int f = j->Filters;
        var op = new OutputTile { Stride = (long)tiles * f };
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                OutputPixels(j->Y, w, f, n, ty, tx, trash, ref op.Y);
                op.M = m + (long)t * f;
                ForChannels(ref op, f);
            }
        }
    }

    /// <summary>The 2×2 output pixels of tile (ty, tx) of image n in an (N, OH, OW, F) tensor: their filter vectors, or
    /// <paramref name="outside"/> past the output's edge.</summary>
    private static void OutputPixels(float* y, in Window2D w, int f, int n, int ty, int tx, float* outside, ref Pointers4 p)
    {
        for (int i = 0; i < 2; i++)
            for (int jj = 0; jj < 2; jj++)
            {
                int oy = 2 * ty + i, ox = 2 * tx + jj;
                p[i * 2 + jj] = oy < w.OH && ox < w.OW ? (nint)(y + (((long)n * w.OH + oy) * w.OW + ox) * f) : (nint)outside;
            }
    }

    /// <summary>The first output row of unit (tile row) <paramref name="unit"/> over the whole batch.</summary>
    private static long RowOf(int unit, int tilesH, int oh)
    {
        int n = unit / tilesH, ty = unit - n * tilesH;
        return (long)n * oh + Math.Min(2 * ty, oh);
    }

    /// <summary>V for tiles of units [u0, u1): V[ξ][t][c], ξ stride tiles·C.</summary>
    private static void InputTiles(Job* j, int u0, int u1, float* v, int tiles, float* zeros)
    {
        Window2D w = j->W;
        var op = new InputTile { Stride = (long)tiles * w.C };
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                PatchPointers(j->X, w, n, ty, tx, zeros, ref op.D);
                op.V = v + (long)t * w.C;
                ForChannels(ref op, w.C);
            }
        }
    }

    /// <summary>The 4×4 input pixels of tile (ty, tx) of image n: their channel vectors, or a row of zeros (padding).</summary>
    private static void PatchPointers(float* x, in Window2D w, int n, int ty, int tx, float* outside, ref Pointers16 d)
    {
        int iy0 = 2 * ty - w.PadTop, ix0 = 2 * tx - w.PadLeft;
        if (iy0 >= 0 && ix0 >= 0 && iy0 + 4 <= w.H && ix0 + 4 <= w.W)
        {
            // Inside the image (most tiles): one base pointer, fixed steps.
            float* p = x + (((long)n * w.H + iy0) * w.W + ix0) * w.C;
            long row = (long)w.W * w.C;
            for (int r = 0; r < 4; r++, p += row)
            {
                d[r * 4] = (nint)p;
                d[r * 4 + 1] = (nint)(p + w.C);
                d[r * 4 + 2] = (nint)(p + 2 * w.C);
                d[r * 4 + 3] = (nint)(p + 3 * w.C);
            }
            return;
        }
        for (int r = 0; r < 4; r++)
        {
            int iy = 2 * ty + r - w.PadTop;
            for (int s = 0; s < 4; s++)
            {
                int ix = 2 * tx + s - w.PadLeft;
                d[r * 4 + s] = (uint)iy < (uint)w.H && (uint)ix < (uint)w.W ? (nint)(x + (((long)n * w.H + iy) * w.W + ix) * w.C) : (nint)outside;
            }
        }
    }

    /// <summary>Wz for tiles of units [u0, u1): the transformed output gradient, Wz[ξ][t][f]; the tiles' output
    /// gradients are also added to <paramref name="biasSum"/> (the bias gradient, in tile order).</summary>
    private static void GradientTiles(Job* j, int u0, int u1, float* wz, int tiles, float* zeros, float* biasSum)
    {
        Window2D w = j->W;
        int f = j->Filters;
        var op = new GradientTile { Stride = (long)tiles * f, BiasSum = biasSum };
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                OutputPixels(j->Dz, w, f, n, ty, tx, zeros, ref op.Dy);
                op.W = wz + (long)t * f;
                ForChannels(ref op, f);
            }
        }
    }

    /// <summary>dx += B·dV·Bᵀ for tiles of units [u0, u1), in tile order (neighbouring patches overlap).</summary>
    private static void ScatterTiles(Job* j, int u0, int u1, float* dv, int tiles, float* trash)
    {
        Window2D w = j->W;
        var op = new ScatterTile { Stride = (long)tiles * w.C };
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                PatchPointers(j->Dx, w, n, ty, tx, trash, ref op.D);
                op.V = dv + (long)t * w.C;
                ForChannels(ref op, w.C);
            }
        }
    }

    /// <summary>U[ξ][c][f] = (G·g·Gᵀ)[ξ] for the kernel (3, 3, C, F).</summary>
    private static void TransformKernel(float* kernel, int c, int f, float* u)
    {
        var op = new KernelTransform { Stride = (long)c * f };
        for (int ch = 0; ch < c; ch++)
        {
            op.G = kernel + (long)ch * f;
            op.GStride = (long)c * f;
            op.U = u + (long)ch * f;
            ForChannels(ref op, f);
        }
    }

    /// <summary>dK (3, 3, C, F) = Gᵀ·dU·G from dU[ξ][c][f].</summary>
    private static void TransformKernelGradient(float* du, int c, int f, float* dk)
    {
        var op = new KernelGradientTransform { Stride = (long)c * f };
        for (int ch = 0; ch < c; ch++)
        {
            op.DU = du + (long)ch * f;
            op.DK = dk + (long)ch * f;
            ForChannels(ref op, f);
        }
    }

    /// <summary>An operation on a run of channels (or filters) starting at an offset, written once for every width.</summary>
    private interface IChannelOp
    {
        void Run<L>(int c) where L : unmanaged, ILanes<L>;
    }

    /// <summary>Runs <paramref name="op"/> over <paramref name="count"/> channels at the widest accelerated width, then
    /// narrower ones, then one at a time: the transforms are exact, so every width gives the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForChannels<T>(ref T op, int count) where T : struct, IChannelOp
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; c + 16 <= count; c += 16) op.Run<Lanes512>(c);
        if (Vector256.IsHardwareAccelerated)
            for (; c + 8 <= count; c += 8) op.Run<Lanes256>(c);
        if (Vector128.IsHardwareAccelerated)
            for (; c + 4 <= count; c += 4) op.Run<Lanes128>(c);
        for (; c < count; c++) op.Run<ScalarLane>(c);
    }

    [InlineArray(16)] private struct Pointers16 { private nint p; }
    [InlineArray(4)] private struct Pointers4 { private nint p; }

    /// <summary>V = Bᵀ·d·B, Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].</summary>
    private struct InputTile : IChannelOp
    {
        public Pointers16 D;
        public float* V;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L>
        {
            // Columns first: t[a][s] = (Bᵀ·d)[a][s].
            L t00, t01, t02, t03, t10, t11, t12, t13, t20, t21, t22, t23, t30, t31, t32, t33;
            Column<L>(0, c, out t00, out t10, out t20, out t30);
            Column<L>(1, c, out t01, out t11, out t21, out t31);
            Column<L>(2, c, out t02, out t12, out t22, out t32);
            Column<L>(3, c, out t03, out t13, out t23, out t33);
            float* v = V + c;
            Row(v, Stride, 0, t00, t01, t02, t03);
            Row(v, Stride, 4, t10, t11, t12, t13);
            Row(v, Stride, 8, t20, t21, t22, t23);
            Row(v, Stride, 12, t30, t31, t32, t33);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Column<L>(int s, int c, out L a0, out L a1, out L a2, out L a3) where L : unmanaged, ILanes<L>
        {
            L d0 = L.Load((float*)D[s] + c), d1 = L.Load((float*)D[4 + s] + c), d2 = L.Load((float*)D[8 + s] + c), d3 = L.Load((float*)D[12 + s] + c);
            a0 = d0 - d2; a1 = d1 + d2; a2 = d2 - d1; a3 = d1 - d3;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row<L>(float* v, long stride, int xi, L t0, L t1, L t2, L t3) where L : unmanaged, ILanes<L>
        {
            (t0 - t2).Store(v + xi * stride);
            (t1 + t2).Store(v + (xi + 1) * stride);
            (t2 - t1).Store(v + (xi + 2) * stride);
            (t1 - t3).Store(v + (xi + 3) * stride);
        }
    }

    /// <summary>y = Aᵀ·M·A, Aᵀ = [1 1 1 0; 0 1 −1 −1]: the 2×2 outputs of a tile.</summary>
    private struct OutputTile : IChannelOp
    {
        public Pointers4 Y;
        public float* M;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L>
        {
            float* m = M + c;
            long s = Stride;
            // r[i][b] = (Aᵀ·M)[i][b] for each column b.
            L m0 = L.Load(m), m4 = L.Load(m + 4 * s), m8 = L.Load(m + 8 * s), m12 = L.Load(m + 12 * s);
            L r00 = m0 + m4 + m8, r10 = m4 - m8 - m12;
            L m1 = L.Load(m + s), m5 = L.Load(m + 5 * s), m9 = L.Load(m + 9 * s), m13 = L.Load(m + 13 * s);
            L r01 = m1 + m5 + m9, r11 = m5 - m9 - m13;
            L m2 = L.Load(m + 2 * s), m6 = L.Load(m + 6 * s), m10 = L.Load(m + 10 * s), m14 = L.Load(m + 14 * s);
            L r02 = m2 + m6 + m10, r12 = m6 - m10 - m14;
            L m3 = L.Load(m + 3 * s), m7 = L.Load(m + 7 * s), m11 = L.Load(m + 11 * s), m15 = L.Load(m + 15 * s);
            L r03 = m3 + m7 + m11, r13 = m7 - m11 - m15;
            (r00 + r01 + r02).Store((float*)Y[0] + c);
            (r01 - r02 - r03).Store((float*)Y[1] + c);
            (r10 + r11 + r12).Store((float*)Y[2] + c);
            (r11 - r12 - r13).Store((float*)Y[3] + c);
        }
    }

    /// <summary>Wz = A·dY·Aᵀ (the adjoint of the output transform): 4×4 from the tile's 2×2 output gradient.</summary>
    private struct GradientTile : IChannelOp
    {
        public Pointers4 Dy;
        public float* W, BiasSum;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L>
        {
            L y00 = L.Load((float*)Dy[0] + c), y01 = L.Load((float*)Dy[1] + c), y10 = L.Load((float*)Dy[2] + c), y11 = L.Load((float*)Dy[3] + c);
            L zero = L.Broadcast(0f);
            (L.Load(BiasSum + c) + ((y00 + y01) + (y10 + y11))).Store(BiasSum + c);
            // Rows a of A·dY: [y0; y0 + y1; y0 − y1; −y1] (each a pair of columns).
            float* w = W + c;
            Row(w, Stride, 0, y00, y01, zero);
            Row(w, Stride, 4, y00 + y10, y01 + y11, zero);
            Row(w, Stride, 8, y00 - y10, y01 - y11, zero);
            Row(w, Stride, 12, zero - y10, zero - y11, zero);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row<L>(float* w, long stride, int xi, L a, L b, L zero) where L : unmanaged, ILanes<L>
        {
            a.Store(w + xi * stride);
            (a + b).Store(w + (xi + 1) * stride);
            (a - b).Store(w + (xi + 2) * stride);
            (zero - b).Store(w + (xi + 3) * stride);
        }
    }

    /// <summary>dx += B·dV·Bᵀ (the adjoint of the input transform) over the tile's 4×4 input pixels.</summary>
    private struct ScatterTile : IChannelOp
    {
        public Pointers16 D;
        public float* V;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L>
        {
            float* v = V + c;
            // e[r][b] = (B·dV)[r][b]: rows [dV0; dV1 − dV2 + dV3; dV1 + dV2 − dV0; −dV3] of each column b.
            L e00, e01, e02, e03, e10, e11, e12, e13, e20, e21, e22, e23, e30, e31, e32, e33;
            Column<L>(v, 0, out e00, out e10, out e20, out e30);
            Column<L>(v, 1, out e01, out e11, out e21, out e31);
            Column<L>(v, 2, out e02, out e12, out e22, out e32);
            Column<L>(v, 3, out e03, out e13, out e23, out e33);
            Add(0, c, e00, e01, e02, e03);
            Add(4, c, e10, e11, e12, e13);
            Add(8, c, e20, e21, e22, e23);
            Add(12, c, e30, e31, e32, e33);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Column<L>(float* v, int b, out L r0, out L r1, out L r2, out L r3) where L : unmanaged, ILanes<L>
        {
            L v0 = L.Load(v + b * Stride), v1 = L.Load(v + (4 + b) * Stride), v2 = L.Load(v + (8 + b) * Stride), v3 = L.Load(v + (12 + b) * Stride);
            r0 = v0; r1 = v1 - v2 + v3; r2 = v1 + v2 - v0; r3 = L.Broadcast(0f) - v3;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Add<L>(int row, int c, L e0, L e1, L e2, L e3) where L : unmanaged, ILanes<L>
        {
            // Along the row the same adjoint: [e0; e1 − e2 + e3; e1 + e2 − e0; −e3].
            Accumulate((float*)D[row] + c, e0);
            Accumulate((float*)D[row + 1] + c, e1 - e2 + e3);
            Accumulate((float*)D[row + 2] + c, e1 + e2 - e0);
            Accumulate((float*)D[row + 3] + c, L.Broadcast(0f) - e3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Accumulate<L>(float* p, L value) where L : unmanaged, ILanes<L> => (L.Load(p) + value).Store(p);
    }

    /// <summary>U = G·g·Gᵀ, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], for one channel over a run of filters.</summary>
    private struct KernelTransform : IChannelOp
    {
        public float* G, U;
        public long Stride, GStride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int f) where L : unmanaged, ILanes<L>
        {
            L h = L.Broadcast(0.5f);
            // t[a][v] = (G·g)[a][v] over the kernel's rows u.
            Column<L>(0, f, h, out L t00, out L t10, out L t20, out L t30);
            Column<L>(1, f, h, out L t01, out L t11, out L t21, out L t31);
            Column<L>(2, f, h, out L t02, out L t12, out L t22, out L t32);
            Row(0, f, h, t00, t01, t02);
            Row(4, f, h, t10, t11, t12);
            Row(8, f, h, t20, t21, t22);
            Row(12, f, h, t30, t31, t32);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Column<L>(int v, int f, L h, out L a0, out L a1, out L a2, out L a3) where L : unmanaged, ILanes<L>
        {
            L g0 = L.Load(G + v * GStride + f), g1 = L.Load(G + (3 + v) * GStride + f), g2 = L.Load(G + (6 + v) * GStride + f);
            a0 = g0; a1 = (g0 + g1 + g2) * h; a2 = (g0 - g1 + g2) * h; a3 = g2;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Row<L>(int xi, int f, L h, L t0, L t1, L t2) where L : unmanaged, ILanes<L>
        {
            float* u = U + f;
            t0.Store(u + xi * Stride);
            ((t0 + t1 + t2) * h).Store(u + (xi + 1) * Stride);
            ((t0 - t1 + t2) * h).Store(u + (xi + 2) * Stride);
            t2.Store(u + (xi + 3) * Stride);
        }
    }

    /// <summary>dK = Gᵀ·dU·G (the adjoint of the kernel transform), for one channel over a run of filters.</summary>
    private struct KernelGradientTransform : IChannelOp
    {
        public float* DU, DK;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int f) where L : unmanaged, ILanes<L>
        {
            L h = L.Broadcast(0.5f);
            // e[u][b] = (Gᵀ·dU)[u][b]: [dU0 + ½(dU1 + dU2); ½(dU1 − dU2); ½(dU1 + dU2) + dU3] per column b.
            Column<L>(0, f, h, out L e00, out L e10, out L e20);
            Column<L>(1, f, h, out L e01, out L e11, out L e21);
            Column<L>(2, f, h, out L e02, out L e12, out L e22);
            Column<L>(3, f, h, out L e03, out L e13, out L e23);
            Row(0, f, h, e00, e01, e02, e03);
            Row(3, f, h, e10, e11, e12, e13);
            Row(6, f, h, e20, e21, e22, e23);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Column<L>(int b, int f, L h, out L r0, out L r1, out L r2) where L : unmanaged, ILanes<L>
        {
            L d0 = L.Load(DU + b * Stride + f), d1 = L.Load(DU + (4 + b) * Stride + f), d2 = L.Load(DU + (8 + b) * Stride + f), d3 = L.Load(DU + (12 + b) * Stride + f);
            L s = (d1 + d2) * h;
            r0 = d0 + s; r1 = (d1 - d2) * h; r2 = s + d3;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Row<L>(int at, int f, L h, L e0, L e1, L e2, L e3) where L : unmanaged, ILanes<L>
        {
            float* k = DK + f;
            L s = (e1 + e2) * h;
            (e0 + s).Store(k + at * Stride);
            ((e1 - e2) * h).Store(k + (at + 1) * Stride);
            (s + e3).Store(k + (at + 2) * Stride);
        }
    }
}
