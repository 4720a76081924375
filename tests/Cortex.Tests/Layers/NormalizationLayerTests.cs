using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.LayerTests;

/// <summary>LayerNormalization and GroupNormalization: Keras's defaults and weights, their errors, both training paths,
/// save/load and the summary (values and gradients: <see cref="LayerReferenceTests"/>).</summary>
public class NormalizationLayerTests
{
    [Fact]
    public void DefaultsAndWeightsAreKeras()
    {
        var ln = new LayerNormalization();
        Assert.Equal([-1], ln.Axis);
        Assert.Equal((1e-3f, true, true), (ln.Epsilon, ln.Center, ln.Scale));
        ln.EnsureBuilt([-1, 3, 5]);
        Assert.Equal(["gamma", "beta"], ln.Weights.Select(w => w.Name.Split('/')[^1]));
        Assert.Equal([5], ln.Gamma!.Shape);
        Assert.Equal(Enumerable.Repeat(1f, 5), ln.Gamma.ToArray());
        Assert.Equal(Enumerable.Repeat(0f, 5), ln.Beta!.ToArray());
        var gn = new GroupNormalization();
        Assert.Equal((32, -1, 1e-3f, true, true), (gn.Groups, gn.Axis, gn.Epsilon, gn.Center, gn.Scale));
        gn.EnsureBuilt([-1, 4, 4, 64]);
        Assert.Equal(["gamma", "beta"], gn.Weights.Select(w => w.Name.Split('/')[^1]));
        Assert.Equal(128, gn.CountParams());
        Assert.Matches("^layer_normalization(_\\d+)?$", ln.Name);
        Assert.Matches("^group_normalization(_\\d+)?$", gn.Name);
    }

    [Fact]
    public void NormalisesEachSampleOnItsOwn()
    {
        // The same row in a batch of one and in a batch with a very different row gives the same output.
        var row = Tensor.FromArray(new float[] { 1, 2, 3, 6 }, [1, 4]);
        var both = Tensor.FromArray(new float[] { 1, 2, 3, 6, 100, -50, 7, 0 }, [2, 4]);
        var ln = new LayerNormalization();
        Assert.Equal(ln.Call(row).ToArray(), ln.Call(both).ToArray()[..4]);
        Assert.Equal(ln.Call(row, training: true).ToArray(), ln.Call(row).ToArray());   // no training mode
        float[] y = ln.Call(row).ToArray();
        Assert.Equal(0.0, y.Average(), 6);
    }

    [Fact]
    public void BadArgumentsAreRefusedByName()
    {
        var a = Assert.Throws<ArgumentException>(() => new LayerNormalization(axis: [0]));
        Assert.Contains("LayerNormalization: axis must name distinct axes other than the batch axis 0. Received: axis=(0,)", a.Message);
        a = Assert.Throws<ArgumentException>(() => new LayerNormalization(axis: [1, -1, 1]));
        Assert.Equal("axis", a.ParamName);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LayerNormalization(epsilon: 0f));
        Assert.Equal("epsilon", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new GroupNormalization(groups: 0));
        Assert.Contains("GroupNormalization: groups must be a positive integer. Received: groups=0", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new GroupNormalization(epsilon: -1f));
        Assert.Equal("epsilon", e.ParamName);
    }

    [Fact]
    public void WrongInputsNameTheLayerAndTheShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => new LayerNormalization(axis: [2], name: "ln").Call(Tensor.Zeros(2, 3)));
        Assert.Contains("LayerNormalization 'ln' expects input of rank at least 2 with axis (2,) other than the batch axis. Received: shape (None, 3)", e.Message);
        var ln = new LayerNormalization(name: "ln2");
        ln.Call(Tensor.Zeros(2, 3));
        e = Assert.Throws<ArgumentException>(() => ln.Call(Tensor.Zeros(2, 4)));
        Assert.Contains("LayerNormalization 'ln2' expects input of rank 2 with sizes (3,) on axis (-1,). Received: shape (2, 4)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new GroupNormalization(groups: 4, name: "gn").Call(Tensor.Zeros(2, 3, 3, 6)));
        Assert.Contains("GroupNormalization 'gn': groups=4 must divide the number of channels on axis -1. Received: shape (None, 3, 3, 6) (6 channels)", e.Message);
        var gn = new GroupNormalization(groups: 2, name: "gn2");
        gn.Call(Tensor.Zeros(2, 3, 4));
        e = Assert.Throws<ArgumentException>(() => gn.Call(Tensor.Zeros(2, 3, 6)));
        Assert.Contains("GroupNormalization 'gn2' expects input of rank 3 with 4 channels on axis -1. Received: shape (2, 3, 6)", e.Message);
    }

    [Theory]
    [InlineData("layer")]
    [InlineData("layer_axis1")]
    [InlineData("layer_image")]
    [InlineData("group")]
    [InlineData("group_frozen")]
    public void TrainsOnTheFusedPathWithTheTapesBits(string which)
    {
        var x = Tensor.RandomNormal([96, 4, 4, 4], seed: 4);
        var y = x.Slice(0, 1, axis: 3).Sum(2).Sum(1).Reshape(-1) > 0f;
        Layer Make() => which switch
        {
            "layer" => new LayerNormalization(gammaInitializer: new RandomNormal(1f, 0.1f, seed: 2)),
            "layer_axis1" => new LayerNormalization(axis: [1]),
            "layer_image" => new LayerNormalization(axis: [3, 1, 2]),
            "group" => new GroupNormalization(groups: 2, betaInitializer: new RandomNormal(0f, 0.1f, seed: 3)),
            _ => new GroupNormalization(groups: 3) { Trainable = false },
        };
        BothPaths.AssertFusedEqualsTape(() => new(new Input([4, 4, 4]), new Conv2D(6, 2), Make(), new Flatten(), new Dense(2)),
            x, y, epochs: 2, rate: 0.01f, seed: 6);
    }

    [Fact]
    public void SavesAndLoads()
    {
        var x = Tensor.RandomNormal([40, 3, 4], seed: 5);
        var y = x.Sum(2).Sum(1) > 0f;
        var loaded = BothPaths.FitSaveLoad(new Sequential(new Input([3, 4]), new LayerNormalization(axis: [1], epsilon: 1e-5f, center: false, name: "ln"),
            new GroupNormalization(groups: 2, scale: false, name: "gn"), new Flatten(), new Dense(2)), x, y);
        var ln = Assert.IsType<LayerNormalization>(loaded.Layers[1]);
        Assert.Equal([1], ln.Axis);
        Assert.Equal((1e-5f, false, true), (ln.Epsilon, ln.Center, ln.Scale));
        var gn = Assert.IsType<GroupNormalization>(loaded.Layers[2]);
        Assert.Equal((2, false, true), (gn.Groups, gn.Scale, gn.Center));
    }

    [Fact]
    public void SummaryCountsGammaAndBeta()
    {
        var model = new Sequential(new Input([8, 8, 6]), new GroupNormalization(groups: 3), new LayerNormalization(axis: [1], center: false));
        string text = model.SummaryString();
        Assert.Contains("(None, 8, 8, 6)", text);
        Assert.Contains("Total params: 20 (80.00 B)", text);   // 6 + 6 for the groups, 8 γ over axis 1
    }
}
