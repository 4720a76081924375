using System.Runtime.InteropServices;
using Cortex.Activations;
using Cortex.Kernels;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Conv;

/// <summary>
/// Winograd's F(2×2, 3×3) and F(3×3, 3×3) (src/Cortex/Kernels/Winograd.cs) against the convolution and its gradients computed
/// directly in float64, on the shapes the residual CNN and the Fashion CNN train with and on edge shapes (one tile,
/// odd output sides, channel counts no vector width divides, more images than the kernel gradient's chunks); its bits
/// do not depend on the thread count. PyTorch's values for layers that take this path are in conv.json
/// (<c>conv_winograd_*</c>, <see cref="ConvReferenceTests"/>).
/// </summary>
[Collection(RunsAlone.Name)]
public class WinogradTests
{
    public static TheoryData<int, int, int, int, int, bool, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int, int, bool, int>();
        foreach (int tile in (int[])[2, 3])
        {
            data.Add(2, 13, 13, 32, 32, true, tile);    // the residual block's convolutions
            data.Add(3, 13, 13, 32, 64, false, tile);   // 32 → 64, "valid": an 11 × 11 output, tiles overhanging it
            data.Add(1, 4, 4, 8, 8, false, tile);       // one F(2×2) tile
            data.Add(1, 5, 5, 8, 8, false, tile);       // one F(3×3) tile
            data.Add(2, 5, 12, 17, 9, true, tile);      // channels and filters no vector width divides
            data.Add(33, 6, 6, 8, 8, true, tile);       // more images than chunks: each chunk sums several
            data.Add(2, 3, 7, 8, 10, false, tile);      // one output row
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndGradientsMatchTheDirectConvolution(int n, int h, int width, int c, int f, bool same, int tile)
    {
        var w = Window2D.Create(n, h, width, c, 3, 3, 1, 1, 1, 1, same)!.Value;
        var random = new Random(n * 1000 + c * 10 + f);
        float[] x = Normal(n * h * width * c, random), kernel = Normal(9 * c * f, random, 0.3f), bias = Normal(f, random);
        float[] dz = Normal(w.Rows * f, random);
        var y = new float[w.Rows * f];
        var dk = new float[9 * c * f];
        var db = new float[f];
        var dx = Normal(x.Length, random);   // overwritten, not added to
        Winograd.Forward(x, kernel, bias, w, ActivationFunction.Relu, f, y, tile: tile);
        Winograd.Backward(x, kernel, dz, w, f, dk, db, dx, tile: tile);

        var (yRef, dkRef, dxRef) = Direct(x, kernel, bias, dz, w, f);
        for (int i = 0; i < yRef.Length; i++) yRef[i] = Math.Max(yRef[i], 0);
        AssertClose("y", yRef, y, tile);
        AssertClose("dK", dkRef, dk, tile);
        var dbRef = new double[f];
        for (int i = 0; i < dz.Length; i++) dbRef[i % f] += dz[i];
        AssertClose("db", dbRef, db, tile);
        AssertClose("dx", dxRef, dx, tile);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void BitsDoNotDependOnTheThreadCount(int tile)
    {
        // Big enough that forward splits its blocks and backward its chunks between the cores.
        var w = Window2D.Create(32, 13, 13, 32, 3, 3, 1, 1, 1, 1, same: true)!.Value;
        var random = new Random(7);
        float[] x = Normal(32 * 13 * 13 * 32, random), kernel = Normal(9 * 32 * 32, random, 0.2f), bias = Normal(32, random);
        float[] dz = Normal(w.Rows * 32, random);
        (float[] Y, float[] Dk, float[] Dx) Run(bool serial)
        {
            var y = new float[w.Rows * 32];
            var dk = new float[kernel.Length];
            var db = new float[32];
            var dx = new float[x.Length];
            bool was = GemmThreads.SerialOnThisThread;
            GemmThreads.SerialOnThisThread = serial;
            try
            {
                Winograd.Forward(x, kernel, bias, w, ActivationFunction.Tanh, 32, y, tile: tile);
                Winograd.Backward(x, kernel, dz, w, 32, dk, db, dx, tile: tile);
            }
            finally { GemmThreads.SerialOnThisThread = was; }
            return (y, [.. dk, .. db], dx);
        }
        var one = Run(serial: true);
        var two = Run(serial: false);
        Assert.Equal(Bits(one.Y), Bits(two.Y));
        Assert.Equal(Bits(one.Dk), Bits(two.Dk));
        Assert.Equal(Bits(one.Dx), Bits(two.Dx));
    }

    [Fact]
    public void OnlyThreeByThreeStrideOneConvolutionsWithEnoughChannelsTakeIt()
    {
        // 8 images of 8 × 8 "same" are 8 · 4 · 4 = 128 tiles.
        Assert.True(Winograd.Applies(Window2D.Create(8, 8, 8, 8, 3, 3, 1, 1, 1, 1, true)!.Value, 1, 8));
        Assert.False(Winograd.Applies(Window2D.Create(7, 8, 8, 8, 3, 3, 1, 1, 1, 1, true)!.Value, 1, 8));     // 112 tiles
        Assert.False(Winograd.Applies(Window2D.Create(1, 13, 13, 32, 3, 3, 1, 1, 1, 1, false)!.Value, 1, 64)); // one image's Predict
        Assert.False(Winograd.Applies(Window2D.Create(8, 8, 8, 1, 3, 3, 1, 1, 1, 1, true)!.Value, 1, 32));    // a first layer
        Assert.False(Winograd.Applies(Window2D.Create(8, 8, 8, 16, 3, 3, 1, 1, 1, 1, true)!.Value, 1, 4));    // few filters
        Assert.False(Winograd.Applies(Window2D.Create(8, 16, 16, 16, 3, 3, 2, 2, 1, 1, true)!.Value, 1, 16)); // strided
        Assert.False(Winograd.Applies(Window2D.Create(8, 8, 8, 16, 3, 3, 1, 1, 2, 2, true)!.Value, 1, 16));   // dilated
        Assert.False(Winograd.Applies(Window2D.Create(8, 8, 8, 16, 5, 5, 1, 1, 1, 1, true)!.Value, 1, 16));   // 5 × 5
        Assert.False(Winograd.Applies(Window2D.Create(8, 8, 8, 16, 3, 3, 1, 1, 1, 1, true)!.Value, 2, 16));   // grouped
    }

    [Fact]
    public void TheOutputShapePicksTheTilingWithFewerProducts()
    {
        static Window2D Same(int n, int side) => Window2D.Create(n, side, side, 32, 3, 3, 1, 1, 1, 1, true)!.Value;
        Assert.True(Winograd.UsesF3(Same(32, 13)));     // 25 tiles · 25 = 625 products against 49 · 16 = 784
        Assert.True(Winograd.UsesF3(Window2D.Create(32, 13, 13, 32, 3, 3, 1, 1, 1, 1, false)!.Value));   // 11 × 11: 400 against 576
        Assert.True(Winograd.UsesF3(Same(32, 28)));     // 100 · 25 = 2,500 against 196 · 16 = 3,136
        Assert.False(Winograd.UsesF3(Same(32, 4)));     // 4 · 25 = 100 against 64
        Assert.False(Winograd.UsesF3(Same(32, 10)));    // 400 each: the more exact one
        Assert.Equal(Winograd.UsesF3(Same(1, 13)), Winograd.UsesF3(Same(500, 13)));   // never the batch size
    }

    [Fact]
    public void ThePyTorchCasesForItTakeItWithBothTilings()
    {
        var cases = ReferenceData.Cases("conv.json").Where(c => c.Key.StartsWith("conv_winograd_", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, cases.Count);
        var tilings = new HashSet<bool>();
        foreach (var (name, c) in cases)
        {
            int[] shape = ReferenceData.ToTensor(c.GetProperty("inputs")[0]).Shape;
            var a = c.GetProperty("args");
            var w = Window2D.Create(shape[0], shape[1], shape[2], shape[3], 3, 3, 1, 1, 1, 1, a.GetProperty("padding").GetString() == "same")!.Value;
            Assert.True(Winograd.Applies(w, 1, a.GetProperty("filters").GetInt32()), name);
            tilings.Add(Winograd.UsesF3(w));
        }
        Assert.Equal(2, tilings.Count);   // conv_winograd_one_row (1 × 14) takes F(2×2), the others F(3×3)
    }

    /// <summary>y = conv(x, K) + b, dK and dx for the output gradient dz, summed in float64.</summary>
    private static (double[] Y, double[] Dk, double[] Dx) Direct(float[] x, float[] kernel, float[] bias, float[] dz, Window2D w, int f)
    {
        var y = new double[w.Rows * f];
        var dk = new double[kernel.Length];
        var dx = new double[x.Length];
        for (int n = 0; n < w.N; n++)
            for (int oy = 0; oy < w.OH; oy++)
                for (int ox = 0; ox < w.OW; ox++)
                {
                    int o = ((n * w.OH + oy) * w.OW + ox) * f;
                    for (int k = 0; k < f; k++) y[o + k] = bias[k];
                    for (int u = 0; u < 3; u++)
                        for (int v = 0; v < 3; v++)
                        {
                            int iy = oy + u - w.PadTop, ix = ox + v - w.PadLeft;
                            if ((uint)iy >= (uint)w.H || (uint)ix >= (uint)w.W) continue;
                            int p = ((n * w.H + iy) * w.W + ix) * w.C;
                            for (int ch = 0; ch < w.C; ch++)
                                for (int k = 0; k < f; k++)
                                {
                                    int q = ((u * 3 + v) * w.C + ch) * f + k;
                                    y[o + k] += (double)x[p + ch] * kernel[q];
                                    dk[q] += (double)x[p + ch] * dz[o + k];
                                    dx[p + ch] += (double)kernel[q] * dz[o + k];
                                }
                        }
                }
        return (y, dk, dx);
    }

    /// <summary>Within a few float32 roundings of the largest value: F(3×3)'s constants (up to 4 in the data
    /// transforms) round about 4× more than F(2×2)'s additions.</summary>
    private static void AssertClose(string what, double[] expected, float[] actual, int tile)
    {
        double scale = expected.Max(Math.Abs), tolerance = tile == 2 ? 2e-6 : 8e-6;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale + 1e-6,
                $"{what}[{i}]: expected {expected[i]}, received {actual[i]} (largest |value| {scale})");
    }

    private static float[] Normal(int count, Random random, float scale = 1f)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return values;
    }

    private static int[] Bits(float[] values) => MemoryMarshal.Cast<float, int>(values).ToArray();
}
