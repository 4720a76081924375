using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Data;
using Cortex.Tests.Reference;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.Shapes;

/// <summary>
/// Normalization: statistics per index of Keras's <c>axis</c> (or over all values), adapted from a tensor or streamed
/// batches, or given; its inverse; against PyTorch (tests/reference/make_normalization_reference.py); both training
/// paths; saved with the model; bad arguments refused.
/// </summary>
public class NormalizationTests
{
    public static TheoryData<string> Cases => ReferenceData.Names("normalization.json");

    private static Normalization Adapted(string name, out Tensor x, out System.Text.Json.JsonElement c)
    {
        c = ReferenceData.Cases("normalization.json")[name];
        int[] axis = [.. c.GetProperty("axis").EnumerateArray().Select(a => a.GetInt32())];
        var layer = new Normalization(axis, invert: c.GetProperty("invert").GetBoolean());
        layer.Adapt(ReferenceData.ToTensor(c.GetProperty("data")));
        x = ReferenceData.ToTensor(c.GetProperty("x"));
        return layer;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void StatisticsOutputAndGradientMatchPyTorch(string name)
    {
        var layer = Adapted(name, out var x, out var c);
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("mean")), layer.MeanWeight!, $"{name} mean");
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("variance")), layer.VarianceWeight!, $"{name} variance");
        // x − mean in float32 loses up to an ulp of |x| (425 °C: 3e-5) before the division: that much absolute, as in Keras.
        float maxAbs = x.ToArray().Max(MathF.Abs), minStd = layer.VarianceWeight!.ToArray().Min(v => MathF.Sqrt(v));
        float atol = layer.Invert ? 1e-6f : 1e-6f + 2.4e-7f * maxAbs / minStd;
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("output")), layer.Call(x), $"{name} output", 1e-5f, atol);
        var upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        var grads = ReferenceData.LayerGradients(layer, x, [x], upstream);
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("grad")), grads[0]!, $"{name} dx");
        ReferenceData.AssertFiniteDifferences(name, layer, x, [x], grads, upstream);
    }

    [Fact]
    public void AdaptingFromBatchesGivesTheWholeDatasStatistics()
    {
        var data = Tensor.RandomNormal([50, 3, 4], seed: 1) * 3f + 100f;
        var whole = new Normalization([1, 2]);
        whole.Adapt(data);
        var streamed = new Normalization([1, 2]);
        var flat = data.ToArray();
        streamed.Adapt(new[] { 0, 7, 30 }.Zip(new[] { 7, 23, 20 }, (from, n) => Tensor.FromArray(flat[(from * 12)..((from + n) * 12)], [n, 3, 4])));
        ReferenceData.AssertClose(whole.MeanWeight!, streamed.MeanWeight!, "mean", 1e-6f, 1e-6f);
        ReferenceData.AssertClose(whole.VarianceWeight!, streamed.VarianceWeight!, "variance", 1e-5f, 1e-6f);
        Assert.Equal(50f, streamed.CountWeight!.Item());
        Assert.Equal([3, 4], streamed.MeanWeight!.Shape);
    }

    [Fact]
    public void GivenStatisticsNeedNoAdaptAndOneValueBroadcasts()
    {
        var x = Tensor.FromArray(new float[,] { { 1, 5, 9 }, { 3, 7, 11 } });
        Assert.Equal(new float[] { -1, 1, 3, 0, 2, 4 }, new Normalization(mean: [3f], variance: [4f]).Call(x).ToArray());
        var per = new Normalization(mean: [1f, 5f, 9f], variance: [4f, 16f, 1f]);
        Assert.Equal(new float[] { 0, 0, 0, 1, 0.5f, 2 }, per.Call(x).ToArray());
        var back = new Normalization(mean: [1f, 5f, 9f], variance: [4f, 16f, 1f], invert: true);
        Assert.Equal(x.ToArray(), back.Call(per.Call(x)).ToArray());
    }

    [Fact]
    public void BadArgumentsAndInputsAreRefusedNamingThem()
    {
        Assert.StartsWith("Normalization: axis 0 is the batch axis", Assert.Throws<ArgumentException>(() => new Normalization([0])).Message);
        Assert.StartsWith("Normalization: mean and variance must be given together. Received: mean only",
            Assert.Throws<ArgumentException>(() => new Normalization(mean: [1f])).Message);
        Assert.StartsWith("Normalization: a variance cannot be negative", Assert.Throws<ArgumentException>(() => new Normalization(mean: [1f], variance: [-1f])).Message);
        Assert.Contains("axis 3 is out of range for input of shape (-1, 3)",
            Assert.Throws<ArgumentException>(() => new Normalization([3], name: "nz").Call(Tensor.Ones(2, 3))).Message);
        Assert.Contains("the given mean and variance hold 2 values; input of shape (-1, 3) with axis [-1] needs 1 or 3",
            Assert.Throws<ArgumentException>(() => new Normalization(mean: [1f, 2f], variance: [1f, 1f]).Call(Tensor.Ones(2, 3))).Message);
        var norm = new Normalization(name: "nb");
        Assert.Equal("Normalization 'nb'.Adapt: no batches. (Parameter 'batches')", Assert.Throws<ArgumentException>(() => norm.Adapt(Array.Empty<Tensor>())).Message);
        Assert.Equal("Normalization 'nb'.Adapt: batch 1 has shape (2, 4); the first had (-1, 3).",
            Assert.Throws<ArgumentException>(() => norm.Adapt([Tensor.Ones(2, 3), Tensor.Ones(2, 4)])).Message);
        norm.Adapt(Tensor.RandomNormal([5, 3], seed: 1));
        Assert.Equal("Normalization 'nb' expects input of shape (-1, 3). Received: shape (2, 4)", Assert.Throws<ArgumentException>(() => norm.Call(Tensor.Ones(2, 4))).Message);
    }

    private static Sequential Model(int seed)
    {
        CortexRandom.SetGlobalSeed(seed);
        var norm = new Normalization([1, 2]);
        norm.Adapt(Tensor.RandomNormal([30, 4, 3], seed: 5) * 2f + 1f);
        return new Sequential(new Input([4, 3]), norm, new Flatten(), new Dense(8, "relu"), new Dense(3));
    }

    [Fact]
    public void PerIndexStatisticsTrainTheSameOnBothPaths()
    {
        var x = Tensor.RandomNormal([64, 4, 3], seed: 2) * 2f + 1f;
        var y = Tensor.FromArray([.. Enumerable.Range(0, 64).Select(i => (float)(i % 3))], [64]);
        BothPaths.AssertFusedEqualsTape(() => Model(3), x, y, epochs: 2, rate: 0.01f, seed: 3);
    }

    [Fact]
    public void AxisInvertAndGivenStatisticsAreSaved()
    {
        var model = new Sequential(new Input([4, 3]), new Normalization([], mean: [2f], variance: [9f], invert: true), new Normalization([1, 2]), new Flatten());
        ((Normalization)model.Layers[2]).Adapt(Tensor.RandomNormal([10, 4, 3], seed: 6));
        using var dir = new TempDir();
        model.Save(dir.File("norm.cortex"));
        var back = Cortex.Models.Model.Load(dir.File("norm.cortex"));
        var first = Assert.IsType<Normalization>(back.Layers[1]);
        Assert.Equal((true, 2f, 9f), (first.Invert, first.Mean![0], first.Variance![0]));
        Assert.Empty(first.Axis);
        Assert.Equal([1, 2], Assert.IsType<Normalization>(back.Layers[2]).Axis);
        var x = Tensor.RandomNormal([5, 4, 3], seed: 7);
        Assert.Equal(model.Predict(x).ToArray(), back.Predict(x).ToArray());
    }
}
