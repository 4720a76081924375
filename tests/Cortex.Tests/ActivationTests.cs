using Cortex.Activations;
using Cortex.Layers;
using Cortex.Models;

namespace Cortex.Tests;

/// <summary>
/// Every registered activation through the one engine: on every span length (the scalar form, each vector width and
/// the overlapping tails) each element agrees with the element computed alone, and the forms the layers and the fused
/// step call (in place, with a bias, backward from the output) give the tape op's bits. Values against PyTorch are in
/// <see cref="OpReferenceTests"/> (ops.json). tests/Cortex.Isa.Tests runs them again with DOTNET_EnableAVX512=0 and with
/// DOTNET_EnableAVX2=0 to cover the 256-bit and 128-bit paths (on .NET 10, DOTNET_EnableAVX512F=0 leaves Vector512
/// accelerated).
/// </summary>
public class ActivationTests
{
    public static TheoryData<string> Names => [.. ActivationFunction.Names];

    /// <summary>70 values spread over both sides of every kink and into the saturated tails, with 0 and 6 exactly.</summary>
    private static float[] Values(int n)
    {
        var v = Tensor.RandomNormal([70], std: 4f, seed: 12).ToArray();
        v[5] = 0f;
        v[23] = 6f;
        v[41] = -0f;
        v[60] = 30f;
        v[61] = -30f;
        return v[..n];
    }

    private static (float[] Y, float[] Dx) Tape(ActivationFunction f, float[] x, float[] upstream, int rows)
    {
        var xt = Tensor.FromArray((float[])x.Clone(), rows, x.Length / rows);
        using var tape = new GradientTape();
        tape.Watch(xt);
        var y = f.Apply(xt);
        var dx = tape.Gradient(y, [xt], Tensor.FromArray((float[])upstream.Clone(), rows, x.Length / rows), UnconnectedGradients.Zero)[0]!;
        return (y.ToArray(), dx.ToArray());
    }

    private static void Close(float expected, float actual, string what)
    {
        if (expected.Equals(actual)) return; // also NaN = NaN and ±0
        Assert.True(MathF.Abs(expected - actual) <= 1e-6f + 2e-6f * MathF.Abs(expected), $"{what}: {actual:G9}, alone {expected:G9}");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryLengthAgreesElementByElementWithTheScalarForm(string name)
    {
        var f = ActivationFunction.Get(name);
        if (f.Kernel is SoftmaxKernel) return; // not element-wise: each row is one distribution (covered against PyTorch)
        for (int n = 0; n <= 70; n++)
        {
            float[] x = Values(n), u = Tensor.RandomNormal([n], seed: n).ToArray();
            var (y, dx) = Tape(f, x, u, 1);
            for (int i = 0; i < n; i++)
            {
                var (yi, dxi) = Tape(f, [x[i]], [u[i]], 1); // a span of one runs the scalar form
                Close(yi[0], y[i], $"{name} y[{i}] of {n}");
                Close(dxi[0], dx[i], $"{name} dx[{i}] of {n}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LayerFormsGiveTheTapeOpsBits(string name)
    {
        var f = ActivationFunction.Get(name);
        foreach (int rows in new[] { 1, 3 })
            for (int n = 1; n <= 66; n++) // rows of whole 4-, 8- and 16-float vectors take the bias-in-register pass
            {
                float[] x = [.. Enumerable.Range(0, rows).SelectMany(_ => Values(n))];
                float[] bias = Tensor.RandomNormal([n], seed: 100 + n).ToArray();
                float[] u = Tensor.RandomNormal([rows * n], seed: n).ToArray();
                var (y, dx) = Tape(f, x, u, rows);

                var inPlace = (float[])x.Clone();
                f.ApplyInPlace(inPlace, n);
                Assert.Equal(y, inPlace);

                var shifted = (Tensor.FromArray((float[])x.Clone(), rows, n) + Tensor.FromArray(bias)).ToArray();
                var withBias = (float[])x.Clone();
                f.AddBiasApplyInPlace(withBias, bias, n);
                Assert.Equal(Tape(f, shifted, u, rows).Y, withBias);

                if (!f.DerivativeFromOutput) continue;
                var g = (float[])u.Clone();
                f.BackwardInPlace(g, y, n);
                Assert.Equal(dx, g);
            }
    }

    [Theory]
    [InlineData("relu6", "relu6")]
    [InlineData("silu", "silu")]
    [InlineData("swish", "silu")]
    [InlineData("hard_swish", "hard_silu")]
    [InlineData("hard_sigmoid", "hard_sigmoid")]
    [InlineData("gelu", "gelu")]
    [InlineData("mish", "mish")]
    [InlineData("softsign", "softsign")]
    [InlineData("", "linear")]
    public void KerasNamesResolve(string name, string canonical) => Assert.Equal(canonical, ActivationFunction.Get(name).Name);

    [Fact]
    public void EveryActivationAndSlopeRoundTripsThroughAModelFile()
    {
        var x = Tensor.RandomNormal([4, 3], seed: 1);
        ActivationFunction[] all = [.. ActivationFunction.Names.Select(ActivationFunction.Get), ActivationFunction.LeakyRelu(0.05f), ActivationFunction.Elu(0.5f)];
        var model = new Sequential([.. all.Select(f => new Dense(3, f))]);
        var expected = model.Predict(x).ToArray();
        string path = Path.Combine(Directory.CreateTempSubdirectory("cortex-act").FullName, "m.cortex");
        model.Save(path);
        var loaded = Model.Load(path);
        Assert.Equal(all.Select(f => (f.Name, f.Alpha)), loaded.Layers.Cast<Dense>().Select(d => (d.Activation.Name, d.Activation.Alpha)));
        Assert.Equal(expected, loaded.Predict(x).ToArray());
    }

    [Fact]
    public void TheReLULayerIsKerassAndRefusesNegativeArguments()
    {
        var x = Tensor.FromArray(new[] { -2f, 0.25f, 1f, 3f, 9f });
        Assert.Equal(new[] { 0f, 0.25f, 1f, 3f, 9f }, new Layers.ReLU().Call(x).ToArray());
        Assert.Equal(new[] { -0.25f, -0.025f, 1f, 2f, 2f }, new Layers.ReLU(2f, 0.1f, 0.5f).Call(x).ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal("re_lu", new Layers.ReLU().Name[..5]);
        var e = Assert.Throws<ArgumentException>(() => new Layers.ReLU(maxValue: -1f));
        Assert.Contains("maxValue of a ReLU layer cannot be a negative value. Received: maxValue=-1", e.Message);
        Assert.Contains("threshold", Assert.Throws<ArgumentException>(() => new Layers.ReLU(threshold: -0.5f)).Message);
        Assert.Contains("negativeSlope", Assert.Throws<ArgumentException>(() => new Layers.ReLU(negativeSlope: -0.5f)).Message);
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => MathF.Abs(a - b) <= tolerance;
        public int GetHashCode(float value) => 0;
    }

    [Theory]
    [InlineData("hard_sigmoid", true)]
    [InlineData("softsign", true)]
    [InlineData("gelu", false)]
    [InlineData("gelu_approximate", false)]
    [InlineData("hard_silu", false)]
    [InlineData("mish", false)]
    public void NonMonotonicActivationsTakeTheirGradientFromTheInput(string name, bool fromOutput)
    {
        // gelu, hard_silu and mish are not monotonic, so y does not determine g′(x): their layers train on the tape.
        Assert.Equal(fromOutput, ActivationFunction.Get(name).DerivativeFromOutput);
        Assert.Same(ActivationFunction.Get("gelu_approximate"), ActivationFunction.Gelu(approximate: true));
    }

    [Fact]
    public void ANegativeSlopeTakesItsGradientFromTheInput()
    {
        // y = −0.5·(−2) = 1 > 0: the output no longer tells which side x was on, so the layer keeps its input.
        var f = ActivationFunction.LeakyRelu(-0.5f);
        Assert.False(f.DerivativeFromOutput);
        var dense = new Dense(1, f, kernelInitializer: new Initializers.Ones(), biasInitializer: new Initializers.Zeros());
        var x = Tensor.FromArray(new float[] { -2f }, 1, 1);
        dense.Call(x);
        using var tape = new GradientTape();
        var y = dense.Call(x);
        Assert.Equal(1f, y.Item());
        Assert.Equal(1f, tape.Gradient(y, dense.Kernel!)[0].Item()); // dy/dW = x · α = (−2)(−0.5)
    }
}
