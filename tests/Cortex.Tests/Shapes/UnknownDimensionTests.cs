using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Shapes;

/// <summary>
/// Inputs whose non-batch dimensions are known only when the model is called (Keras's <c>None</c>, −1 here):
/// sequences of any length, images of any size into a fully convolutional network — the same numbers as a model built
/// for the size at hand, on both training paths, saved and loaded; what cannot work is refused clearly.
/// </summary>
public class UnknownDimensionTests
{
    private static Sequential Fcn(int[] input) => new(new Input(input), new Conv2D(4, 3, padding: "same", activation: "relu"), new MaxPooling2D(2),
        new Conv2D(5, 3, activation: "relu"), new GlobalAveragePooling2D(), new Dense(2));

    private static Sequential Reader(int[] input) => new(new Input(input), new Conv1D(3, 2, padding: "same"), new LSTM(4), new Dense(2));

    [Fact]
    public void AFullyConvolutionalNetworkTakesImagesOfAnySizeAsTheModelBuiltForThatSize()
    {
        CortexRandom.SetGlobalSeed(1);
        var any = Fcn([-1, -1, 1]);
        Assert.Contains("(None, None, None, 4)", any.SummaryString());
        foreach (int[] size in new[] { new[] { 10, 10 }, [14, 9], [7, 12] })
        {
            var fixedSize = Fcn([size[0], size[1], 1]);
            fixedSize.SetWeights(any.GetWeights());
            var x = Tensor.RandomNormal([3, size[0], size[1], 1], seed: size[0]);
            Assert.Equal(fixedSize.Predict(x).ToArray(), any.Predict(x).ToArray());
        }
    }

    [Fact]
    public void SequencesOfAnyLengthTrainOnTheFusedStepAsTheFixedLengthModel()
    {
        var y = Tensor.FromArray([.. Enumerable.Range(0, 32).Select(i => (float)(i % 2))], [32]);
        foreach (int steps in new[] { 5, 9 })
        {
            var x = Tensor.RandomNormal([32, steps, 3], seed: steps);
            float[] Train(int[] input)
            {
                CortexRandom.SetGlobalSeed(2);
                var model = Reader(input);
                model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true));
                model.Fit(x, y, epochs: 2, batchSize: 8, verbose: 0);
                Assert.Equal("fused", model.TrainingPath);
                return [.. model.GetWeights().SelectMany(w => w.ToArray())];
            }
            Assert.Equal(Train([steps, 3]), Train([-1, 3]));
        }
    }

    [Fact]
    public void OneModelTrainsOnOneLengthThenAnotherAndIsSavedWithItsUnknownAxes()
    {
        CortexRandom.SetGlobalSeed(3);
        var model = new Sequential(new Input([-1]), new Embedding(20, 4, maskZero: true), new Bidirectional(new GRU(3, returnSequences: true)),
            new TimeDistributed(new Dense(2)), new GlobalAveragePooling1D(), new Dense(2));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        var y = Tensor.FromArray([.. Enumerable.Range(0, 16).Select(i => (float)(i % 2))], [16]);
        foreach (int steps in new[] { 4, 7 })
            model.Fit(Tensor.FromArray([.. Enumerable.Range(0, 16 * steps).Select(i => (float)(i * 7 % 20))], [16, steps]), y, verbose: 0);
        using var dir = new TempDir();
        model.Save(dir.File("any.cortex"));
        var back = Model.Load(dir.File("any.cortex"));
        var x = Tensor.FromArray([.. Enumerable.Range(0, 2 * 11).Select(i => (float)(i * 3 % 20))], [2, 11]);
        Assert.Equal(model.Predict(x).ToArray(), back.Predict(x).ToArray());
        Assert.Contains("(None, None)", back.SummaryString());
    }

    [Fact]
    public void AGraphTakesSequencesOfAnyLength()
    {
        CortexRandom.SetGlobalSeed(4);
        var input = new Input([-1, 3]);
        SymbolicTensor h = new LSTM(4, returnSequences: true).Call(input);
        var model = new Functional(input, new Dense(2).Call(new GlobalAveragePooling1D().Call(new Add().Call(h, new Dense(4).Call(input)))));
        Assert.Equal([2, 2], model.Predict(Tensor.RandomNormal([2, 6, 3], seed: 1)).Shape);
        Assert.Equal([3, 2], model.Predict(Tensor.RandomNormal([3, 13, 3], seed: 2)).Shape);
    }

    [Fact]
    public void WhatNeedsTheSizeSaysSo()
    {
        Assert.Equal("Input: every dimension must be positive, or -1 (None) for one known only when called. Received: shape (-2, 3)",
            Assert.Throws<ArgumentException>(() => new Input([-2, 3])).Message);
        var e = Assert.Throws<ArgumentException>(() => new Sequential(new Input([-1, 3]), new Flatten(), new Dense(2, name: "head")));
        Assert.Contains("Dense 'head' needs its input's last dimension to make its kernel, but it is known only when called. Received: shape (None, None)", e.Message);
        var model = Reader([-1, 3]);
        Assert.Contains("expects shape (None, None, 3). Received: shape (2, 5, 4)", Assert.Throws<ArgumentException>(() => model.Predict(Tensor.Zeros(2, 5, 4))).Message);
    }
}
