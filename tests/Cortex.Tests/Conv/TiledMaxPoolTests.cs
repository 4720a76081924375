using System.Runtime.InteropServices;
using Cortex.Kernels;

namespace Cortex.Tests.Conv;

/// <summary>
/// Max pooling over non-overlapping windows (PoolKernel.Tiles: stride = pool, no padding), whose backward writes the
/// input gradient whole instead of clearing it and adding into it: against a direct loop on inputs with ties (the first
/// position of a window holding the maximum takes the gradient, as PyTorch routes it), NaNs (a NaN window's first NaN
/// takes it), channel counts that leave 8-, 4- and 1-lane remainders, and sides that leave pixels outside every window
/// (they get +0). The PyTorch cases in conv.json cover the same kernels with random inputs.
/// </summary>
public class TiledMaxPoolTests
{
    [Theory]
    [InlineData(3, 7, 9, 20, 2)]    // 16 + 4 channels; the last row and column outside every window
    [InlineData(2, 6, 6, 37, 3)]    // 32 + 4 + 1 channels, 3 × 3 windows
    [InlineData(4, 5, 4, 3, 2)]     // 3 channels: scalar only
    [InlineData(2, 26, 26, 32, 2)]  // the Fashion CNN's first pooling
    [InlineData(2, 11, 11, 64, 2)]  // the residual CNN's last (an 11th row and column dropped)
    public void ForwardAndGradientMatchADirectLoop(int n, int h, int w, int c, int pool)
    {
        var g = Window2D.Create(n, h, w, c, pool, pool, pool, pool, 1, 1, same: false)!.Value;
        Assert.True(PoolKernel.Tiles(g));
        var random = new Random(h * 100 + c);
        var x = new float[n * h * w * c];
        for (int i = 0; i < x.Length; i++) x[i] = random.Next(6) * 0.5f;   // few values: many ties
        x[c + 1] = float.NaN;                                               // a NaN in the first window of channel 1
        x[^1] = float.NaN;                                                  // outside every window when a side is odd
        var dy = new float[g.Rows * c];
        for (int i = 0; i < dy.Length; i++) dy[i] = (float)(random.NextDouble() - 0.5);

        var y = new float[dy.Length];
        PoolKernel.MaxForward(x, g, y);
        var dx = new float[x.Length];
        Array.Fill(dx, 7f);   // overwritten, never read
        PoolKernel.MaxBackward(x, y, dy, g, dx);

        var (yRef, dxRef) = Direct(x, dy, g);
        Assert.Equal(Bits(yRef), Bits(y));
        Assert.Equal(Bits(dxRef), Bits(dx));
    }

    [Fact]
    public void OverlappingOrPaddedWindowsDoNotTile()
    {
        Assert.False(PoolKernel.Tiles(Window2D.Create(1, 8, 8, 4, 3, 3, 2, 2, 1, 1, false)!.Value));   // overlapping
        Assert.False(PoolKernel.Tiles(Window2D.Create(1, 7, 7, 4, 2, 2, 2, 2, 1, 1, true)!.Value));    // "same": the last window overhangs
        Assert.True(PoolKernel.Tiles(Window2D.Create(1, 8, 8, 4, 2, 2, 2, 2, 1, 1, true)!.Value));     // "same" that needs no padding
    }

    private static (float[] Y, float[] Dx) Direct(float[] x, float[] dy, Window2D g)
    {
        var y = new float[dy.Length];
        var dx = new float[x.Length];
        for (int n = 0, o = 0; n < g.N; n++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++, o++)
                    for (int ch = 0; ch < g.C; ch++)
                    {
                        float m = float.NegativeInfinity;
                        for (int i = 0; i < g.KH; i++)
                            for (int j = 0; j < g.KW; j++)
                                m = MathF.Max(m, x[At(g, n, oy * g.KH + i, ox * g.KW + j, ch)]);
                        y[o * g.C + ch] = m;
                        bool taken = false;
                        for (int i = 0; i < g.KH && !taken; i++)
                            for (int j = 0; j < g.KW && !taken; j++)
                            {
                                float v = x[At(g, n, oy * g.KH + i, ox * g.KW + j, ch)];
                                if (v == m || float.IsNaN(v) && float.IsNaN(m))
                                {
                                    dx[At(g, n, oy * g.KH + i, ox * g.KW + j, ch)] = dy[o * g.C + ch];
                                    taken = true;
                                }
                            }
                    }
        return (y, dx);
    }

    private static int At(Window2D g, int n, int iy, int ix, int ch) => ((n * g.H + iy) * g.W + ix) * g.C + ch;

    private static int[] Bits(float[] values) => MemoryMarshal.Cast<float, int>(values).ToArray();
}
