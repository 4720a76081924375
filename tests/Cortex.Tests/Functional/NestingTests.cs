using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.FunctionalApi;

/// <summary>A Sequential called on symbolic tensors is a block of a Functional model: its layers join the graph, with
/// their weights shared with the Sequential.</summary>
public class NestingTests
{
    [Fact]
    public void ASequentialEncoderCalledTwiceSharesItsWeightsAndTrainsWithTheGraph()
    {
        CortexRandom.SetGlobalSeed(4);
        var encoder = new Sequential(new Input([5]), new Dense(8, "tanh", name: "enc_1"), new Dense(3, name: "enc_2"));
        var left = new Input([5], "left");
        var right = new Input([5], "right");
        var diff = new Subtract(name: "diff").Call(encoder.Call(left), encoder.Call(right));
        var model = new Functional([left, right], [new Dense(1, "sigmoid", name: "same").Call(diff)]);
        Assert.Equal(["left", "right", "enc_1", "enc_2", "diff", "same"], model.Layers.Select(l => l.Name));
        Assert.Equal(4 + 2, model.TrainableVariables.Count);

        var xl = Tensor.RandomNormal([20, 5], seed: 1);
        var xr = Tensor.RandomNormal([20, 5], seed: 2);
        var head = model.Layers[^1];
        var expected = head.Call(encoder.Predict(xl) - encoder.Predict(xr));
        Assert.Equal(expected.ToArray(), model.Predict([xl, xr])[0].ToArray());

        var before = encoder.GetWeights()[0].ToArray();
        model.Compile(new Adam(0.01f), new BinaryCrossentropy());
        model.Fit([xl, xr], [(xl.Sum(1, keepDims: true) > 0f)], epochs: 2, verbose: 0);
        Assert.NotEqual(before, encoder.GetWeights()[0].ToArray()); // the graph trained the Sequential's own layers

        using var dir = new TempDir();
        model.Save(dir.File("siamese.cortex"));
        var loaded = Model.Load(dir.File("siamese.cortex"));
        Assert.Equal(model.Predict([xl, xr])[0].ToArray(), loaded.Predict([xl, xr])[0].ToArray());
    }

    [Fact]
    public void AFunctionalBlockCalledTwiceSharesItsWeights()
    {
        var blockIn = new Input([6], "block_in");
        var blockOut = new Add(name: "block_add").Call(new Dense(6, "tanh", name: "block_dense").Call(blockIn), blockIn);
        var block = new Functional(blockIn, blockOut, name: "residual_block");

        var x = new Input([6], "x");
        var model = new Functional(x, new Dense(2, name: "head").Call(block.Call(block.Call(x))));
        Assert.Equal(["x", "block_dense", "block_add", "head"], model.Layers.Select(l => l.Name));
        Assert.Equal(6, model.Nodes.Count); // x, the block's two layers called twice, the head

        var data = Tensor.RandomNormal([10, 6], seed: 3);
        var expected = model.Layers[^1].Call(block.Predict(block.Predict(data)));
        Assert.Equal(expected.ToArray(), model.Predict(data).ToArray());
        var e = Assert.Throws<ArgumentException>(() => block.Call(new Input([5])));
        Assert.Contains("Input 'block_in' expects shape (None, 6). Received: shape (None, 5)", e.Message);
    }

    [Fact]
    public void ATensorOfTheWrongShapeIsRefusedByTheSequentialsInputAndLeavesItUnbuilt()
    {
        var block = new Sequential(new Input([4], "block_in"), new Dense(2));
        var e = Assert.Throws<ArgumentException>(() => block.Call(new Input([3])));
        Assert.Contains("Input 'block_in' expects shape (None, 4)", e.Message);

        var unbuilt = new Sequential(new Dense(2), new Conv2D(1, 1));
        Assert.Throws<ArgumentException>(() => unbuilt.Call(new Input([3])));
        Assert.False(unbuilt.Layers[0].Built);
    }
}
