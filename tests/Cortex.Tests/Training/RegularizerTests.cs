using Cortex.Regularizers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Training;

/// <summary>Regularizers: Keras's penalties (no ½ on L2), their gradients, names and configs.</summary>
public class RegularizerTests
{
    private static readonly Tensor W = Tensor.FromArray(new float[,] { { 1, -2 }, { 0, 3 } });

    [Fact]
    public void PenaltiesMatchKeras()
    {
        Assert.Equal(0.06f, new L1().Call(W).Item(), 1e-6f);           // 0.01 · (1 + 2 + 0 + 3)
        Assert.Equal(0.14f, new L2().Call(W).Item(), 1e-6f);           // 0.01 · (1 + 4 + 0 + 9)
        Assert.Equal(0.6f + 2.8f, new L1L2(0.1f, 0.2f).Call(W).Item(), 1e-5f);
        Assert.Equal(0f, new L1L2().Call(W).Item());
        Assert.Equal(0, new L2().Call(W).Rank);
    }

    [Fact]
    public void GradientsAreSignAndTwiceTheWeight()
    {
        var w = new Variable(W, "kernel");
        using var tape = new GradientTape(persistent: true);
        Tensor l1 = new L1(0.5f).Call(w), l2 = new L2(0.5f).Call(w);
        ReferenceData.AssertClose(Tensor.FromArray(new float[,] { { 0.5f, -0.5f }, { 0, 0.5f } }), tape.Gradient(l1, w)[0], "dL1/dw");
        ReferenceData.AssertClose(Tensor.FromArray(new float[,] { { 1, -2 }, { 0, 3 } }), tape.Gradient(l2, w)[0], "dL2/dw");
    }

    [Fact]
    public void GetResolvesKerasNames()
    {
        Assert.Equal(0.01f, Assert.IsType<L1>(Regularizer.Get("l1")).Factor);
        Assert.Equal(0.01f, Assert.IsType<L2>(Regularizer.Get("L2")).Factor);
        var both = Assert.IsType<L1L2>(Regularizer.Get("l1_l2"));
        Assert.Equal((0.01f, 0.01f), (both.L1Factor, both.L2Factor));
        var ex = Assert.Throws<ArgumentException>(() => Regularizer.Get("l3"));
        Assert.Contains("Unknown regularizer 'l3'", ex.Message);
        Assert.Contains("l1, l2, l1_l2", ex.Message);
    }

    [Fact]
    public void NegativeFactorIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new L2(-0.1f));
        Assert.Contains("l2", ex.Message);
    }

    [Fact]
    public void ConfigRoundTrips()
    {
        Regularizer[] regs = [new L1(0.3f), new L2(0.02f), new L1L2(0.1f, 0.2f)];
        foreach (var r in regs)
        {
            var config = TrainingReference.Json(r.GetConfig());
            var back = Regularizer.FromConfig(r.GetType().Name, config);
            Assert.IsType(r.GetType(), back);
            Assert.Equal(config.GetRawText(), TrainingReference.Json(back.GetConfig()).GetRawText());
            Assert.Equal(r.Call(W).Item(), back.Call(W).Item());
        }
    }
}
