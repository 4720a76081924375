using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Reference;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.Shapes;

/// <summary>The Softmax layer over one or several axes against PyTorch (tests/reference/make_softmax_reference.py),
/// finite differences, both training paths, bad axes.</summary>
public class SoftmaxLayerTests
{
    public static TheoryData<string> Cases => ReferenceData.Names("softmax.json");

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputAndGradientMatchPyTorch(string name)
    {
        var c = ReferenceData.Cases("softmax.json")[name];
        var layer = new Softmax([.. c.GetProperty("axis").EnumerateArray().Select(a => a.GetInt32())]);
        var x = ReferenceData.ToTensor(c.GetProperty("x"));
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("output")), layer.Call(x), $"{name} output");
        var upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        var grads = ReferenceData.LayerGradients(layer, x, [x], upstream);
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("grad")), grads[0]!, $"{name} dx");
        if (name != "all_sample_axes") ReferenceData.AssertFiniteDifferences(name, layer, x, [x], grads, upstream);
    }

    [Fact]
    public void TrainsTheSameOnBothPaths()
    {
        var x = Tensor.RandomNormal([48, 12], seed: 1);
        var y = Tensor.FromArray([.. Enumerable.Range(0, 48).Select(i => (float)(i % 3))], [48]);
        BothPaths.AssertFusedEqualsTape(() => new Sequential(new Input([12]), new Dense(12), new Reshape([3, 4]), new Softmax([1, 2]), new Flatten(), new Dense(3)),
            x, y, epochs: 2, rate: 0.01f, seed: 2);
    }

    [Fact]
    public void BadAxesAreRefused()
    {
        Assert.StartsWith("Softmax: axis must name distinct axes other than the batch axis 0. Received: axis=(0,)",
            Assert.Throws<ArgumentException>(() => new Softmax([0])).Message);
        Assert.Contains("Softmax 'sm': axis (1, 3) does not fit input of shape (-1, 3, 4)",
            Assert.Throws<ArgumentException>(() => new Softmax([1, 3], name: "sm").Call(Tensor.Ones(2, 3, 4))).Message);
    }
}
