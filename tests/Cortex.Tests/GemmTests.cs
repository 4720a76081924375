using Cortex.Kernels;
using Xunit;

namespace Cortex.Tests;

/// <summary>
/// <see cref="Gemm.Sgemm(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool)"/>
/// against a double-precision triple loop, over every transpose combination, ragged sizes around the register tiles
/// (8×32 for AVX-512, 6×16 for AVX2, 4×4 scalar), padded leading dimensions, accumulation, k = 0, NaN/Inf, and
/// bit-exact determinism across thread counts and kernel families.
/// </summary>
public class GemmTests
{
    private static readonly GemmKernel[] Kernels = [GemmKernel.Auto, GemmKernel.Vector256, GemmKernel.Vector128, GemmKernel.Scalar];

    public static TheoryData<int, int, int> OddSizes()
    {
        var data = new TheoryData<int, int, int>();
        int[] small = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 70];
        for (int x = 0; x < small.Length; x++)
            data.Add(small[x], small[(x + 5) % small.Length], small[(x + 11) % small.Length]);
        data.Add(129, 257, 65);
        data.Add(65, 129, 300);    // k spans two KC slices
        data.Add(33, 10, 128);     // the thin layer of the MNIST model
        return data;
    }

    [Theory]
    [MemberData(nameof(OddSizes))]
    public void MatchesDoubleReference(int m, int n, int k)
    {
        foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                    foreach (var kernel in Kernels)
                        CheckAgainstReference(transA, transB, m, n, k, accumulate, kernel, threads: 2, pad: 0);
    }

    [Fact]
    public void EverySizeUpTo70()
    {
        for (int s = 1; s <= 70; s++)
        {
            CheckAgainstReference(false, false, s, s, s, false, GemmKernel.Auto, 2, 0);
            CheckAgainstReference(true, true, s, 71 - s, (s * 7) % 70 + 1, true, GemmKernel.Auto, 2, 0);
            CheckAgainstReference(s % 2 == 0, s % 3 == 0, 71 - s, s, s + 3, s % 5 == 0, GemmKernel.Auto, 1, 0);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void LeadingDimensionsLargerThanMinimal(bool transA, bool transB)
    {
        foreach (var (m, n, k) in new[] { (9, 33, 17), (40, 70, 50), (129, 65, 257) })
            foreach (var kernel in Kernels)
                CheckAgainstReference(transA, transB, m, n, k, accumulate: true, kernel, threads: 2, pad: 5);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EmptyInnerDimensionZeroesOrKeepsC(bool accumulate)
    {
        float[] c = [float.NaN, 1f, 2f, 3f, 4f, 5f];
        Gemm.Sgemm(false, false, 2, 3, 0, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 3, c, 3, accumulate);
        Assert.Equal(accumulate ? [float.NaN, 1f, 2f, 3f, 4f, 5f] : new float[6], c);
    }

    [Fact]
    public void EmptyOutputTouchesNothing()
    {
        float[] c = [7f];
        Gemm.Sgemm(false, false, 0, 5, 3, ReadOnlySpan<float>.Empty, 3, new float[15], 5, c, 5);
        Gemm.Sgemm(false, false, 1, 0, 3, new float[3], 3, ReadOnlySpan<float>.Empty, 1, c, 1);
        Assert.Equal(7f, c[0]);
    }

    [Fact]
    public void OverwriteIgnoresGarbageInC()
    {
        // With accumulate = false, C's old contents (here NaN) must not leak into the result, even where k is split.
        int m = 37, n = 45, k = 600;
        float[] a = Uniform(m * k, 1), b = Uniform(k * n, 2), c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        Gemm.Sgemm(false, false, m, n, k, a, k, b, n, c, n);
        Assert.All(c, x => Assert.True(float.IsFinite(x)));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void NaNAndInfinityPropagate(bool transA, bool transB)
    {
        foreach (var kernel in Kernels)
        {
            int m = 20, n = 40, k = 30;
            float[] a = Uniform(m * k, 3), b = Uniform(k * n, 4);
            // op(A)(3, 7) = NaN poisons row 3; op(B)(5, 11) = +Inf makes column 11 infinite unless multiplied by 0.
            a[transA ? 7 * m + 3 : 3 * k + 7] = float.NaN;
            b[transB ? 11 * k + 5 : 5 * n + 11] = float.PositiveInfinity;
            // op(A)(9, 5) = 0 so C(9, 11) = 0·Inf = NaN: zeros must not be skipped.
            a[transA ? 5 * m + 9 : 9 * k + 5] = 0f;
            float[] c = new float[m * n];
            Gemm.Sgemm(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c, n, false, kernel, 2);
            for (int j = 0; j < n; j++) Assert.True(float.IsNaN(c[3 * n + j]), $"{kernel}: C(3,{j}) = {c[3 * n + j]}");
            Assert.True(float.IsNaN(c[9 * n + 11]), $"{kernel}: C(9,11) = {c[9 * n + 11]}");
            for (int i = 0; i < m; i++)
                if (i != 3 && i != 9) Assert.True(float.IsInfinity(c[i * n + 11]), $"{kernel}: C({i},11) = {c[i * n + 11]}");
            Assert.True(float.IsFinite(c[0 * n + 0]));
        }
    }

    [Theory]
    [InlineData(false, false, 256, 256, 256)]
    [InlineData(false, true, 32, 784, 128)]
    [InlineData(true, false, 784, 128, 32)]
    [InlineData(false, false, 128, 512, 784)]
    [InlineData(true, true, 301, 97, 515)]
    [InlineData(false, false, 32, 128, 784)]   // a training batch times 784×128 weights: k split across two threads
    [InlineData(false, false, 32, 25, 784)]    // the same with a ragged n
    [InlineData(false, false, 300, 64, 600)]   // k in two halves, rows split across threads
    public void BitIdenticalForAnyThreadCount(bool transA, bool transB, int m, int n, int k)
    {
        // Sizes large enough that the product is split over threads; each C element must still be the same FMA chain.
        float[] a = Uniform(m * k, 5), b = Uniform(k * n, 6);
        int lda = transA ? m : k, ldb = transB ? k : n;
        float[] single = new float[m * n], first = new float[m * n], second = new float[m * n], many = new float[m * n];
        Gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, single, n, false, GemmKernel.Auto, 1);
        Gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, first, n, false, GemmKernel.Auto, Environment.ProcessorCount);
        Gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, second, n, false, GemmKernel.Auto, Environment.ProcessorCount);
        Gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, many, n, false, GemmKernel.Auto, 7);
        Assert.Equal(single, first);
        Assert.Equal(first, second);
        Assert.Equal(single, many);
    }

    [Theory]
    [InlineData(32, 128, 784)]
    [InlineData(7, 40, 1600)]
    [InlineData(300, 64, 600)]
    public void KInHalvesAccumulatesAndMatchesAcrossThreadCounts(int m, int n, int k)
    {
        // Products that sum k in two halves (B row-major, n ≤ 512, k over one KC slice): accumulating into C keeps the
        // old C, and 1, 2 or 7 threads (and the single-row path, row by row) give the same bits.
        float[] a = Uniform(m * k, 11), b = Uniform(k * n, 12), c0 = Uniform(m * n, 13);
        CheckAgainstReference(false, false, m, n, k, true, GemmKernel.Auto, 2, 0);
        float[] single = (float[])c0.Clone(), two = (float[])c0.Clone(), many = (float[])c0.Clone(), rows = (float[])c0.Clone();
        Gemm.Sgemm(false, false, m, n, k, a, k, b, n, single, n, true, GemmKernel.Auto, 1);
        Gemm.Sgemm(false, false, m, n, k, a, k, b, n, two, n, true, GemmKernel.Auto, 2);
        Gemm.Sgemm(false, false, m, n, k, a, k, b, n, many, n, true, GemmKernel.Auto, 7);
        for (int i = 0; i < m; i++)
            Gemm.Sgemm(false, false, 1, n, k, a.AsSpan(i * k, k), k, b, n, rows.AsSpan(i * n, n), n, true, GemmKernel.Auto, 2);
        Assert.Equal(single, two);
        Assert.Equal(single, many);
        Assert.Equal(single, rows);
    }

    [Fact]
    public void ConcurrentCallersGetCorrectResults()
    {
        // Callers that find the worker threads busy fall back to running on their own thread.
        int m = 96, n = 160, k = 200;
        float[] a = Uniform(m * k, 7), b = Uniform(k * n, 8), expected = new float[m * n];
        Gemm.Sgemm(false, false, m, n, k, a, k, b, n, expected, n, false, GemmKernel.Auto, 1);
        Parallel.For(0, 16, _ =>
        {
            float[] c = new float[m * n];
            for (int r = 0; r < 5; r++)
            {
                Gemm.Sgemm(false, false, m, n, k, a, k, b, n, c, n);
                Assert.Equal(expected, c);
            }
        });
    }

    [Fact]
    public void RejectsTooShortOperandsAndLeadingDimensions()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 4, 4, 4, new float[15], 4, new float[16], 4, new float[16], 4));
        Assert.Contains("at least 16 floats", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(true, false, 4, 4, 4, new float[16], 3, new float[16], 4, new float[16], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(false, false, -1, 4, 4, new float[16], 4, new float[16], 4, new float[16], 4));
    }

    /// <summary>
    /// Runs one product with padded leading dimensions (the padding must come back untouched) and compares every element
    /// with a double-precision sum, to a relative tolerance of 1e-5·√k of the sum of |terms|.
    /// </summary>
    private static void CheckAgainstReference(bool transA, bool transB, int m, int n, int k, bool accumulate, GemmKernel kernel, int threads, int pad)
    {
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        float[] a = Uniform((transA ? k : m) * lda, m * 31 + k);
        float[] b = Uniform((transB ? n : k) * ldb, n * 17 + k);
        float[] c = Uniform(m * ldc, m + n);
        float[] before = (float[])c.Clone();
        Gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, kernel, threads);

        double tolerance = 1e-5 * Math.Sqrt(k + 1);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? before[i * ldc + j] : 0, scale = Math.Abs(sum);
                for (int p = 0; p < k; p++)
                {
                    double term = (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                    sum += term;
                    scale += Math.Abs(term);
                }
                double error = Math.Abs(c[i * ldc + j] - sum);
                if (error > tolerance * Math.Max(scale, 1e-30))
                    Assert.Fail($"Sgemm(transA={transA}, transB={transB}, m={m}, n={n}, k={k}, accumulate={accumulate}, {kernel}, threads={threads}, pad={pad}): " +
                                $"C({i},{j}) = {c[i * ldc + j]}, expected {sum} (error {error:G3}, allowed {tolerance * scale:G3})");
            }
            for (int j = n; j < ldc; j++)
                Assert.True(c[i * ldc + j].Equals(before[i * ldc + j]), $"padding C({i},{j}) was overwritten");
        }
    }

    private static float[] Uniform(int count, int seed)
    {
        var random = new Random(seed);
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        return x;
    }

    [Theory]
    [InlineData(1, 10, false)]
    [InlineData(784, 128, false)]
    [InlineData(300, 37, true)]
    [InlineData(513, 200, false)]
    [InlineData(64, 16, true)]
    public void SingleRowMatchesTheSameRowInsideABatchBitForBit(int k, int n, bool transA)
    {
        // Predict(one sample) must give the bits Predict(batch) gives for that sample.
        var rng = new Random(k * 31 + n);
        int m = 9;
        float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] b = [.. Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] c0 = [.. Enumerable.Range(0, m * n).Select(_ => (float)rng.NextDouble())];
        foreach (bool accumulate in new[] { false, true })
        {
            var batch = (float[])c0.Clone();
            // transA: A stored k×m; row i of op(A) is column i.
            float[] aStored = transA ? Transpose(a, m, k) : a;
            Cortex.Kernels.Gemm.Sgemm(transA, false, m, n, k, aStored, transA ? m : k, b, n, batch, n, accumulate);
            for (int i = 0; i < m; i++)
            {
                var row = c0.AsSpan(i * n, n).ToArray();
                float[] ai = transA ? Transpose(a.AsSpan(i * k, k).ToArray(), 1, k) : a.AsSpan(i * k, k).ToArray();
                Cortex.Kernels.Gemm.Sgemm(transA, false, 1, n, k, ai, transA ? 1 : k, b, n, row, n, accumulate);
                Assert.Equal(batch.AsSpan(i * n, n).ToArray(), row);
            }
        }
    }

    private static float[] Transpose(float[] x, int rows, int cols)
    {
        var t = new float[x.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
        return t;
    }
}
