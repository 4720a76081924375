using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cortex.Kernels;

/// <summary>Which micro-kernel family <see cref="Gemm"/> runs; <see cref="Auto"/> picks the widest the CPU accelerates.</summary>
internal enum GemmKernel { Auto, Vector512, Vector256, Vector128, Scalar }

/// <summary>
/// Single-precision matrix multiply in pure managed code, organised the way BLIS and GotoBLAS organise it:
/// C is cut into NC-wide column blocks, k into KC-deep slices, and rows into MC-tall blocks; each KC×NC slice of B and
/// each MC×KC block of A is copied ("packed") into a contiguous, zero-padded buffer laid out in the exact order the
/// micro-kernel reads it, and the micro-kernel (<see cref="IGemmMicroKernel"/>) computes MR×NR tiles in registers.
/// </summary>
/// <remarks>
/// Why packing: the kernel then reads both operands with unit stride from L1/L2, with no TLB misses or cache-set
/// conflicts from large leading dimensions, and transposed operands cost nothing extra — the transpose happens while
/// packing. Why blocking: each packed B micro-panel is reused across a whole A block, each A block across a whole B
/// slice, so the kernel runs out of cache rather than memory.
/// Threads split C by rows or by columns (never k), and every C element is computed by the same FMA chain whatever the
/// split, so results are bit-identical for any thread count.
/// </remarks>
internal static unsafe class Gemm
{
    /// <summary>Below this many multiply-adds a second thread costs more to wake than it saves (≈ 2 µs of work).</summary>
    private const long ParallelThreshold = 1L << 18;

    /// <summary>Products with at most this many rows (training batches) that sum k in halves split k across two threads.</summary>
    internal const int SplitKMaxRows = 256;

    /// <summary>
    /// C = op(A)·op(B) (+ C when accumulate). op(A) is m×k, op(B) is k×n, C is m×n, all row-major with leading dimensions.
    /// transA: A is stored k×m (row-major, lda ≥ m) and used transposed; likewise transB: B stored n×k (ldb ≥ k).
    /// </summary>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate = false)
        => Sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, GemmKernel.Auto, Environment.ProcessorCount);

    /// <summary>
    /// As the main overload, with the micro-kernel family and the thread cap chosen by the caller (tests use this to
    /// compare paths bit for bit). An unsupported <paramref name="kernel"/> falls back to the next narrower one.
    /// </summary>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate,
        GemmKernel kernel, int maxThreads)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Sgemm expects non-negative sizes. Received: m={m}, n={n}, k={k}");
        CheckOperand("A", transA ? k : m, transA ? m : k, a.Length, lda);
        CheckOperand("B", transB ? n : k, transB ? k : n, b.Length, ldb);
        CheckOperand("C", m, n, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            // An empty sum is zero: C = 0 (or unchanged when accumulating).
            if (!accumulate)
                for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }

        fixed (float* pa = a, pb = b, pc = c)
        {
            var problem = new GemmProblem
            {
                A = pa, ARow = transA ? 1 : lda, AStep = transA ? lda : 1,
                B = pb, BCol = transB ? ldb : 1, BStep = transB ? 1 : ldb,
                C = pc, Ldc = ldc, M = m, N = n, K = k, Accumulate = accumulate,
            };
            var family = Resolve(kernel);
            if (m == 1 && problem.BCol == 1)
                switch (family)
                {
                    case GemmKernel.Vector512: RowTimesMatrix<Row512>(problem); return;
                    case GemmKernel.Vector256: RowTimesMatrix<Row256>(problem); return;
                    case GemmKernel.Vector128: RowTimesMatrix<Row128>(problem); return;
                }
            switch (family)
            {
                case GemmKernel.Vector512: Run<Avx512Kernel>(problem, maxThreads); break;
                case GemmKernel.Vector256: Run<Avx2Kernel>(problem, maxThreads); break;
                case GemmKernel.Vector128: Run<Vector128Kernel>(problem, maxThreads); break;
                default: Run<ScalarKernel>(problem, maxThreads); break;
            }
        }
    }

    /// <summary>
    /// The micro-kernel family <see cref="GemmKernel.Auto"/> runs in this process: the widest the JIT accelerates, fixed
    /// at start-up (<c>DOTNET_EnableAVX512=0</c> makes it <see cref="GemmKernel.Vector256"/> on an AVX-512 machine,
    /// <c>DOTNET_EnableAVX2=0</c> makes it <see cref="GemmKernel.Vector128"/>). The benchmarks report it; the tests check it.
    /// </summary>
    internal static GemmKernel ActiveKernel => Resolve(GemmKernel.Auto);

    /// <summary>Rows of A one micro-kernel tile takes (MR) for <see cref="ActiveKernel"/>: a product whose row count is
    /// a multiple of it reads A in place with no ragged last panel to pack.</summary>
    internal static int ActiveRows => ActiveKernel switch
    {
        GemmKernel.Vector512 => Avx512Kernel.MR,
        GemmKernel.Vector256 => Avx2Kernel.MR,
        GemmKernel.Vector128 => Vector128Kernel.MR,
        _ => ScalarKernel.MR,
    };

    /// <summary>The kernel asked for, or the next narrower one this process supports.</summary>
    private static GemmKernel Resolve(GemmKernel kernel)
    {
        if (kernel == GemmKernel.Auto) kernel = GemmKernel.Vector512;
        if (kernel == GemmKernel.Vector512 && !Avx512Kernel.IsSupported) kernel = GemmKernel.Vector256;
        if (kernel == GemmKernel.Vector256 && !Avx2Kernel.IsSupported) kernel = GemmKernel.Vector128;
        if (kernel == GemmKernel.Vector128 && !Vector128Kernel.IsSupported) kernel = GemmKernel.Scalar;
        return kernel;
    }

    private static void CheckOperand(string name, int rows, int cols, int length, int ld)
    {
        // BLAS asks for ld ≥ max(1, cols) because Fortran cannot declare a zero-length leading dimension; here an
        // operand with no columns is never addressed, so ld = cols = 0 (a (3, 0) matrix, stored densely) is accepted
        // and the product is the empty sum below.
        if (ld < cols || ld < 0)
            throw new ArgumentOutOfRangeException(name, $"Sgemm expects the leading dimension of {name} to be at least {cols} (its stored row length). Received: {ld}");
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"Sgemm expects {name} ({rows}×{cols}, leading dimension {ld}) to hold at least {needed} floats. Received: {length}", name);
    }

    /// <summary>
    /// One row times a row-major matrix (single-sample inference, a 1×784 · 784×128 layer): the micro-kernel would
    /// compute its MR − 1 rows of padding, and packing B would copy all of it for one use. Instead B streams through
    /// once, row by row, into 8 vectors of accumulators, at the width of the kernel family this process runs
    /// (<typeparamref name="TL"/>). Each element gets that family's exact arithmetic — the same k slices, each a chain
    /// of its multiply-adds (fused where it fuses) from zero added to C — so a row's result does not depend on its batch.
    /// </summary>
    /// <remarks>One core computes it: splitting the columns between two (each streaming half of B) measured 2–3× slower
    /// for the 784 → 128 layer on a host whose cores share no cache — handing the work over and getting the columns
    /// back costs more than the ~2 µs product.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimesMatrix<TL>(in GemmProblem p) where TL : unmanaged, IRowLanes<TL>
    {
        int kSlices = (p.K + TL.KC - 1) / TL.KC;
        if (!InHalves(p, kSlices))
        {
            RowSlices<TL>(p, p.C, 0, kSlices, kSlices, p.Accumulate);
            return;
        }
        // The blocked path's two-halves order: the first half of the slices into C, the second into a scratch row,
        // then one add.
        int h = (kSlices + 1) / 2;
        RowSlices<TL>(p, p.C, 0, h, kSlices, p.Accumulate);
        float* t = SumBuffer.Get(p.N);
        RowSlices<TL>(p, t, h, kSlices, kSlices, false);
        AddRows(p.C, p.Ldc, t, p.N, 1, p.N);
    }

    /// <summary>Slices [s0, s1) of one row times B, added into <paramref name="cRow"/> (the first slice overwrites it unless
    /// <paramref name="accumulate"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowSlices<TL>(in GemmProblem p, float* cRow, int s0, int s1, int kSlices, bool accumulate) where TL : unmanaged, IRowLanes<TL>
    {
        int lanes = TL.Count, block = 8 * lanes;
        int n = p.N, k = p.K, wide = n / block * block;
        for (int s = s0; s < s1; s++)
        {
            int p0 = (int)((long)k * s / kSlices), p1 = (int)((long)k * (s + 1) / kSlices);
            bool overwrite = s == s0 && !accumulate;
            for (int j = 0; j < wide; j += block)
            {
                TL c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
                float* b = p.B + p0 * p.BStep + j;
                for (int q = p0; q < p1; q++, b += p.BStep)
                {
                    var x = TL.Broadcast(p.A + q * p.AStep);
                    c0 = TL.Madd(x, TL.Load(b), c0);
                    c1 = TL.Madd(x, TL.Load(b + lanes), c1);
                    c2 = TL.Madd(x, TL.Load(b + 2 * lanes), c2);
                    c3 = TL.Madd(x, TL.Load(b + 3 * lanes), c3);
                    c4 = TL.Madd(x, TL.Load(b + 4 * lanes), c4);
                    c5 = TL.Madd(x, TL.Load(b + 5 * lanes), c5);
                    c6 = TL.Madd(x, TL.Load(b + 6 * lanes), c6);
                    c7 = TL.Madd(x, TL.Load(b + 7 * lanes), c7);
                }
                float* c = cRow + j;
                c0.Put(c, overwrite); c1.Put(c + lanes, overwrite); c2.Put(c + 2 * lanes, overwrite); c3.Put(c + 3 * lanes, overwrite);
                c4.Put(c + 4 * lanes, overwrite); c5.Put(c + 5 * lanes, overwrite); c6.Put(c + 6 * lanes, overwrite); c7.Put(c + 7 * lanes, overwrite);
            }
            for (int j = wide; j + 4 * lanes <= n; j += 4 * lanes)
            {
                TL c0 = default, c1 = default, c2 = default, c3 = default;
                float* b = p.B + p0 * p.BStep + j;
                for (int q = p0; q < p1; q++, b += p.BStep)
                {
                    var x = TL.Broadcast(p.A + q * p.AStep);
                    c0 = TL.Madd(x, TL.Load(b), c0);
                    c1 = TL.Madd(x, TL.Load(b + lanes), c1);
                    c2 = TL.Madd(x, TL.Load(b + 2 * lanes), c2);
                    c3 = TL.Madd(x, TL.Load(b + 3 * lanes), c3);
                }
                float* c = cRow + j;
                c0.Put(c, overwrite); c1.Put(c + lanes, overwrite); c2.Put(c + 2 * lanes, overwrite); c3.Put(c + 3 * lanes, overwrite);
            }
        }
        int narrow = wide + (n - wide) / (4 * lanes) * 4 * lanes;
        for (int j = narrow; j < n; j += lanes) RowNarrow<TL>(p, cRow + j, j, Math.Min(lanes, n - j), s0, s1, kSlices, accumulate);
    }

    /// <summary>
    /// Columns [j, j + width) of slices [s0, s1), width ≤ one vector (the columns left over by the 8-vector blocks: a
    /// 1600 → 10 output layer has only these). A single column group has one multiply-add chain per slice, too few to
    /// hide the multiply-add's latency, so up to four slices' chains run side by side — each from zero, as the blocked
    /// kernel's — and are then added to C in slice order: the same bits. A partial vector reads B's next row past the
    /// last column (dropped), except where that would leave B, and is stored through a small buffer. <paramref name="cRow"/>
    /// points at column j of C's row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowNarrow<TL>(in GemmProblem p, float* cRow, int j, int width, int s0, int s1, int kSlices, bool accumulate)
        where TL : unmanaged, IRowLanes<TL>
    {
        int lanes = TL.Count, k = p.K;
        float* part = stackalloc float[lanes];
        long extent = (long)(k - 1) * p.BStep + p.N; // B's floats from its start
        long safe = extent - j - lanes;              // a row whose offset is at most this can be read a whole vector wide
        var r = new NarrowRows { A = p.A, B = p.B + j, AStep = p.AStep, BStep = p.BStep, Width = width, Part = part,
            Safe = safe < 0 ? 0 : (int)Math.Min(k, safe / p.BStep + 1) };
        TL c = default;
        if (accumulate) c = r.Load<TL>(cRow);
        for (int sg = s0; sg < s1; sg += 4)
        {
            int count = Math.Min(4, s1 - sg);
            int q0 = Start(k, sg, kSlices), q1 = Start(k, sg + 1, kSlices), q2 = Start(k, Math.Min(sg + 2, s1), kSlices),
                q3 = Start(k, Math.Min(sg + 3, s1), kSlices), q4 = Start(k, Math.Min(sg + 4, s1), kSlices);
            int l0 = q1 - q0, l1 = q2 - q1, l2 = q3 - q2, l3 = q4 - q3;
            int common = count switch { 1 => l0, 2 => Math.Min(l0, l1), 3 => Math.Min(l0, Math.Min(l1, l2)), _ => Math.Min(Math.Min(l0, l1), Math.Min(l2, l3)) };
            TL a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            // The steps every slice has whose rows can all be read a whole vector wide (the last slice's rows are
            // the highest), in registers; the rest below.
            int inside = Math.Min(common, r.Safe - count switch { 1 => q0, 2 => q1, 3 => q2, _ => q3 });
            float* a = p.A, bq = r.B;
            nint aStep = p.AStep, bStep = p.BStep;
            nint d1 = (q1 - q0) * bStep, d2 = (q2 - q0) * bStep, d3 = (q3 - q0) * bStep;
            nint e1 = (q1 - q0) * aStep, e2 = (q2 - q0) * aStep, e3 = (q3 - q0) * aStep;
            float* ap = a + q0 * aStep, bp = bq + q0 * bStep;
            if (count == 4)
                for (; i < inside; i++, ap += aStep, bp += bStep)
                {
                    a0 = TL.Madd(TL.Broadcast(ap), TL.Load(bp), a0);
                    a1 = TL.Madd(TL.Broadcast(ap + e1), TL.Load(bp + d1), a1);
                    a2 = TL.Madd(TL.Broadcast(ap + e2), TL.Load(bp + d2), a2);
                    a3 = TL.Madd(TL.Broadcast(ap + e3), TL.Load(bp + d3), a3);
                }
            else if (count == 3)
                for (; i < inside; i++, ap += aStep, bp += bStep)
                {
                    a0 = TL.Madd(TL.Broadcast(ap), TL.Load(bp), a0);
                    a1 = TL.Madd(TL.Broadcast(ap + e1), TL.Load(bp + d1), a1);
                    a2 = TL.Madd(TL.Broadcast(ap + e2), TL.Load(bp + d2), a2);
                }
            else if (count == 2)
                for (; i < inside; i++, ap += aStep, bp += bStep)
                {
                    a0 = TL.Madd(TL.Broadcast(ap), TL.Load(bp), a0);
                    a1 = TL.Madd(TL.Broadcast(ap + e1), TL.Load(bp + d1), a1);
                }
            else
                for (; i < inside; i++, ap += aStep, bp += bStep)
                    a0 = TL.Madd(TL.Broadcast(ap), TL.Load(bp), a0);
            for (; i < common; i++)
            {
                a0 = r.Step(q0 + i, a0);
                if (count > 1) a1 = r.Step(q1 + i, a1);
                if (count > 2) a2 = r.Step(q2 + i, a2);
                if (count > 3) a3 = r.Step(q3 + i, a3);
            }
            // Each slice's remaining steps (slices differ in length by at most one), still in k order.
            for (int q = q0 + i; q < q1; q++) a0 = r.Step(q, a0);
            if (count > 1) for (int q = q1 + i; q < q2; q++) a1 = r.Step(q, a1);
            if (count > 2) for (int q = q2 + i; q < q3; q++) a2 = r.Step(q, a2);
            if (count > 3) for (int q = q3 + i; q < q4; q++) a3 = r.Step(q, a3);
            c = sg == s0 && !accumulate ? a0 : TL.Add(a0, c);
            if (count > 1) c = TL.Add(a1, c);
            if (count > 2) c = TL.Add(a2, c);
            if (count > 3) c = TL.Add(a3, c);
        }
        if (width == lanes) c.Put(cRow, true);
        else
        {
            c.Put(part, true);
            for (int t = 0; t < width; t++) cRow[t] = part[t];
        }
    }

    private static int Start(int k, int s, int kSlices) => (int)((long)k * s / kSlices);

    /// <summary>Where <see cref="RowNarrow"/> reads: A's row, B from the group's first column, and a vector-sized buffer
    /// for the rows a whole vector would read past B's end.</summary>
    private struct NarrowRows
    {
        public float* A, B, Part;
        public nint AStep, BStep;
        public int Width, Safe;

        /// <summary>acc + A[q]·B[q, group], as the family multiplies and adds.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly TL Step<TL>(int q, TL acc) where TL : unmanaged, IRowLanes<TL>
        {
            TL v = q < Safe ? TL.Load(B + q * BStep) : Load<TL>(B + q * BStep);
            return TL.Madd(TL.Broadcast(A + q * AStep), v, acc);
        }

        /// <summary>Width floats as a vector, zeros after them.</summary>
        public readonly TL Load<TL>(float* from) where TL : unmanaged, IRowLanes<TL>
        {
            if (Width == TL.Count) return TL.Load(from);
            for (int t = 0; t < TL.Count; t++) Part[t] = t < Width ? from[t] : 0f;
            return TL.Load(Part);
        }
    }

    /// <summary>One vector of a kernel family's width for <see cref="RowSlices{TL}"/>: its k-slice size and its multiply-add.</summary>
    private interface IRowLanes<TSelf> where TSelf : unmanaged, IRowLanes<TSelf>
    {
        static abstract int Count { get; }
        static abstract int KC { get; }
        /// <summary>*x in every lane (read through the pointer, so each width can load it as a broadcast).</summary>
        static abstract TSelf Broadcast(float* x);
        static abstract TSelf Load(float* source);
        /// <summary>x·b + c as the family's micro-kernel computes it.</summary>
        static abstract TSelf Madd(TSelf x, TSelf b, TSelf c);
        /// <summary>Stores into C, adding what is there unless <paramref name="overwrite"/>.</summary>
        void Put(float* c, bool overwrite);
        /// <summary>a + b, lane by lane (what <see cref="Put"/> does when it adds).</summary>
        static abstract TSelf Add(TSelf a, TSelf b);
    }

    private readonly struct Row512(Vector512<float> v) : IRowLanes<Row512>
    {
        private readonly Vector512<float> v = v;
        public static int Count => Vector512<float>.Count;
        public static int KC => Avx512Kernel.KC;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row512 Broadcast(float* x) => new(Vector512.Create(*x));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row512 Load(float* source) => new(Vector512.Load(source));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row512 Madd(Row512 x, Row512 b, Row512 c) => new(Vector512.FusedMultiplyAdd(x.v, b.v, c.v));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Put(float* c, bool overwrite) => (overwrite ? v : v + Vector512.Load(c)).Store(c);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row512 Add(Row512 a, Row512 b) => new(a.v + b.v);
    }

    private readonly struct Row256(Vector256<float> v) : IRowLanes<Row256>
    {
        private readonly Vector256<float> v = v;
        public static int Count => Vector256<float>.Count;
        public static int KC => Avx2Kernel.KC;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row256 Broadcast(float* x) => new(Vector256.Create(*x));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row256 Load(float* source) => new(Vector256.Load(source));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row256 Madd(Row256 x, Row256 b, Row256 c) => new(Vector256.FusedMultiplyAdd(x.v, b.v, c.v));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Put(float* c, bool overwrite) => (overwrite ? v : v + Vector256.Load(c)).Store(c);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row256 Add(Row256 a, Row256 b) => new(a.v + b.v);
    }

    private readonly struct Row128(Vector128<float> v) : IRowLanes<Row128>
    {
        private readonly Vector128<float> v = v;
        public static int Count => Vector128<float>.Count;
        public static int KC => Vector128Kernel.KC;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row128 Broadcast(float* x) => new(Vector128Kernel.Splat(x));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row128 Load(float* source) => new(Vector128.Load(source));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Row128 Madd(Row128 x, Row128 b, Row128 c) => new(Vector128Kernel.Madd(x.v, b.v, c.v));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Put(float* c, bool overwrite) => (overwrite ? v : v + Vector128.Load(c)).Store(c);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Row128 Add(Row128 a, Row128 b) => new(a.v + b.v);
    }

    /// <summary>
    /// Whether a product sums its k slices in two halves — slices [0, h) into C, slices [h, S) into a scratch block,
    /// then C += scratch — rather than one slice after another. It is chosen by the shapes and layouts alone (never
    /// by the thread count or the number of rows), so every row's bits are the same for any thread count and any
    /// batch size. The halves let two threads split a short, deep product (a training batch times a weight matrix)
    /// over k: each thread then reads only its half of the weights, the same half its optimizer update and its dW
    /// rows touch, so the weights stay in that core's cache instead of crossing between cores every step.
    /// B row-major (a weight matrix stored k×n) and n ≤ 512 keep the scratch block small and leave the big square
    /// products as they were.
    /// </summary>
    private static bool InHalves(in GemmProblem p, int kSlices) => kSlices >= 2 && p.BCol == 1 && p.N <= 512;

    /// <summary>
    /// Where a split-k product with inner dimension <paramref name="k"/> cuts k between its two threads (0 when it
    /// would not split). A caller that fills the rows of A itself (a training step gathering its batch) can cut its
    /// copy at the same column, so each core copies the half of every row that it is about to multiply.
    /// </summary>
    internal static int SplitKColumn(int k)
    {
        int kSlices = (k + Avx512Kernel.KC - 1) / Avx512Kernel.KC;
        return kSlices >= 2 && GemmThreads.MaxParts > 1 ? (int)((long)k * ((kSlices + 1) / 2) / kSlices) : 0;
    }

    /// <summary>Splits the product over threads (or not) and runs the blocked algorithm on each part.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TK>(in GemmProblem p, int maxThreads) where TK : IGemmMicroKernel
    {
        int m = p.M, n = p.N;
        int parts = 1;
        bool splitN = false;
        int unit = 1, units = 1;
        bool parallel = maxThreads > 1 && GemmThreads.MaxParts > 1 && (long)m * n * p.K >= ParallelThreshold;
        int kSlices = (p.K + TK.KC - 1) / TK.KC;
        if (parallel && InHalves(p, kSlices) && m <= SplitKMaxRows)
        {
            // Few rows, deep k: one half of k per thread (see InHalves), then one add on this thread.
            int h = (kSlices + 1) / 2;
            var split = p;
            split.Scratch = SumBuffer.Get(m * n);
            Span<int> halves = [0, h, kSlices];
            if (GemmThreads.TryRun(split, &KHalf<TK>, false, halves))
            {
                AddRows(p.C, p.Ldc, split.Scratch, n, m, n);
                return;
            }
            parallel = false;   // another GEMM holds the workers
        }
        if (parallel)
        {
            // Each part re-packs the operand it shares with the others, so split the dimension whose partner is
            // smaller: splitting columns duplicates A's packing (m×k), splitting rows duplicates B's (k×n).
            int nUnits = (n + TK.NR - 1) / TK.NR, mUnits = (m + TK.MR - 1) / TK.MR;
            splitN = (m <= n && nUnits >= 2) || mUnits < 2;
            unit = splitN ? TK.NR : TK.MR;
            units = splitN ? nUnits : mUnits;
            parts = Math.Min(Math.Min(maxThreads, units), GemmThreads.MaxParts);
        }
        if (parts <= 1)
        {
            Blocked<TK>(p, 0, m, 0, n);
            return;
        }
        // Whole tiles per part, the remainder spread one tile at a time.
        Span<int> bounds = stackalloc int[parts + 1];
        int extent = splitN ? n : m;
        for (int t = 0; t <= parts; t++)
            bounds[t] = Math.Min(extent, (int)((long)units * t / parts) * unit);
        if (!GemmThreads.TryRun(p, &Blocked<TK>, splitN, bounds))
            Blocked<TK>(p, 0, m, 0, n);   // another GEMM holds the workers: run on this thread
    }

    /// <summary>One half of a split-k product: slices [s0, s1) of the whole of C, the first half into C itself, the
    /// second into <see cref="GemmProblem.Scratch"/> (m×n, row-major), which the caller then adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KHalf<TK>(in GemmProblem p, int s0, int s1, int unused0, int unused1) where TK : IGemmMicroKernel
    {
        int kSlices = (p.K + TK.KC - 1) / TK.KC;
        if (s0 == 0)
        {
            Slices<TK>(p, 0, p.M, 0, p.N, s0, s1, kSlices);
            return;
        }
        Slices<TK>(Into(p, p.Scratch, p.N), 0, p.M, 0, p.N, s0, s1, kSlices);
    }

    /// <summary>The same product written (not accumulated) to another C: where the second half of k goes.</summary>
    private static GemmProblem Into(in GemmProblem p, float* c, nint ldc)
    {
        var q = p;
        q.C = c;
        q.Ldc = ldc;
        q.Accumulate = false;
        return q;
    }

    /// <summary>c[i·ldc + j] += t[i·ldt + j] for a rows×cols block.</summary>
    private static void AddRows(float* c, nint ldc, float* t, nint ldt, int rows, int cols)
    {
        for (int i = 0; i < rows; i++)
        {
            var row = new Span<float>(c + i * ldc, cols);
            System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(t + i * ldt, cols), row);
        }
    }

    /// <summary>
    /// The five loops of BLIS/Goto over rows [i0, i1) and columns [j0, j1) of C. Loop order, outside in:
    /// columns by NC (B block in L3) → k by KC (pack B slice) → rows by MC (pack A block, in L2) →
    /// columns by NR (B micro-panel, stays in L1 while…) → rows by MR (…every A micro-panel streams past it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Blocked<TK>(in GemmProblem p, int i0, int i1, int j0, int j1) where TK : IGemmMicroKernel
    {
        // Even KC slices (784 → 4×196, not 3×256 + 16) so no slice is too thin to amortise its packing; the split
        // depends only on k, so each element's summation order is the same for every thread count.
        int kSlices = (p.K + TK.KC - 1) / TK.KC;
        if (!InHalves(p, kSlices))
        {
            Slices<TK>(p, i0, i1, j0, j1, 0, kSlices, kSlices);
            return;
        }
        int h = (kSlices + 1) / 2, rows = i1 - i0, cols = j1 - j0;
        Slices<TK>(p, i0, i1, j0, j1, 0, h, kSlices);
        float* t = SumBuffer.Get(rows * cols);
        // Shifted so that element (i, j) of the block lands at t[(i − i0)·cols + (j − j0)].
        Slices<TK>(Into(p, t - (i0 * cols + j0), cols), i0, i1, j0, j1, h, kSlices, kSlices);
        AddRows(p.C + i0 * p.Ldc + j0, p.Ldc, t, cols, rows, cols);
    }

    /// <summary>Slices [s0, s1) of k for rows [i0, i1) and columns [j0, j1) of C; the first overwrites C unless the
    /// problem accumulates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Slices<TK>(in GemmProblem p, int i0, int i1, int j0, int j1, int s0, int s1, int kSlices) where TK : IGemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        int kcMax = (p.K + kSlices - 1) / kSlices;
        int mBlocks = (i1 - i0 + TK.MC - 1) / TK.MC;
        int mcMax = RoundUp((i1 - i0 + mBlocks - 1) / mBlocks, mr);
        int ncMax = RoundUp(Math.Min(TK.NC, j1 - j0), nr);
        int aSize = RoundUp(mcMax * kcMax, 16), bSize = RoundUp(kcMax * ncMax, 16);
        float* aPack = PackBuffer.Get(aSize + bSize);
        float* bPack = aPack + aSize;

        // Packing costs a pass over the operand; it pays off when the packed block is reused many times. When the
        // other dimension spans only a few tiles, the kernel reads the operand in place instead (it takes strides), and
        // only a ragged last micro-panel is packed (zero-padded) so the kernel never reads past the matrix.
        // Packing row-major B pays once more than four A micro-panels pass over it (transposed B is always packed, the
        // kernel needs NR contiguous floats per k step). Packing A pays once a block meets more than four B
        // micro-panels: at two to four (n = 64 or 128 natively — a conv layer's channels, an MLP's hidden width) the
        // in-place reads were as fast or faster (2026-12-01, docs/benchmarks.md: conv shapes +15–25% at 256 bits, the
        // MLP's batch-1000 Predict ~3.5% faster, training epochs unchanged); until then A was packed from two panels.
        bool packA = (j1 - j0) > 4 * nr;
        // Not when B is one micro-panel wide and its rows are NR floats apart: it already lies as PackB would lay it (a
        // Winograd convolution's transformed 32-filter kernel, multiplied once per block and position).
        bool packB = p.BCol != 1 || ((i1 - i0) > 4 * mr && !(p.BStep == nr && j1 - j0 <= nr));

        for (int jc = j0; jc < j1; jc += TK.NC)
        {
            int nc = Math.Min(TK.NC, j1 - jc);
            for (int s = s0; s < s1; s++)
            {
                int pc = (int)((long)p.K * s / kSlices), kc = (int)((long)p.K * (s + 1) / kSlices) - pc;
                bool overwrite = s == s0 && !p.Accumulate;
                float* bSrc = p.B + pc * p.BStep + jc * p.BCol;
                int nFull = packB ? 0 : nc / nr * nr;
                if (nFull < nc) PackB<TK>(kc, nc - nFull, bSrc + nFull * p.BCol, p.BCol, p.BStep, bPack);
                for (int ic = i0; ic < i1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, i1 - ic);
                    float* aSrc = p.A + ic * p.ARow + pc * p.AStep;
                    int mFull = packA ? 0 : mc / mr * mr;
                    if (mFull < mc) PackA<TK>(mc - mFull, kc, aSrc + mFull * p.ARow, p.ARow, p.AStep, aPack);
                    var aOp = new Operand(aSrc, p.ARow, p.AStep, mFull, aPack);
                    var bOp = new Operand(bSrc, 1, p.BStep, nFull, bPack);
                    Macro<TK>(mc, nc, kc, aOp, bOp, p.C + ic * p.Ldc + jc, p.Ldc, overwrite);
                }
            }
        }
    }

    /// <summary>
    /// Where the kernel finds one operand of a block: the first <c>InPlace</c> rows (A) or columns (B) are read from the
    /// matrix itself with its strides; the rest sit packed (unit stride across the tile, tile-size stride over k).
    /// </summary>
    private readonly struct Operand(float* src, nint across, nint step, int inPlace, float* packed)
    {
        public readonly float* Src = src, Packed = packed;
        public readonly nint Across = across, Step = step;
        public readonly int InPlace = inPlace;
    }

    /// <summary>Runs the micro-kernel over one A block × one B slice.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro<TK>(int mc, int nc, int kc, in Operand aOp, in Operand bOp, float* c, nint ldc, bool overwrite)
        where TK : IGemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        float* edge = stackalloc float[mr * nr];
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nw = Math.Min(nr, nc - jr);
            bool bIn = jr < bOp.InPlace;
            float* b = bIn ? bOp.Src + jr : bOp.Packed + (jr - bOp.InPlace) * kc;
            nint bStep = bIn ? bOp.Step : nr;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int mh = Math.Min(mr, mc - ir);
                bool aIn = ir < aOp.InPlace;
                float* a = aIn ? aOp.Src + ir * aOp.Across : aOp.Packed + (ir - aOp.InPlace) * kc;
                nint aRow = aIn ? aOp.Across : 1, aStep = aIn ? aOp.Step : mr;
                float* ct = c + ir * ldc + jr;
                if (mh == mr && nw == nr)
                    TK.Tile(kc, a, aRow, aStep, b, bStep, ct, ldc, overwrite);
                else if (mh == mr && nw == nr / 2)
                    TK.NarrowTile(kc, a, aRow, aStep, b, bStep, ct, ldc, overwrite);
                else
                {
                    // Ragged edge: compute the full (zero-padded) tile aside, then copy the part that exists.
                    if (nw <= nr / 2) TK.NarrowTile(kc, a, aRow, aStep, b, bStep, edge, nr, true);
                    else TK.Tile(kc, a, aRow, aStep, b, bStep, edge, nr, true);
                    for (int i = 0; i < mh; i++)
                        CopyOrAdd(edge + i * nr, ct + i * ldc, nw, overwrite);
                }
            }
        }
    }

    /// <summary>
    /// Packs an mc×kc block of A (element (i,p) at <c>a[i·aRow + p·aStep]</c>) into MR-row micro-panels: for each p
    /// the MR values the kernel broadcasts are adjacent. Rows past mc are zero so edge tiles need no special kernel.
    /// </summary>
    private static void PackA<TK>(int mc, int kc, float* a, nint aRow, nint aStep, float* dst) where TK : IGemmMicroKernel
    {
        int mr = TK.MR;
        for (int ir = 0; ir < mc; ir += mr)
        {
            int mh = Math.Min(mr, mc - ir);
            float* src = a + ir * aRow;
            if (aRow == 1 && mh == mr)
            {
                // Transposed A: the MR values of one k step are already contiguous — a straight copy.
                for (int p = 0; p < kc; p++)
                    CopyFloats(src + p * aStep, dst + p * mr, mr);
            }
            else if (aStep == 1 && mh == mr && mr == 8 && Avx.IsSupported)
            {
                // Row-major A: 8×8 register transposes turn 8 row reads into 8 contiguous k steps, ~4× faster than
                // a scalar gather, which matters when m is small and packing is a large share of the work.
                int p = 0;
                for (; p <= kc - 8; p += 8) Transpose8x8(src + p, aRow, dst + p * 8, 8);
                for (; p < kc; p++)
                    for (int i = 0; i < 8; i++) dst[p * 8 + i] = src[i * aRow + p];
            }
            else if (aStep == 1 && mh == mr && mr == 6 && Sse.IsSupported)
            {
                // The same for the 6-row kernels (AVX2 and 128-bit), 4 k steps at a time: at 256 bits it lifts 128² from
                // 85 to 99 GFLOP/s on one core, and a column split packs all of A on each core.
                int p = 0;
                for (; p <= kc - 4; p += 4) Transpose6x4(src + p, aRow, dst + p * 6);
                for (; p < kc; p++)
                    for (int i = 0; i < 6; i++) dst[p * 6 + i] = src[i * aRow + p];
            }
            else if (aStep == 1 && mh < mr && kc <= RaggedDepth && (mr == 8 && Avx.IsSupported || mr == 6 && Sse.IsSupported))
                PackRagged<TK>(mh, kc, src, aRow, dst);
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* d = dst + p * mr;
                    float* s = src + p * aStep;
                    int i = 0;
                    for (; i < mh; i++) d[i] = s[i * aRow];
                    for (; i < mr; i++) d[i] = 0f;
                }
            }
            dst += mr * kc;
        }
    }

    /// <summary>The deepest k slice <see cref="PackRagged{TK}"/> takes (every kernel's KC: 8 rows of it are 8 KiB of stack).</summary>
    private const int RaggedDepth = 256;

    /// <summary>
    /// A ragged last panel of row-major A (fewer than MR rows: a block of 11-pixel convolution rows leaves 1 to 5, a
    /// batch of 1000 leaves 4): its rows copied whole into an MR-row block whose other rows are zero, then packed by the
    /// register transposes as a whole panel: the same packed floats as gathering them one at a time, which made a single
    /// image's 13×13×32 → 11×11×64 convolution ~2.5% slower (2026-12-01, AVX2, paired rounds).
    /// </summary>
    [SkipLocalsInit]
    private static void PackRagged<TK>(int mh, int kc, float* src, nint aRow, float* dst) where TK : IGemmMicroKernel
    {
        int mr = TK.MR;
        float* block = stackalloc float[8 * RaggedDepth];
        for (int i = 0; i < mh; i++) CopyFloats(src + i * aRow, block + i * kc, kc);
        new Span<float>(block + mh * kc, (mr - mh) * kc).Clear();
        PackA<TK>(mr, kc, block, kc, 1, dst);
    }

    /// <summary>
    /// Packs a kc×nc slice of B (element (p,j) at <c>b[p·bStep + j·bCol]</c>) into NR-column micro-panels, each kc×NR
    /// and contiguous, zero-padded past nc.
    /// </summary>
    private static void PackB<TK>(int kc, int nc, float* b, nint bCol, nint bStep, float* dst) where TK : IGemmMicroKernel
    {
        int nr = TK.NR;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nw = Math.Min(nr, nc - jr), width = nw <= nr / 2 ? nr / 2 : nr;
            float* src = b + jr * bCol;
            if (bCol == 1)
            {
                // Row-major B: each k step is NR contiguous floats.
                for (int p = 0; p < kc; p++)
                {
                    float* d = dst + p * nr;
                    if (nw == nr) CopyFloats(src + p * bStep, d, nr);
                    else
                    {
                        // Ragged edge: only the lanes the kernel will read (NR/2 for the narrow kernel) are padded.
                        float* s = src + p * bStep;
                        int j = 0;
                        if (Vector256.IsHardwareAccelerated) for (; j <= nw - 8; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
                        for (; j <= nw - 4; j += 4) Vector128.Store(Vector128.Load(s + j), d + j);
                        for (; j < nw; j++) d[j] = s[j];
                        for (; j < width; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // Transposed B (stored n×k): row j of the store is column j of B. Whole groups of 8 stored rows go
                // through 8×8 register transposes; the ragged rest is gathered one float at a time.
                int j0 = 0;
                if (Avx.IsSupported && bStep == 1)
                {
                    int pEnd = kc & ~7;
                    for (; j0 <= nw - 8; j0 += 8)
                        for (int p = 0; p < pEnd; p += 8) Transpose8x8(src + j0 * bCol + p, bCol, dst + p * nr + j0, nr);
                    if (pEnd < kc)
                        for (int p = pEnd; p < kc; p++)
                            for (int j = 0; j < j0; j++) dst[p * nr + j] = src[j * bCol + p];
                }
                for (int p = 0; p < kc; p++)
                {
                    float* d = dst + p * nr;
                    float* s = src + p * bStep;
                    int j = j0;
                    for (; j < nw; j++) d[j] = s[j * bCol];
                    for (; j < width; j++) d[j] = 0f;
                }
            }
            dst += nr * kc;
        }
    }

    /// <summary>
    /// dst[c·dstStride + r] = src[r·srcStride + c] for an 8×8 block: unpack pairs, shuffle quads, swap 128-bit halves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, nint srcStride, float* dst, nint dstStride)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + srcStride);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * srcStride), r3 = Avx.LoadVector256(src + 3 * srcStride);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * srcStride), r5 = Avx.LoadVector256(src + 5 * srcStride);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * srcStride), r7 = Avx.LoadVector256(src + 7 * srcStride);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE), s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE), s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>
    /// dst[c·6 + r] = src[r·srcStride + c] for 6 rows × 4 columns (4 k steps of an A micro-panel of the 6-row kernels):
    /// rows 0–3 by the SSE 4×4 transpose, rows 4–5 paired by one unpack, each column stored as 4 + 2 floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose6x4(float* src, nint srcStride, float* dst)
    {
        Vector128<float> r0 = Sse.LoadVector128(src), r1 = Sse.LoadVector128(src + srcStride);
        Vector128<float> r2 = Sse.LoadVector128(src + 2 * srcStride), r3 = Sse.LoadVector128(src + 3 * srcStride);
        Vector128<float> r4 = Sse.LoadVector128(src + 4 * srcStride), r5 = Sse.LoadVector128(src + 5 * srcStride);
        Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackHigh(r0, r1), t2 = Sse.UnpackLow(r2, r3), t3 = Sse.UnpackHigh(r2, r3);
        Vector128<float> t4 = Sse.UnpackLow(r4, r5), t5 = Sse.UnpackHigh(r4, r5);
        Sse.Store(dst, Sse.MoveLowToHigh(t0, t2)); Sse.StoreLow(dst + 4, t4);
        Sse.Store(dst + 6, Sse.MoveHighToLow(t2, t0)); Sse.StoreHigh(dst + 10, t4);
        Sse.Store(dst + 12, Sse.MoveLowToHigh(t1, t3)); Sse.StoreLow(dst + 16, t5);
        Sse.Store(dst + 18, Sse.MoveHighToLow(t3, t1)); Sse.StoreHigh(dst + 22, t5);
    }

    /// <summary>dst[j] = src[j] (or += when not <paramref name="overwrite"/>) for j &lt; count: whole vectors, then the rest.
    /// A ragged edge tile (n = 25, 15, 10 in the course's MLPs) goes through here once per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyOrAdd(float* src, float* dst, int count, bool overwrite)
    {
        int j = 0;
        bool wide = Vector512.IsHardwareAccelerated;
        if (overwrite)
        {
            if (wide) for (; j <= count - 16; j += 16) Vector512.Store(Vector512.Load(src + j), dst + j);
            if (Vector256.IsHardwareAccelerated) for (; j <= count - 8; j += 8) Vector256.Store(Vector256.Load(src + j), dst + j);
            for (; j <= count - 4; j += 4) Vector128.Store(Vector128.Load(src + j), dst + j);
            for (; j < count; j++) dst[j] = src[j];
        }
        else
        {
            if (wide) for (; j <= count - 16; j += 16) Vector512.Store(Vector512.Load(dst + j) + Vector512.Load(src + j), dst + j);
            if (Vector256.IsHardwareAccelerated) for (; j <= count - 8; j += 8) Vector256.Store(Vector256.Load(dst + j) + Vector256.Load(src + j), dst + j);
            for (; j <= count - 4; j += 4) Vector128.Store(Vector128.Load(dst + j) + Vector128.Load(src + j), dst + j);
            for (; j < count; j++) dst[j] += src[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyFloats(float* src, float* dst, int count)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j <= count - 16; j += 16) Vector512.Store(Vector512.Load(src + j), dst + j);
        if (Vector256.IsHardwareAccelerated) for (; j <= count - 8; j += 8) Vector256.Store(Vector256.Load(src + j), dst + j);
        for (; j <= count - 4; j += 4) Vector128.Store(Vector128.Load(src + j), dst + j);
        for (; j < count; j++) dst[j] = src[j];
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>
    /// One pinned, 64-byte-aligned scratch array per thread that only grows, so repeated products allocate nothing and
    /// packed panels start on a cache line (an unaligned 64-byte load splits two lines).
    /// </summary>
    private static class PackBuffer
    {
        [ThreadStatic] private static Scratch t_scratch;
        public static float* Get(int floats) => Scratch.Get(ref t_scratch, floats);
    }

    /// <summary>The same, for the second half of a two-halves product (<see cref="InHalves"/>).</summary>
    private static class SumBuffer
    {
        [ThreadStatic] private static Scratch t_scratch;
        public static float* Get(int floats) => Scratch.Get(ref t_scratch, floats);
    }

    private struct Scratch
    {
        private float[]? array;
        private nint aligned;

        public static float* Get(ref Scratch s, int floats)
        {
            float[]? array = s.array;
            if (array == null || array.Length < floats + 16)
            {
                array = GC.AllocateUninitializedArray<float>(Math.Max(floats + 16, (array?.Length ?? 0) * 5 / 4), pinned: true);
                s.array = array;
                nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
                s.aligned = (start + 63) & ~(nint)63;
            }
            return (float*)s.aligned;
        }
    }
}

/// <summary>One product, described by strides so that transposed operands need no separate code path.</summary>
internal unsafe struct GemmProblem
{
    /// <summary>op(A)(i,p) = A[i·ARow + p·AStep].</summary>
    public float* A;
    public nint ARow, AStep;
    /// <summary>op(B)(p,j) = B[p·BStep + j·BCol].</summary>
    public float* B;
    public nint BCol, BStep;
    public float* C;
    public nint Ldc;
    public int M, N, K;
    public bool Accumulate;
    /// <summary>Where a split-k product's second half goes (m×n, row-major); see Gemm.InHalves.</summary>
    public float* Scratch;
}
