using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Cortex.Activations;

namespace Cortex.Kernels;

/// <summary>
/// 3×3 stride-1 convolutions by Winograd's minimal filtering F(m×m, 3×3) (Lavin and Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2016): each m×m block of outputs ("tile") is computed from its n×n input patch
/// (n = m + 2) with n² multiplies per (channel, filter) instead of 9m². The input patch is transformed (V = Bᵀ·d·B),
/// the kernel once per call (U = G·g·Gᵀ), and the n² element-wise products summed over channels are n² GEMMs, one per
/// position ξ of the transform: M[ξ] = V[ξ]·U[ξ] with V[ξ] tiles × C and U[ξ] C × F; the output tile is Aᵀ·M·A.
/// Two tilings (<see cref="ITiling"/>): F(2×2, 3×3) (<see cref="F2"/>, 16 products for 4 outputs) and F(3×3, 3×3)
/// (<see cref="F3"/>, 25 for 9); the output's shape picks the one with fewer products (<see cref="UsesF3"/>).
/// </summary>
/// <remarks>
/// <para>Backward is the adjoint of the same computation (exact, since the forward is linear in both operands): the
/// output gradient of a tile is transformed (Wz = A·dY·Aᵀ, n×n from m×m), then dU[ξ] = V[ξ]ᵀ·Wz[ξ] gives the kernel
/// gradient (dK = Gᵀ·dU·G) and dV[ξ] = Wz[ξ]·U[ξ]ᵀ the input gradient (dX = the sum of B·dV·Bᵀ over the overlapping
/// n×n patches).</para>
/// <para>Both passes split the batch into the same chunks of whole images (at most <see cref="MaxChunks"/>; the shapes decide), which the
/// cores take one at a time, and each chunk into blocks of tile rows (one row of tiles of one image is the unit) sized
/// so that a block's transformed input and products stay in a core's L2. A chunk has its own outputs, its own input
/// gradient pixels (neighbouring patches add into the same pixels only within an image) and its own slot for the kernel
/// and bias gradients; the slots are added in order. So the bits depend on the shapes only, never on the thread count
/// or on which core ran a chunk. The transforms are fixed sequences of additions and multiplications by constants (no
/// fused multiply-adds), the same IEEE operations at every vector width, so every width gives the same bits there.</para>
/// <para>Against im2col + GEMM, F(2×2) does 2.25× fewer multiply-adds and F(3×3) 3.24× (less the tiles' overhang
/// where the tile does not divide the output's side), and nothing copies the 9× larger patch matrix. The price is
/// rounding: F(2×2)'s results are within ~3e-7 of the exact convolution's largest value on the residual CNN's shapes,
/// F(3×3)'s within ~1.1e-6 (its transforms' constants reach 4 and 1/6), both well inside the 1e-5 + 1e-4·|x| the
/// PyTorch reference tests allow.</para>
/// </remarks>
[SkipLocalsInit]   // F(3×3)'s transforms keep a 25-vector scratch block (up to 1.6 KB) that must not be zeroed per tile
internal static unsafe partial class Winograd
{
    /// <summary>Fewer channels or filters than this go through im2col: the products are then too thin to pay for the
    /// transforms (a first layer's single channel above all).</summary>
    internal const int MinChannels = 8;

    /// <summary>Fewer F(2×2) tiles than this over the batch go through im2col: one image's products have a few dozen
    /// rows each, and im2col's single product with the pooling folded in was faster there (the Fashion CNN's one-image
    /// Predict on a busy host: 47–49 µs against 63 with Winograd and the pooling apart).</summary>
    internal const int MinTiles = 128;

    /// <summary>Off under <c>CORTEX_WINOGRAD=0</c> (every convolution then takes im2col + GEMM): for comparing the two
    /// in benchmarks, or ruling Winograd out when results differ from another framework's in the last bits.
    /// <c>CORTEX_WINOGRAD=2</c> keeps every Winograd convolution on F(2×2) (the more exact of the two tilings).</summary>
    internal static readonly bool Enabled = Environment.GetEnvironmentVariable("CORTEX_WINOGRAD") != "0";

    private static readonly bool OnlyF2 = Environment.GetEnvironmentVariable("CORTEX_WINOGRAD") == "2";

    /// <summary>Floats one block of transformed input and products holds: 768 KiB, within a 1 MiB L2. At 512 KiB the
    /// residual CNN's 32 → 64 convolution cut each chunk into 13 + 3 tile rows (52 and 12 tiles, padded to 56 and 16
    /// rows: ProductRows); now one block of 64 (1–2% faster on the epoch, interleaved runs on the Zen 4 host).</summary>
    private const int BlockFloats = 3 << 16;

    /// <summary>Most chunks a batch is split into: enough for the cores to even out a slow one by taking chunks in turn,
    /// few enough that adding the chunks' kernel-gradient slots (n² · C · F floats each) stays small.</summary>
    private const int MaxChunks = 8;

    /// <summary>Floats the kernel gradient's chunk slots may take together (8 MiB).</summary>
    private const int SlotFloats = 1 << 21;

    /// <summary>Whether <see cref="Forward"/> and <see cref="Backward"/> serve this convolution: a 3×3 window, stride 1,
    /// no dilation, no groups, at least <see cref="MinChannels"/> channels and filters and <see cref="MinTiles"/> tiles.
    /// The choice depends on the shapes only, so training, the tape, <c>Call</c> and <c>Predict</c> make the same one.</summary>
    internal static bool Applies(in Window2D w, int groups, int filters) =>
        Enabled && groups == 1 && w.KH == 3 && w.KW == 3 && w.SH == 1 && w.SW == 1 && w.DH == 1 && w.DW == 1
        && w.C >= MinChannels && filters >= MinChannels && (long)w.N * ((w.OH + 1) / 2) * ((w.OW + 1) / 2) >= MinTiles;

    /// <summary>Whether a convolution <see cref="Applies"/> serves takes F(3×3, 3×3): when its tiles need fewer
    /// products than F(2×2)'s over this output (13×13: 625 against 784 per channel and filter; 11×11: 400 against 576;
    /// 4×4: 100 against 64, so F(2×2)). The output's shape alone decides, never the batch size.</summary>
    internal static bool UsesF3(in Window2D w) =>
        !OnlyF2 && 25L * ((w.OH + 2) / 3) * ((w.OW + 2) / 3) < 16L * ((w.OH + 1) / 2) * ((w.OW + 1) / 2);

    /// <summary>Floats <see cref="Forward"/> keeps for <see cref="Backward"/> when given a buffer this long: the whole
    /// batch's transformed input, n² · tiles · C (for a 3×3 window a third to a half of im2col's 9 · pixels · C), then
    /// the transformed kernel, n² · C · F, which backward then need not transform again.</summary>
    internal static long KeptFloats(in Window2D w, int filters) =>
        UsesF3(w) ? Kept<F3>(w) + 25L * w.C * filters : Kept<F2>(w) + 16L * w.C * filters;

    private static long Kept<T>(in Window2D w) where T : ITiling =>
        (long)T.N * T.N * w.N * ((w.OH + T.M - 1) / T.M) * ((w.OW + T.M - 1) / T.M) * w.C + Slack * (long)w.C;

    /// <summary>
    /// The rows a block's products run on: its tiles rounded up to the micro-kernel's rows (<see cref="Gemm.ActiveRows"/>),
    /// so that no product has a ragged last panel of A to pack (at 13 × 13 outputs those packs, ~4 rows per block and
    /// position, took ~2.4% of the residual CNN's epoch). The rows past the tiles read the next position's first rows (or,
    /// after the last position, <see cref="Slack"/> rows past the block) and write theirs into the next position's
    /// products, which the positions' products, run in order, then overwrite; nothing reads those rows.
    /// </summary>
    private static int ProductRows(int tiles) => (tiles + ActiveRows - 1) / ActiveRows * ActiveRows;

    private static readonly int ActiveRows = Gemm.ActiveRows;

    /// <summary>Rows of room past each buffer the products read or write (<see cref="ProductRows"/>; MR ≤ 8).</summary>
    private const int Slack = 8;

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
    private static Job Partition<T>(in Window2D w, int filters) where T : ITiling
    {
        int th = (w.OH + T.M - 1) / T.M, tw = (w.OW + T.M - 1) / T.M, positions = T.N * T.N;
        int transformed = positions * w.C * filters;
        return new Job
        {
            W = w, Filters = filters, TilesH = th, TilesW = tw, Transformed = transformed, SlotLength = transformed + filters,
            Chunks = Math.Clamp(SlotFloats / (transformed + filters), 1, Math.Min(w.N, MaxChunks)),
            UnitsPerBlock = Math.Max(1, BlockFloats / (positions * tw * (w.C + filters))),
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
    /// <paramref name="kept"/> buffer of <see cref="KeptFloats"/> the transformed input stays there for backward.
    /// <paramref name="tile"/> 2 or 3 forces a tiling (tests); 0 lets the shape choose.</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, in Window2D w,
        ActivationFunction activation, int filters, Span<float> y, Span<float> kept = default, int tile = 0)
    {
        if (tile == 3 || (tile == 0 && UsesF3(w))) Forward<F3>(x, kernel, bias, w, activation, filters, y, kept);
        else Forward<F2>(x, kernel, bias, w, activation, filters, y, kept);
    }

    /// <summary>dK, db (when not empty) and dx (when not empty) from dz, the gradient before the activation, all three
    /// overwritten (dx need not be zeroed: each core clears its images' part before adding their patches into it).
    /// <paramref name="kept"/> is the buffer <see cref="Forward"/> was given (its transformed input; rebuilt when none
    /// was kept); <paramref name="tile"/> must be what <see cref="Forward"/> was given.</summary>
    internal static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w,
        int filters, Span<float> dk, Span<float> db, Span<float> dx, ReadOnlySpan<float> kept = default, int tile = 0)
    {
        if (tile == 3 || (tile == 0 && UsesF3(w))) Backward<F3>(x, kernel, dz, w, filters, dk, db, dx, kept);
        else Backward<F2>(x, kernel, dz, w, filters, dk, db, dx, kept);
    }

    private static void Forward<T>(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, in Window2D w,
        ActivationFunction activation, int filters, Span<float> y, Span<float> kept) where T : ITiling
    {
        var job = Partition<T>(w, filters);
        long v = Kept<T>(w);
        fixed (float* px = x, pb = bias, py = y, pv = kept)
        {
            job.Kept = kept.Length >= v + job.Transformed ? pv : null;
            float* u = job.Kept != null ? pv + v : Pin(ref kernelBuf, job.Transformed);   // kept: backward reuses it
            fixed (float* pk = kernel) TransformKernel<T>(pk, w.C, filters, u);
            job.X = px; job.U = u; job.Bias = pb; job.BiasLength = bias.Length; job.Y = py;
            job.Activation = GCHandle.Alloc(activation);
            try { RunChunks(&job, &ForwardChunks<T>); }
            finally { job.Activation.Free(); }
        }
    }

    private static void Backward<T>(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, in Window2D w,
        int filters, Span<float> dk, Span<float> db, Span<float> dx, ReadOnlySpan<float> kept) where T : ITiling
    {
        var job = Partition<T>(w, filters);
        long v = Kept<T>(w);
        long slots = (long)job.SlotLength * job.Chunks;
        float* u = Pin(ref kernelBuf, job.Transformed + slots + job.Transformed);
        fixed (float* px = x, pz = dz, pd = dx, pv = kept)
        {
            job.Kept = kept.Length >= v + job.Transformed ? pv : null;   // read only
            job.Slots = u + job.Transformed;
            float* ut = job.Slots + slots;
            if (job.Kept != null) u = pv + v;   // the forward's U
            else if (!dx.IsEmpty)
                fixed (float* pk = kernel) TransformKernel<T>(pk, w.C, filters, u);
            if (!dx.IsEmpty)
            {
                // Uᵀ once, for dV = Wz·Uᵀ: the products then read it as it lies (C = NR floats a row: in place) instead
                // of each block packing U transposed, 16 blocks × n² positions a pass for the residual CNN (2% of its epoch).
                var t = new KernelJob { From = u, To = ut, F = filters, Stride = (long)w.C * filters };
                int positions = T.N * T.N, cores = Math.Min(GemmThreads.MaxParts, positions);
                Span<int> cuts = stackalloc int[cores + 1];
                for (int p = 0; p <= cores; p++) cuts[p] = positions * p / cores;
                if (cores < 2 || !GemmThreads.TryRunRanges(&TransposeU, &t, cuts)) TransposeU(&t, 0, positions);
                u = ut;
            }
            job.X = px; job.U = u; job.Dz = pz; job.Dx = pd;
            RunChunks(&job, &BackwardChunks<T>);
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
        fixed (float* pk = dk) TransformKernelGradient<T>(job.Slots, w.C, filters, pk);
        if (!db.IsEmpty) new ReadOnlySpan<float>(job.Slots + job.Transformed, filters).CopyTo(db);
    }

    /// <summary>To[ξ] (F × C) = From[ξ]ᵀ (From[ξ] C × F) for positions [p0, p1).</summary>
    private static void TransposeU(void* state, int p0, int p1)
    {
        var j = (KernelJob*)state;
        int f = j->F, c = (int)(j->Stride / f);
        for (int p = p0; p < p1; p++)
        {
            float* from = j->From + p * j->Stride, to = j->To + p * j->Stride;
            // In 8 × 8 blocks, so both sides stay within a few cache lines (a plain loop strides one side by a row).
            for (int c0 = 0; c0 < c; c0 += 8)
                for (int k0 = 0; k0 < f; k0 += 8)
                {
                    int c1 = Math.Min(c, c0 + 8), k1 = Math.Min(f, k0 + 8);
                    if (c1 - c0 == 8 && k1 - k0 == 8 && System.Runtime.Intrinsics.X86.Avx.IsSupported)
                        Gemm.Transpose8x8(from + (long)c0 * f + k0, f, to + (long)k0 * c + c0, c);
                    else
                        for (int k = k0; k < k1; k++)
                            for (int ch = c0; ch < c1; ch++) to[(long)k * c + ch] = from[(long)ch * f + k];
                }
        }
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
    private static float* Work(Job* j, int positions, out float* products, out float* zeros, out float* trash)
    {
        int c = j->W.C, f = j->Filters, most = Math.Min(j->W.N * j->TilesH, j->UnitsPerBlock) * j->TilesW, edge = Math.Max(c, f);
        long v = (long)positions * most * c + Slack * edge, m = (long)positions * most * f + Slack * edge;   // (ProductRows)
        float* p = Pin(ref work, v + m + 2 * edge);
        products = p + v;
        zeros = products + m;
        trash = zeros + edge;
        new Span<float>(zeros, edge).Clear();
        return p;
    }

    private static void ForwardChunks<T>(void* state, int k0, int k1) where T : ITiling
    {
        var j = (Job*)state;
        var activation = (ActivationFunction)j->Activation.Target!;
        Window2D w = j->W;
        int f = j->Filters, c = w.C, tw = j->TilesW, positions = T.N * T.N;
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            float* scratch = Work(j, positions, out float* m, out float* zeros, out float* trash);
            for (int k = k0; k < k1; k++)
            {
                var (first, end) = ChunkUnits(j, k);
                for (int u0 = first; u0 < end; u0 += j->UnitsPerBlock)
                {
                    int u1 = Math.Min(end, u0 + j->UnitsPerBlock), tiles = (u1 - u0) * tw;
                    float* v = j->Kept != null ? j->Kept + (long)positions * u0 * tw * c : scratch;
                    InputTiles<T>(j, u0, u1, v, tiles, zeros);
                    int rows = ProductRows(tiles);
                    for (int xi = 0; xi < positions; xi++)   // in order (ProductRows)
                        Gemm.Sgemm(false, false, rows, f, c, new ReadOnlySpan<float>(v + (long)xi * tiles * c, rows * c), c,
                            new ReadOnlySpan<float>(j->U + (long)xi * c * f, c * f), f, new Span<float>(m + (long)xi * tiles * f, rows * f), f);
                    // Bias and activation applied as the output transform stores (one pass fewer over y), for every
                    // element-wise activation; softmax's rows afterwards.
                    var fused = new OutputVisitor<T> { J = j, U0 = u0, U1 = u1, M = m, Tiles = tiles, Trash = trash };
                    if (!activation.Kernel.Accept(ref fused))
                    {
                        OutputTiles(j, u0, u1, m, tiles, trash, new OutputOp<T, Stored>());
                        long r0 = RowOf(u0, j->TilesH, T.M, w.OH), r1 = RowOf(u1, j->TilesH, T.M, w.OH);
                        activation.AddBiasApplyInPlace(new Span<float>(j->Y + r0 * w.OW * f, (int)((r1 - r0) * w.OW * f)),
                            new ReadOnlySpan<float>(j->Bias, j->BiasLength), f);
                    }
                }
            }
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
    }

    private static void BackwardChunks<T>(void* state, int k0, int k1) where T : ITiling
    {
        var j = (Job*)state;
        Window2D w = j->W;
        int f = j->Filters, c = w.C, tw = j->TilesW, positions = T.N * T.N;
        bool serial = GemmThreads.SerialOnThisThread;
        GemmThreads.SerialOnThisThread = true;
        try
        {
            float* scratch = Work(j, positions, out float* wz, out float* zeros, out float* trash);
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
                    if (j->Kept != null) v = j->Kept + (long)positions * u0 * tw * c;
                    else InputTiles<T>(j, u0, u1, v, tiles, zeros);
                    float* dv = scratch;   // over V when V was rebuilt here (no longer needed by then)
                    GradientTiles<T>(j, u0, u1, wz, tiles, zeros, biasSum);
                    for (int xi = 0; xi < positions; xi++)
                        Gemm.Sgemm(true, false, c, f, tiles, new ReadOnlySpan<float>(v + (long)xi * tiles * c, tiles * c), c,
                            new ReadOnlySpan<float>(wz + (long)xi * tiles * f, tiles * f), f, new Span<float>(slot + xi * c * f, c * f), f,
                            accumulate: u0 != first);
                    if (j->Dx == null) continue;
                    int rows = ProductRows(tiles);
                    for (int xi = 0; xi < positions; xi++)   // dV[ξ] = Wz[ξ]·U[ξ]ᵀ (j->U holds Uᵀ here), in order (ProductRows)
                        Gemm.Sgemm(false, false, rows, c, f, new ReadOnlySpan<float>(wz + (long)xi * tiles * f, rows * f), f,
                            new ReadOnlySpan<float>(j->U + (long)xi * c * f, c * f), c, new Span<float>(dv + (long)xi * tiles * c, rows * c), c);
                    ScatterTiles<T>(j, u0, u1, dv, tiles, trash);
                }
            }
        }
        finally { GemmThreads.SerialOnThisThread = serial; }
    }

    /// <summary>Runs the output transform with the activation's operator and the bias as its epilogue.</summary>
    private struct OutputVisitor<T> : Activations.IOperatorVisitor where T : ITiling
    {
        public Job* J;
        public int U0, U1, Tiles;
        public float* M, Trash;

        public readonly void Visit<TOp>(TOp op) where TOp : unmanaged, Activations.IActivationOperator =>
            OutputTiles(J, U0, U1, M, Tiles, Trash, new OutputOp<T, BiasActivation<TOp>>
            {
                Epilogue = new BiasActivation<TOp> { Op = op, Bias = J->BiasLength > 0 ? J->Bias : null },
            });
    }

    /// <summary>y = Aᵀ·M·A for tiles of units [u0, u1): each tile's m×m outputs (those past the output's edge go to
    /// the trash row), through <paramref name="op"/>'s epilogue.</summary>
    private static void OutputTiles<T, E>(Job* j, int u0, int u1, float* m, int tiles, float* trash, OutputOp<T, E> op)
        where T : ITiling where E : struct, IEpilogue
    {
        Window2D w = j->W;
        int f = j->Filters;
        op.Stride = (long)tiles * f;
        bool inside = false;
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                NextOutput<T>(j->Y, w, f, n, ty, tx, trash, ref op.Y, ref inside);
                op.M = m + (long)t * f;
                ForChannels(ref op, f);
            }
        }
    }

    /// <summary>The m×m output pixels of tile (ty, tx) of image n in an (N, OH, OW, F) tensor: their filter vectors, or
    /// <paramref name="outside"/> past the output's edge.</summary>
    private static void OutputPixels<T>(float* y, in Window2D w, int f, int n, int ty, int tx, float* outside, ref TilePixels p)
        where T : ITiling
    {
        int side = T.M;
        for (int i = 0; i < side; i++)
            for (int jj = 0; jj < side; jj++)
            {
                int oy = side * ty + i, ox = side * tx + jj;
                p[i * side + jj] = oy < w.OH && ox < w.OW ? (nint)(y + (((long)n * w.OH + oy) * w.OW + ox) * f) : (nint)outside;
            }
    }

    /// <summary>Sets <paramref name="d"/> to tile (ty, tx)'s input pixels (<see cref="PatchPointers"/>); a tile that lies
    /// inside the image right of one that did only moves the previous tile's pointers by a tile's width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NextPatch<T>(float* x, in Window2D w, int n, int ty, int tx, float* outside, ref PatchPixels d, ref bool inside)
        where T : ITiling
    {
        int iy0 = T.M * ty - w.PadTop, ix0 = T.M * tx - w.PadLeft;
        bool now = iy0 >= 0 && iy0 + T.N <= w.H && ix0 >= 0 && ix0 + T.N <= w.W;
        if (now && inside && tx > 0)
        {
            nint step = (nint)T.M * w.C * sizeof(float);
            for (int k = 0; k < T.N * T.N; k++) d[k] += step;
        }
        else PatchPointers<T>(x, w, n, ty, tx, outside, ref d);
        inside = now;
    }

    /// <summary>Sets <paramref name="p"/> to tile (ty, tx)'s output pixels (<see cref="OutputPixels"/>), moving the
    /// previous tile's when both lie inside the output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NextOutput<T>(float* y, in Window2D w, int f, int n, int ty, int tx, float* outside, ref TilePixels p, ref bool inside)
        where T : ITiling
    {
        bool now = (ty + 1) * T.M <= w.OH && (tx + 1) * T.M <= w.OW;
        if (now && inside && tx > 0)
        {
            nint step = (nint)T.M * f * sizeof(float);
            for (int k = 0; k < T.M * T.M; k++) p[k] += step;
        }
        else OutputPixels<T>(y, w, f, n, ty, tx, outside, ref p);
        inside = now;
    }

    /// <summary>The first output row of unit (tile row) <paramref name="unit"/> over the whole batch.</summary>
    private static long RowOf(int unit, int tilesH, int side, int oh)
    {
        int n = unit / tilesH, ty = unit - n * tilesH;
        return (long)n * oh + Math.Min(side * ty, oh);
    }

    /// <summary>V for tiles of units [u0, u1): V[ξ][t][c], ξ stride tiles·C.</summary>
    private static void InputTiles<T>(Job* j, int u0, int u1, float* v, int tiles, float* zeros) where T : ITiling
    {
        Window2D w = j->W;
        var op = new InputOp<T> { Stride = (long)tiles * w.C };
        bool inside = false;
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                NextPatch<T>(j->X, w, n, ty, tx, zeros, ref op.D, ref inside);
                op.V = v + (long)t * w.C;
                ForChannels(ref op, w.C);
            }
        }
    }

    /// <summary>The n×n input pixels of tile (ty, tx) of image n: their channel
    /// vectors, or a row of zeros (padding).</summary>
    private static void PatchPointers<T>(float* x, in Window2D w, int n, int ty, int tx, float* outside, ref PatchPixels d)
        where T : ITiling
    {
        int side = T.M, size = T.N, iy0 = side * ty - w.PadTop, ix0 = side * tx - w.PadLeft;
        if (iy0 >= 0 && ix0 >= 0 && iy0 + size <= w.H && ix0 + size <= w.W)
        {
            // Inside the image (most tiles): one base pointer, fixed steps.
            float* p = x + (((long)n * w.H + iy0) * w.W + ix0) * w.C;
            long row = (long)w.W * w.C;
            for (int r = 0; r < size; r++, p += row)
                for (int s = 0; s < size; s++)
                    d[r * size + s] = (nint)(p + s * w.C);
            return;
        }
        for (int r = 0; r < size; r++)
        {
            int iy = iy0 + r;
            for (int s = 0; s < size; s++)
            {
                int ix = ix0 + s;
                d[r * size + s] = (uint)iy < (uint)w.H && (uint)ix < (uint)w.W ? (nint)(x + (((long)n * w.H + iy) * w.W + ix) * w.C) : (nint)outside;
            }
        }
    }

    /// <summary>Wz for tiles of units [u0, u1): the transformed output gradient, Wz[ξ][t][f]; the tiles' output
    /// gradients are also added to <paramref name="biasSum"/> (the bias gradient, in tile order).</summary>
    private static void GradientTiles<T>(Job* j, int u0, int u1, float* wz, int tiles, float* zeros, float* biasSum) where T : ITiling
    {
        Window2D w = j->W;
        int f = j->Filters;
        var op = new GradientOp<T> { Stride = (long)tiles * f, BiasSum = biasSum };
        bool inside = false;
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                NextOutput<T>(j->Dz, w, f, n, ty, tx, zeros, ref op.Dy, ref inside);
                op.W = wz + (long)t * f;
                ForChannels(ref op, f);
            }
        }
    }

    /// <summary>dx += B·dV·Bᵀ for tiles of units [u0, u1), in tile order (neighbouring patches overlap).</summary>
    private static void ScatterTiles<T>(Job* j, int u0, int u1, float* dv, int tiles, float* trash) where T : ITiling
    {
        Window2D w = j->W;
        var op = new ScatterOp<T> { Stride = (long)tiles * w.C };
        bool inside = false;
        for (int unit = u0, t = 0; unit < u1; unit++)
        {
            int n = unit / j->TilesH, ty = unit - n * j->TilesH;
            for (int tx = 0; tx < j->TilesW; tx++, t++)
            {
                NextPatch<T>(j->Dx, w, n, ty, tx, trash, ref op.D, ref inside);
                op.V = dv + (long)t * w.C;
                ForChannels(ref op, w.C);
            }
        }
    }

    /// <summary>A kernel transform's operands: <see cref="TransformKernel"/> reads <see cref="From"/> (3, 3, C, F) and
    /// writes <see cref="To"/> [ξ][C][F]; <see cref="TransformKernelGradient"/> the other way round.</summary>
    private struct KernelJob
    {
        public float* From, To;
        public int F;
        public long Stride;
    }

    /// <summary>Runs a kernel transform's channels [0, c) on the cores in fixed parts when the kernel is large enough to
    /// pay for a dispatch (each channel is transformed alone, so the parts change no bits): done once per pass, it was
    /// ~3% of the residual CNN's epoch on the calling thread alone.</summary>
    private static void OverChannels(delegate*<void*, int, int, void> body, KernelJob* job, int c)
    {
        int parts = Math.Min(GemmThreads.MaxParts, c / 8);
        if (parts > 1 && (long)c * job->F >= 1024)
        {
            Span<int> bounds = stackalloc int[parts + 1];
            for (int t = 0; t <= parts; t++) bounds[t] = c * t / parts;
            if (GemmThreads.TryRunRanges(body, job, bounds)) return;
        }
        body(job, 0, c);
    }

    /// <summary>U[ξ][c][f] = (G·g·Gᵀ)[ξ] for the kernel (3, 3, C, F).</summary>
    private static void TransformKernel<T>(float* kernel, int c, int f, float* u) where T : ITiling
    {
        var job = new KernelJob { From = kernel, To = u, F = f, Stride = (long)c * f };
        OverChannels(&KernelChannels<T>, &job, c);
    }

    private static void KernelChannels<T>(void* state, int c0, int c1) where T : ITiling
    {
        var j = (KernelJob*)state;
        var op = new KernelOp<T> { Stride = j->Stride, GStride = j->Stride };
        for (int ch = c0; ch < c1; ch++)
        {
            op.G = j->From + (long)ch * j->F;
            op.U = j->To + (long)ch * j->F;
            ForChannels(ref op, j->F);
        }
    }

    /// <summary>dK (3, 3, C, F) = Gᵀ·dU·G from dU[ξ][c][f].</summary>
    private static void TransformKernelGradient<T>(float* du, int c, int f, float* dk) where T : ITiling
    {
        var job = new KernelJob { From = du, To = dk, F = f, Stride = (long)c * f };
        OverChannels(&KernelGradientChannels<T>, &job, c);
    }

    private static void KernelGradientChannels<T>(void* state, int c0, int c1) where T : ITiling
    {
        var j = (KernelJob*)state;
        var op = new KernelGradientOp<T> { Stride = j->Stride };
        for (int ch = c0; ch < c1; ch++)
        {
            op.DU = j->From + (long)ch * j->F;
            op.DK = j->To + (long)ch * j->F;
            ForChannels(ref op, j->F);
        }
    }

    /// <summary>An operation on a run of channels (or filters) starting at an offset, written once for every width.</summary>
    private interface IChannelOp
    {
        void Run<L>(int c) where L : unmanaged, ILanes<L>;
    }

    /// <summary>Runs <paramref name="op"/> over <paramref name="count"/> channels at the widest accelerated width, then
    /// narrower ones, then one at a time: the transforms are the same operations at every width, so the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForChannels<T>(ref T op, int count) where T : struct, IChannelOp
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated && count >= 16) c = AtWidth<T, Lanes512>(ref op, c, count);
        if (Vector256.IsHardwareAccelerated && c + 8 <= count) c = AtWidth<T, Lanes256>(ref op, c, count);
        if (Vector128.IsHardwareAccelerated && c + 4 <= count) c = AtWidth<T, Lanes128>(ref op, c, count);
        if (c < count) AtWidth<T, ScalarLane>(ref op, c, count);
    }

    /// <summary>The channels from <paramref name="c"/> on, <typeparamref name="L"/>'s lanes at a time; returns where it
    /// stopped. Not inlined: each width's transform is then a method of its own, small enough for the JIT to inline
    /// every vector operation in it (the four widths inlined into one loop exceeded its budget, and F(3×3)'s additions
    /// became calls).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int AtWidth<T, L>(ref T op, int c, int count) where T : struct, IChannelOp where L : unmanaged, ILanes<L>
    {
        for (; c + L.Count <= count; c += L.Count) op.Run<L>(c);
        return c;
    }

    /// <summary>A tile's input pixels (up to 5×5), row-major.</summary>
    [InlineArray(25)] internal struct PatchPixels { private nint p; }

    /// <summary>A tile's output pixels (up to 3×3), row-major.</summary>
    [InlineArray(9)] internal struct TilePixels { private nint p; }

    /// <summary>
    /// One Winograd tiling F(m×m, 3×3): its sides and its six transforms, each on one run of channel lanes
    /// (<c>c</c> is the offset of the run; pointers and strides are in floats). The driver above is the same for all.
    /// </summary>
    internal interface ITiling
    {
        /// <summary>Outputs per tile side (m).</summary>
        static abstract int M { get; }

        /// <summary>Input patch side, m + 2; the transforms have N² positions.</summary>
        static abstract int N { get; }

        /// <summary>V[ξ] = (Bᵀ·d·B)[ξ], stored at <paramref name="v"/> + ξ·<paramref name="stride"/>.</summary>
        static abstract void Input<L>(ref PatchPixels d, float* v, long stride, int c) where L : unmanaged, ILanes<L>;

        /// <summary>y = Aᵀ·M·A, M[ξ] read at <paramref name="m"/> + ξ·<paramref name="stride"/>.</summary>
        static abstract void Output<L>(float* m, long stride, ref TilePixels y, int c) where L : unmanaged, ILanes<L>;

        /// <summary>Wz = A·dY·Aᵀ (the output transform's adjoint); dY's sum is added to <paramref name="biasSum"/>.</summary>
        static abstract void Gradient<L>(ref TilePixels dy, float* w, long stride, float* biasSum, int c) where L : unmanaged, ILanes<L>;

        /// <summary>dx += B·dV·Bᵀ (the input transform's adjoint) over the patch's pixels.</summary>
        static abstract void Scatter<L>(float* v, long stride, ref PatchPixels d, int c) where L : unmanaged, ILanes<L>;

        /// <summary>U = G·g·Gᵀ for one channel: g's 9 taps <paramref name="gStride"/> apart, U's positions
        /// <paramref name="stride"/> apart; <paramref name="f"/> the filter offset.</summary>
        static abstract void Kernel<L>(float* g, long gStride, float* u, long stride, int f) where L : unmanaged, ILanes<L>;

        /// <summary>dK = Gᵀ·dU·G (the kernel transform's adjoint) for one channel.</summary>
        static abstract void KernelGradient<L>(float* du, long stride, float* dk, int f) where L : unmanaged, ILanes<L>;
    }

    private struct InputOp<T> : IChannelOp where T : ITiling
    {
        public PatchPixels D;
        public float* V;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L> => T.Input<L>(ref D, V, Stride, c);
    }

    private struct OutputOp<T, E> : IChannelOp where T : ITiling where E : struct, IEpilogue
    {
        public TilePixels Y;
        public float* M;
        public long Stride;
        public E Epilogue;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L>
        {
            T.Output<L>(M, Stride, ref Y, c);
            if (typeof(E) == typeof(Stored)) return;
            // The epilogue over the tile's outputs just stored, still in L1 (inside the transform it pushed the
            // transform past the JIT's inlining limits).
            for (int k = 0; k < T.M * T.M; k++)
            {
                float* p = (float*)Y[k] + c;
                Epilogue.Apply(L.Load(p), c).Store(p);
            }
        }
    }

    /// <summary>What the output transform does to each vector it stores (c: the vector's filter offset).</summary>
    internal interface IEpilogue
    {
        L Apply<L>(L value, int c) where L : unmanaged, ILanes<L>;
    }

    /// <summary>Stores the transform's values as they are.</summary>
    internal readonly struct Stored : IEpilogue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public L Apply<L>(L value, int c) where L : unmanaged, ILanes<L> => value;
    }

    /// <summary>g(value + bias) (no bias: g(value)), what <see cref="ActivationFunction.AddBiasApplyInPlace"/> computes.</summary>
    internal struct BiasActivation<TOp> : IEpilogue where TOp : unmanaged, Activations.IActivationOperator
    {
        public TOp Op;
        public float* Bias;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly L Apply<L>(L value, int c) where L : unmanaged, ILanes<L> =>
            L.Activate(Op, Bias == null ? value : value + L.Load(Bias + c));
    }

    private struct GradientOp<T> : IChannelOp where T : ITiling
    {
        public TilePixels Dy;
        public float* W, BiasSum;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L> => T.Gradient<L>(ref Dy, W, Stride, BiasSum, c);
    }

    private struct ScatterOp<T> : IChannelOp where T : ITiling
    {
        public PatchPixels D;
        public float* V;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int c) where L : unmanaged, ILanes<L> => T.Scatter<L>(V, Stride, ref D, c);
    }

    private struct KernelOp<T> : IChannelOp where T : ITiling
    {
        public float* G, U;
        public long Stride, GStride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int f) where L : unmanaged, ILanes<L> => T.Kernel<L>(G, GStride, U, Stride, f);
    }

    private struct KernelGradientOp<T> : IChannelOp where T : ITiling
    {
        public float* DU, DK;
        public long Stride;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<L>(int f) where L : unmanaged, ILanes<L> => T.KernelGradient<L>(DU, Stride, DK, f);
    }
}
