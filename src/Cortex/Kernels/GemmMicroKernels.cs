using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cortex.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel: it keeps an <see cref="MR"/>×<see cref="NR"/> tile of C in registers and
/// streams k through it, one rank-1 update per step (MR broadcasts of A times NR/width vectors of B).
/// </summary>
/// <remarks>
/// A is read as <c>a[i·aRow + p·aStep]</c>, so one kernel serves packed panels (aRow = 1, aStep = MR) and A read in
/// place (row-major: aRow = lda, aStep = 1; transposed: aRow = 1, aStep = lda). B must hold NR (or NR/2 for
/// <see cref="NarrowTile"/>) contiguous floats per k step, at <c>b + p·bStep</c>. Every C element is one FMA chain
/// over p in order, starting from zero, then stored (<c>overwrite</c>) or added to C — the same arithmetic in every
/// kernel variant, which is what makes results independent of how the work is split.
/// The blocking sizes live here because they follow from the tile shape and the vector width.
/// </remarks>
internal unsafe interface IGemmMicroKernel
{
    static abstract bool IsSupported { get; }
    /// <summary>Rows of C per tile (broadcast operands of A).</summary>
    static abstract int MR { get; }
    /// <summary>Columns of C per tile (vector operands of B).</summary>
    static abstract int NR { get; }
    /// <summary>Depth of a packed block: a B micro-panel (KC×NR) should sit in L1.</summary>
    static abstract int KC { get; }
    /// <summary>Rows of a packed A block (MC×KC), sized to sit in L2.</summary>
    static abstract int MC { get; }
    /// <summary>Columns of a packed B block (KC×NC), sized for the shared L3.</summary>
    static abstract int NC { get; }

    /// <summary>C[MR×NR] = (or +=) Σ_p A[:,p]·B[p,:].</summary>
    static abstract void Tile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite);
    /// <summary>As <see cref="Tile"/> for only NR/2 columns, so a thin right edge (n = 10) wastes less.</summary>
    static abstract void NarrowTile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite);
}

/// <summary>
/// AVX-512: 8 rows × 32 columns (2 zmm) = 16 accumulators + 2 B vectors + 1 broadcast, well inside the 32 zmm
/// registers. 16 independent FMA chains cover the 4-cycle FMA latency on two FMA pipes (8 in flight needed), and each
/// k step costs 10 loads for 16 FMAs, so the loads never limit. MR = 8 divides the batch sizes we care about (32, 128).
/// </summary>
internal readonly unsafe struct Avx512Kernel : IGemmMicroKernel
{
    public static bool IsSupported => Vector512.IsHardwareAccelerated;
    public static int MR => 8;
    public static int NR => 32;
    public static int KC => 256;   // B micro-panel 256×32×4 B = 32 KiB of the 48 KiB L1
    public static int MC => 192;   // A block 192×256×4 B = 192 KiB, well inside a 1 MiB L2 next to B's stream
    public static int NC => 4096;  // B block up to 4 MiB of L3

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, Vector512<float> v, bool overwrite)
    {
        if (!overwrite) v += Vector512.Load(c);
        v.Store(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        nint r3 = aRow * 3, r5 = aRow * 5, r7 = aRow * 7;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), x;
            x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[aRow]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[aRow * 2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[r3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[aRow * 4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[r5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[r3 * 2]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[r7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a += aStep;
            b += bStep;
        }
        Put(c, c00, overwrite); Put(c + 16, c01, overwrite); c += ldc;
        Put(c, c10, overwrite); Put(c + 16, c11, overwrite); c += ldc;
        Put(c, c20, overwrite); Put(c + 16, c21, overwrite); c += ldc;
        Put(c, c30, overwrite); Put(c + 16, c31, overwrite); c += ldc;
        Put(c, c40, overwrite); Put(c + 16, c41, overwrite); c += ldc;
        Put(c, c50, overwrite); Put(c + 16, c51, overwrite); c += ldc;
        Put(c, c60, overwrite); Put(c + 16, c61, overwrite); c += ldc;
        Put(c, c70, overwrite); Put(c + 16, c71, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NarrowTile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        nint r3 = aRow * 3, r5 = aRow * 5, r7 = aRow * 7;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[aRow]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[aRow * 2]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r3]), b0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[aRow * 4]), b0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r5]), b0, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r3 * 2]), b0, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r7]), b0, c7);
            a += aStep;
            b += bStep;
        }
        Put(c, c0, overwrite); c += ldc;
        Put(c, c1, overwrite); c += ldc;
        Put(c, c2, overwrite); c += ldc;
        Put(c, c3, overwrite); c += ldc;
        Put(c, c4, overwrite); c += ldc;
        Put(c, c5, overwrite); c += ldc;
        Put(c, c6, overwrite); c += ldc;
        Put(c, c7, overwrite);
    }
}

/// <summary>
/// AVX2/FMA: 6 rows × 16 columns (2 ymm) = 12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm registers,
/// the largest tile that does not spill; 12 chains still cover FMA latency × throughput (10 on most x64 cores).
/// </summary>
internal readonly unsafe struct Avx2Kernel : IGemmMicroKernel
{
    public static bool IsSupported => Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;
    public static int MR => 6;
    public static int NR => 16;
    public static int KC => 256;   // B micro-panel 16 KiB in L1
    public static int MC => 192;
    public static int NC => 4096;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, Vector256<float> v, bool overwrite)
    {
        if (!overwrite) v += Vector256.Load(c);
        v.Store(c);
    }

    /// <summary>
    /// Asks for the tile's 6 rows of C (16 floats, one or two cache lines each) before the k loop, so that they arrive
    /// while it runs: from 1024² on C is far larger than the caches, and the tile would otherwise stall on each row's
    /// miss at its end (measured on one Zen 4 core at 2048²: 78 → 94 GFLOP/s).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile(float* c, nint ldc)
    {
        for (int i = 0; i < 6; i++, c += ldc)
        {
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + 15);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint r3 = aRow * 3, r5 = aRow * 5;
        PrefetchTile(c, ldc);
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), x;
            x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[aRow]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[aRow * 2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[r3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[aRow * 4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[r5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += aStep;
            b += bStep;
        }
        Put(c, c00, overwrite); Put(c + 8, c01, overwrite); c += ldc;
        Put(c, c10, overwrite); Put(c + 8, c11, overwrite); c += ldc;
        Put(c, c20, overwrite); Put(c + 8, c21, overwrite); c += ldc;
        Put(c, c30, overwrite); Put(c + 8, c31, overwrite); c += ldc;
        Put(c, c40, overwrite); Put(c + 8, c41, overwrite); c += ldc;
        Put(c, c50, overwrite); Put(c + 8, c51, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NarrowTile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        nint r3 = aRow * 3, r5 = aRow * 5;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[0]), b0, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a[aRow]), b0, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a[aRow * 2]), b0, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a[r3]), b0, c3);
            c4 = Vector256.FusedMultiplyAdd(Vector256.Create(a[aRow * 4]), b0, c4);
            c5 = Vector256.FusedMultiplyAdd(Vector256.Create(a[r5]), b0, c5);
            a += aStep;
            b += bStep;
        }
        Put(c, c0, overwrite); c += ldc;
        Put(c, c1, overwrite); c += ldc;
        Put(c, c2, overwrite); c += ldc;
        Put(c, c3, overwrite); c += ldc;
        Put(c, c4, overwrite); c += ldc;
        Put(c, c5, overwrite);
    }
}

/// <summary>
/// 128-bit (SSE on x64 without AVX2, AdvSimd on ARM64): 6 rows × 8 columns (2 xmm/q registers) = 12 accumulators +
/// 2 B vectors + 1 broadcast = 15 of x64's 16 registers (ARM64 has 32). Fused multiply-adds where the CPU has them
/// (FMA3, AdvSimd) — then every element is the same FMA chain as in the wider kernels, bit for bit; on an x64 without
/// FMA a multiply then an add (one rounding more per step: the path's own, still deterministic bits).
/// </summary>
internal readonly unsafe struct Vector128Kernel : IGemmMicroKernel
{
    public static bool IsSupported => Vector128.IsHardwareAccelerated;
    public static int MR => 6;
    public static int NR => 8;
    public static int KC => 256;   // B micro-panel 8 KiB in L1
    public static int MC => 192;
    public static int NC => 4096;

    /// <summary>Whether the hardware fuses a 128-bit multiply-add (FMA3, AdvSimd): a JIT-time constant.</summary>
    internal static bool Fuses => System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;

    /// <summary>x·b + c, fused where the hardware fuses (no branch is left).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Madd(Vector128<float> x, Vector128<float> b, Vector128<float> c) =>
        Fuses ? Vector128.FusedMultiplyAdd(x, b, c) : x * b + c;

    /// <summary>*p in every lane, for every loop of this kernel and the one-row product. Where AVX is on without AVX2
    /// (x64 with <c>DOTNET_EnableAVX2=0</c>), .NET 10 builds <c>Vector128.Create(*p)</c> as a load and a shuffle, and the
    /// shuffle takes a slot on the vector pipes the multiplies and adds need; <c>vbroadcastss xmm, [p]</c> is a plain
    /// load (the JIT emits it for <c>Create</c> itself once AVX2 is on; ARM64 loads and replicates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Splat(float* p) =>
        Avx.IsSupported ? Avx.BroadcastScalarToVector128(p) : Vector128.Create(*p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, Vector128<float> v, bool overwrite)
    {
        if (!overwrite) v += Vector128.Load(c);
        v.Store(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
    {
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint r3 = aRow * 3, r5 = aRow * 5;
        // One loop per kind of multiply-add, each spelled out rather than through Madd: on x64 without FMA the JIT
        // (.NET 10) kept b0, b1 and x of the Madd version on the stack and reloaded them for every product (12 → 28
        // GFLOP/s on one Zen 4 core once they stay in registers; the same in NarrowTile).
        if (Fuses)
        {
            for (int p = 0; p < kc; p++)
            {
                Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4), x;
                x = Splat(a); c00 = Vector128.FusedMultiplyAdd(x, b0, c00); c01 = Vector128.FusedMultiplyAdd(x, b1, c01);
                x = Splat(a + aRow); c10 = Vector128.FusedMultiplyAdd(x, b0, c10); c11 = Vector128.FusedMultiplyAdd(x, b1, c11);
                x = Splat(a + aRow * 2); c20 = Vector128.FusedMultiplyAdd(x, b0, c20); c21 = Vector128.FusedMultiplyAdd(x, b1, c21);
                x = Splat(a + r3); c30 = Vector128.FusedMultiplyAdd(x, b0, c30); c31 = Vector128.FusedMultiplyAdd(x, b1, c31);
                x = Splat(a + aRow * 4); c40 = Vector128.FusedMultiplyAdd(x, b0, c40); c41 = Vector128.FusedMultiplyAdd(x, b1, c41);
                x = Splat(a + r5); c50 = Vector128.FusedMultiplyAdd(x, b0, c50); c51 = Vector128.FusedMultiplyAdd(x, b1, c51);
                a += aStep;
                b += bStep;
            }
        }
        else
        {
            for (int p = 0; p < kc; p++)
            {
                Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4), x;
                x = Splat(a); c00 = x * b0 + c00; c01 = x * b1 + c01;
                x = Splat(a + aRow); c10 = x * b0 + c10; c11 = x * b1 + c11;
                x = Splat(a + aRow * 2); c20 = x * b0 + c20; c21 = x * b1 + c21;
                x = Splat(a + r3); c30 = x * b0 + c30; c31 = x * b1 + c31;
                x = Splat(a + aRow * 4); c40 = x * b0 + c40; c41 = x * b1 + c41;
                x = Splat(a + r5); c50 = x * b0 + c50; c51 = x * b1 + c51;
                a += aStep;
                b += bStep;
            }
        }
        Put(c, c00, overwrite); Put(c + 4, c01, overwrite); c += ldc;
        Put(c, c10, overwrite); Put(c + 4, c11, overwrite); c += ldc;
        Put(c, c20, overwrite); Put(c + 4, c21, overwrite); c += ldc;
        Put(c, c30, overwrite); Put(c + 4, c31, overwrite); c += ldc;
        Put(c, c40, overwrite); Put(c + 4, c41, overwrite); c += ldc;
        Put(c, c50, overwrite); Put(c + 4, c51, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NarrowTile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
    {
        Vector128<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        nint r3 = aRow * 3, r5 = aRow * 5;
        if (Fuses)
        {
            for (int p = 0; p < kc; p++)
            {
                Vector128<float> b0 = Vector128.Load(b);
                c0 = Vector128.FusedMultiplyAdd(Splat(a), b0, c0);
                c1 = Vector128.FusedMultiplyAdd(Splat(a + aRow), b0, c1);
                c2 = Vector128.FusedMultiplyAdd(Splat(a + aRow * 2), b0, c2);
                c3 = Vector128.FusedMultiplyAdd(Splat(a + r3), b0, c3);
                c4 = Vector128.FusedMultiplyAdd(Splat(a + aRow * 4), b0, c4);
                c5 = Vector128.FusedMultiplyAdd(Splat(a + r5), b0, c5);
                a += aStep;
                b += bStep;
            }
        }
        else
        {
            for (int p = 0; p < kc; p++)
            {
                Vector128<float> b0 = Vector128.Load(b);
                c0 = Splat(a) * b0 + c0;
                c1 = Splat(a + aRow) * b0 + c1;
                c2 = Splat(a + aRow * 2) * b0 + c2;
                c3 = Splat(a + r3) * b0 + c3;
                c4 = Splat(a + aRow * 4) * b0 + c4;
                c5 = Splat(a + r5) * b0 + c5;
                a += aStep;
                b += bStep;
            }
        }
        Put(c, c0, overwrite); c += ldc;
        Put(c, c1, overwrite); c += ldc;
        Put(c, c2, overwrite); c += ldc;
        Put(c, c3, overwrite); c += ldc;
        Put(c, c4, overwrite); c += ldc;
        Put(c, c5, overwrite);
    }
}

/// <summary>
/// Portable fallback: a 4×4 tile of scalar accumulators. It uses <see cref="MathF.FusedMultiplyAdd"/> so it rounds
/// exactly like the SIMD kernels (one FMA chain per element), which lets the tests compare the paths bit for bit.
/// </summary>
internal readonly unsafe struct ScalarKernel : IGemmMicroKernel
{
    public static bool IsSupported => true;
    public static int MR => 4;
    public static int NR => 4;
    public static int KC => 256;
    public static int MC => 128;
    public static int NC => 2048;

    public static void Tile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
        => Generic(4, kc, a, aRow, aStep, b, bStep, c, ldc, overwrite);

    public static void NarrowTile(int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
        => Generic(2, kc, a, aRow, aStep, b, bStep, c, ldc, overwrite);

    private static void Generic(int nr, int kc, float* a, nint aRow, nint aStep, float* b, nint bStep, float* c, nint ldc, bool overwrite)
    {
        float* acc = stackalloc float[16];
        for (int t = 0; t < 16; t++) acc[t] = 0f;
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < 4; i++)
            {
                float x = a[i * aRow];
                for (int j = 0; j < nr; j++) acc[i * 4 + j] = MathF.FusedMultiplyAdd(x, b[j], acc[i * 4 + j]);
            }
            a += aStep;
            b += bStep;
        }
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < nr; j++)
                c[i * ldc + j] = overwrite ? acc[i * 4 + j] : c[i * ldc + j] + acc[i * 4 + j];
    }
}
