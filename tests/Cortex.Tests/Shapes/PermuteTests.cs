using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.Shapes;

/// <summary>Permute: Keras's axis numbering, the values of a transpose, its gradient, both training paths.</summary>
public class PermuteTests
{
    [Theory]
    [InlineData(new[] { 2, 3, 1 })]
    [InlineData(new[] { 3, 1, 2 })]
    [InlineData(new[] { 1, 3, 2 })]
    public void EqualsTheTransposeOfEachSample(int[] dims)
    {
        var x = Tensor.RandomNormal([2, 3, 4, 5], seed: 1);
        var layer = new Permute(dims);
        Tensor y = layer.Call(x);
        Assert.Equal(x.Transpose([0, .. dims]).ToArray(), y.ToArray());
        Assert.Equal(x.Transpose([0, .. dims]).Shape, y.Shape);
        Assert.Equal([-1, .. dims.Select(d => new[] { 3, 4, 5 }[d - 1])], layer.ComputeOutputShape([-1, 3, 4, 5]));
    }

    [Fact]
    public void TheGradientIsTheInversePermutation()
    {
        var x = Tensor.RandomNormal([2, 3, 4], seed: 2);
        var upstream = Tensor.RandomNormal([2, 4, 3], seed: 3);
        using var tape = new GradientTape();
        tape.Watch(x);
        var g = tape.Gradient(new Permute([2, 1]).Call(x), [x], upstream, UnconnectedGradients.Zero)[0]!;
        Assert.Equal(upstream.Transpose(0, 2, 1).ToArray(), g.ToArray());
    }

    [Fact]
    public void DimsMustBeAPermutationAndTheRankMustFit()
    {
        Assert.Contains("dims must be a permutation of 1…2", Assert.Throws<ArgumentException>(() => new Permute([0, 1])).Message);
        Assert.Contains("dims must be a permutation of 1…2", Assert.Throws<ArgumentException>(() => new Permute([2, 2])).Message);
        var e = Assert.Throws<ArgumentException>(() => new Permute([2, 1], name: "p").Call(Tensor.Zeros(2, 3, 4, 5)));
        Assert.Contains("Permute 'p' expects input of rank 3 (dims=(2, 1)). Received: shape (", e.Message);
        Assert.EndsWith(", 3, 4, 5)", e.Message);
    }

    [Fact]
    public void TrainsOnTheFusedPathWithTheTapesBits()
    {
        var x = Tensor.RandomNormal([96, 3, 4], seed: 4);
        var y = x.Slice(0, 1, axis: 1).Sum(2).Reshape(-1) > 0f;
        Sequential Make() => new(new Input([3, 4]), new Permute([2, 1]), new Flatten(), new Dense(5, "tanh"), new Dense(2));
        BothPaths.AssertFusedEqualsTape(Make, x, y, epochs: 2, rate: 0.01f, seed: 6);
    }

    [Fact]
    public void SavesAndLoads()
    {
        var x = Tensor.RandomNormal([40, 3, 4], seed: 5);
        var y = x.Sum(2).Sum(1) > 0f;
        var loaded = BothPaths.FitSaveLoad(new Sequential(new Input([3, 4]), new Permute([2, 1], name: "swap"), new Flatten(), new Dense(2)), x, y);
        Assert.Equal([2, 1], Assert.IsType<Permute>(loaded.Layers[1]).Dims);
    }
}
