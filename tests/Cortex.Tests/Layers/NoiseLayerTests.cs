using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Reference;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.LayerTests;

/// <summary>
/// GaussianNoise, SpatialDropout2D and Dropout's noiseShape. They are random, so the tests check statistics (the drop
/// rate, the 1/(1 − rate) scale, whole channels or broadcast axes dropped together, the noise's mean and spread),
/// identity in inference, determinism with a seed, the same bits on the tape and in the fused step, and gradients with
/// the mask held fixed (a fresh layer with the same seed draws the same mask).
/// </summary>
public class NoiseLayerTests
{
    [Fact]
    public void DropoutNoiseShapeDropsTheSameFeaturesAtEveryStep()
    {
        var x = Tensor.Ones(200, 5, 8);
        var y = new Dropout(0.3f, noiseShape: [-1, 1, -1], seed: 1).Call(x, training: true).ToArray();
        int dropped = 0;
        for (int n = 0; n < 200; n++)
            for (int f = 0; f < 8; f++)
            {
                float first = y[(n * 5) * 8 + f];
                Assert.True(first == 0f || first == 1f / 0.7f, $"value {first}");
                for (int t = 1; t < 5; t++) Assert.Equal(first, y[(n * 5 + t) * 8 + f]);
                if (first == 0f) dropped++;
            }
        Assert.InRange(dropped / 1600.0, 0.25, 0.35);   // rate 0.3, σ ≈ 0.011
    }

    [Fact]
    public void DropoutNoiseShapeOfOneOnTheBatchSharesTheMask()
    {
        var y = new Dropout(0.5f, noiseShape: [1, 20], seed: 2).Call(Tensor.Ones(6, 20), training: true).ToArray();
        for (int n = 1; n < 6; n++) Assert.Equal(y[..20], y[(n * 20)..((n + 1) * 20)]);
        Assert.Contains(0f, y[..20]);
        Assert.Contains(2f, y[..20]);
    }

    [Fact]
    public void SpatialDropoutDropsWholeChannels()
    {
        var x = Tensor.Ones(50, 4, 4, 16);
        var y = new SpatialDropout2D(0.25f, seed: 3).Call(x, training: true).ToArray();
        int dropped = 0;
        for (int n = 0; n < 50; n++)
            for (int c = 0; c < 16; c++)
            {
                float first = y[n * 256 + c];
                Assert.True(first == 0f || first == 1f / 0.75f, $"value {first}");
                for (int p = 1; p < 16; p++) Assert.Equal(first, y[n * 256 + p * 16 + c]);
                if (first == 0f) dropped++;
            }
        Assert.InRange(dropped / 800.0, 0.20, 0.30);   // rate 0.25, σ ≈ 0.015
    }

    [Fact]
    public void GaussianNoiseHasTheStatedSpread()
    {
        var x = Tensor.Full([100, 50], 3f);
        float[] noise = [.. new GaussianNoise(0.5f, seed: 4).Call(x, training: true).ToArray().Select(v => v - 3f)];
        double mean = noise.Average(), std = Math.Sqrt(noise.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -0.03, 0.03);    // σ/√5000 ≈ 0.007
        Assert.InRange(std, 0.48, 0.52);
    }

    public static TheoryData<string> Layers => ["dropout", "dropout_noise", "spatial", "gaussian"];

    private static Layer Make(string which, int seed = 7) => which switch
    {
        "dropout" => new Dropout(0.4f, seed: seed),
        "dropout_noise" => new Dropout(0.4f, noiseShape: [-1, 1, 1, -1], seed: seed),
        "spatial" => new SpatialDropout2D(0.4f, seed: seed),
        _ => new GaussianNoise(0.3f, seed: seed),
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void InferenceIsTheIdentityAndASeedRepeats(string which)
    {
        var x = Tensor.RandomNormal([8, 3, 3, 4], seed: 5);
        Assert.Equal(x.ToArray(), Make(which).Call(x).ToArray());
        float[] a = Make(which).Call(x, training: true).ToArray(), b = Make(which).Call(x, training: true).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(x.ToArray(), a);
        Assert.NotEqual(a, Make(which, seed: 8).Call(x, training: true).ToArray());
        var layer = Make(which);
        Assert.NotEqual(layer.Call(x, training: true).ToArray(), layer.Call(x, training: true).ToArray());   // a new draw each call
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void GradientsWithTheMaskHeldFixed(string which)
    {
        var x = Tensor.RandomNormal([4, 3, 3, 4], seed: 6);
        var upstream = Tensor.RandomNormal([4, 3, 3, 4], seed: 7);
        var layer = Make(which);
        using var tape = new GradientTape();
        tape.Watch(x);
        Tensor y = layer.Call(x, training: true);
        Tensor g = tape.Gradient(y, [x], upstream, UnconnectedGradients.None)[0]!;
        // Dropout: dx = U·mask with mask = y / x; noise: dx = U.
        float[] expected = which == "gaussian" ? upstream.ToArray()
            : [.. upstream.ToArray().Zip(y.ToArray(), x.ToArray()).Select(t => t.First * (t.Second / t.Third))];
        ReferenceData.AssertClose(Tensor.FromArray(expected, x.Shape), g, which, 1e-5f, 1e-6f);
        // Finite differences through fresh layers with the same seed, so every evaluation draws the same mask.
        double Loss()
        {
            var v = Make(which).Call(x, training: true).AsSpan();
            var u = upstream.AsSpan();
            double s = 0;
            for (int i = 0; i < v.Length; i++) s += (double)v[i] * u[i];
            return s;
        }
        for (int j = 0; j < x.Size; j += 7)
        {
            Span<float> s = x.Span;
            float orig = s[j], h = 1e-2f;
            s[j] = orig + h;
            double plus = Loss();
            s[j] = orig - h;
            double minus = Loss();
            s[j] = orig;
            Assert.Equal((double)g.AsSpan()[j], (plus - minus) / (2 * h), 2e-2);
        }
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void TrainsOnTheFusedPathWithTheTapesBits(string which)
    {
        var x = Tensor.RandomNormal([96, 4, 4, 3], seed: 8);
        var y = x.Slice(0, 1, axis: 3).Sum(2).Sum(1).Reshape(-1) > 0f;
        BothPaths.AssertFusedEqualsTape(() => new(new Input([4, 4, 3]), new Conv2D(4, 2), Make(which), new Flatten(), new Dense(2)),
            x, y, epochs: 2, rate: 0.01f, seed: 6);
    }

    [Fact]
    public void DropoutNoiseShapeWorksInsideSequenceModels()
    {
        var x = Tensor.RandomNormal([64, 5, 3], seed: 9);
        var y = x.Sum(2).Sum(1) > 0f;
        BothPaths.AssertFusedEqualsTape(() => new(new Input([5, 3]), new Dropout(0.3f, noiseShape: [-1, 1, -1], seed: 1), new Flatten(), new Dense(2)),
            x, y, epochs: 2, rate: 0.01f, seed: 6);
    }

    [Fact]
    public void SavesAndLoads()
    {
        var x = Tensor.RandomNormal([40, 4, 4, 2], seed: 10);
        var y = x.Sum(3).Sum(2).Sum(1) > 0f;
        var loaded = BothPaths.FitSaveLoad(new Sequential(new Input([4, 4, 2]), new GaussianNoise(0.2f, seed: 3, name: "gn"),
            new SpatialDropout2D(0.3f, seed: 4, name: "sd"), new Dropout(0.2f, [1, -1, 1, -1], 5, "d"), new Flatten(), new Dense(2)), x, y);
        var g = Assert.IsType<GaussianNoise>(loaded.Layers[1]);
        Assert.Equal((0.2f, 3), (g.Stddev, g.Seed));
        var s = Assert.IsType<SpatialDropout2D>(loaded.Layers[2]);
        Assert.Equal((0.3f, 4), (s.Rate, s.Seed));
        Assert.Equal([1, -1, 1, -1], Assert.IsType<Dropout>(loaded.Layers[3]).NoiseShape!);
    }

    [Fact]
    public void BadArgumentsAndInputsAreRefusedByName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianNoise(1.5f));
        Assert.Contains("GaussianNoise: stddev must be in [0, 1]. Received: stddev=1.5", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new SpatialDropout2D(1f));
        Assert.Contains("SpatialDropout2D: rate must be in [0, 1). Received: rate=1", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(0.5f, noiseShape: [-1, 0]));
        Assert.Contains("Dropout: noiseShape must list, for each axis of the input, -1 (the input's size), 1 or a positive size. Received: noiseShape=(-1, 0)", e.Message);
        var a = Assert.Throws<ArgumentException>(() => new Dropout(0.5f, noiseShape: [-1, 3], name: "d").Call(Tensor.Ones(2, 4), training: true));
        Assert.Contains("Dropout 'd' expects input of rank 2 whose sizes match noiseShape=(-1, 3) where it is neither -1 nor 1. Received: shape (None, 4)", a.Message);
        a = Assert.Throws<ArgumentException>(() => new SpatialDropout2D(0.5f, name: "sd").Call(Tensor.Ones(2, 4, 3)));
        Assert.Contains("SpatialDropout2D 'sd' expects input of rank 4 (batch, height, width, channels). Received: shape (None, 4, 3)", a.Message);
    }

    [Fact]
    public void SummaryShowsTheShapes()
    {
        var model = new Sequential(new Input([4, 4, 2]), new GaussianNoise(0.1f), new SpatialDropout2D(0.1f), new Dropout(0.1f, [-1, 1, 1, -1]));
        string text = model.SummaryString();
        Assert.Contains("gaussian_noise", text);
        Assert.Contains("spatial_dropout2d", text);
        Assert.Contains("(None, 4, 4, 2)", text);
        Assert.Contains("Total params: 0", text);
    }
}
