using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.FunctionalApi;

/// <summary>Models with several inputs and outputs: one tensor per input and per output in Call, Predict, Evaluate and
/// Fit; one loss per output (or one for all) with loss weights; Keras's per-output log names.</summary>
public class MultipleInputsOutputsTests
{
    // Two inputs (4 and 3 features) → a shared trunk → a 3-class head "cls" and a regression head "reg".
    private static Functional TwoByTwo()
    {
        var a = new Input([4], "a");
        var b = new Input([3], "b");
        var trunk = new Dense(16, "relu", name: "trunk").Call(new Concatenate(name: "join").Call(a, b));
        return new Functional([a, b], [new Dense(3, name: "cls").Call(trunk), new Dense(1, name: "reg").Call(trunk)], name: "two_by_two");
    }

    private static (Tensor[] X, Tensor[] Y) Data(int n, int seed)
    {
        var xa = Tensor.RandomNormal([n, 4], seed: seed);
        var xb = Tensor.RandomNormal([n, 3], seed: seed + 100);
        var cls = Tensor.Minimum(xa.ArgMax(1).Reshape(n), 2f);            // classes 0..2 from the first input
        var reg = (xb.Sum(1, keepDims: true) * 0.5f) + xa.Slice(0, 1, axis: 1); // a linear target from both
        return ([xa, xb], [cls, reg]);
    }

    [Fact]
    public void TwoHeadsTrainWithWeightedLossesAndKerasLogNames()
    {
        CortexRandom.SetGlobalSeed(2);
        var model = TwoByTwo();
        model.Compile(new Adam(0.01f), loss: [new SparseCategoricalCrossentropy(fromLogits: true), new MeanSquaredError()], lossWeights: [1f, 0.5f]);
        var (x, y) = Data(256, seed: 1);
        var history = model.Fit(x, y, epochs: 15, batchSize: 32, verbose: 0, validationSplit: 0.25f);
        Assert.Equal("tape: the model has several inputs or outputs", model.TrainingPath);
        Assert.Equal(["loss", "cls_loss", "reg_loss", "val_loss", "val_cls_loss", "val_reg_loss"],
            history.Values.Keys.ToArray());
        Assert.True(history["reg_loss"][^1] < history["reg_loss"][0] / 5, string.Join(", ", history["reg_loss"]));
        Assert.True(history["cls_loss"][^1] < history["cls_loss"][0] / 2, string.Join(", ", history["cls_loss"]));

        var logs = model.Evaluate(x, y, batchSize: 256);
        Assert.Equal(logs["cls_loss"] + 0.5f * logs["reg_loss"], logs["loss"], 5);
        Tensor[] p = model.Predict(x);
        Assert.Equal([256, 3], p[0].Shape);
        Assert.Equal([256, 1], p[1].Shape);
        Tensor[] whole = model.Predict(x, batchSize: 1000);
        Assert.Equal(whole[0].ToArray(), p[0].ToArray());
        Assert.Equal(whole[1].ToArray(), model.Call(x)[1].ToArray());
    }

    [Fact]
    public void AStepMinimisesTheWeightedSumOfTheOutputsLosses()
    {
        var model = TwoByTwo();
        var (x, y) = Data(16, seed: 3);
        var before = model.GetWeights();
        // The step by hand: SGD on 1·cross-entropy + 0.25·MSE, with the same tape ops.
        var ce = new SparseCategoricalCrossentropy(fromLogits: true);
        var mse = new MeanSquaredError();
        Tensor[] grads;
        using (var tape = new GradientTape())
        {
            var p = model.Call(x, training: true);
            grads = tape.Gradient(ce.Call(y[0], p[0]) + mse.Call(y[1], p[1]) * 0.25f, [.. model.TrainableVariables]);
        }
        var expected = before.Zip(grads, (w, g) => (w - g * 0.1f).ToArray()).ToList();
        model.Compile(new SGD(0.1f), loss: [ce, mse], lossWeights: [1f, 0.25f]);
        model.Fit(x, y, batchSize: 16, shuffle: false, verbose: 0);
        var after = model.GetWeights();
        for (int i = 0; i < after.Length; i++) Assert.Equal(expected[i], after[i].ToArray());
    }

    [Fact]
    public void OneLossServesEveryOutput()
    {
        var a = new Input([2]);
        var h = new Dense(4, name: "h1").Call(a);
        var model = new Functional([a], [new Dense(1, name: "o1").Call(h), new Dense(1, name: "o2").Call(h)]);
        model.Compile(new SGD(0.05f), loss: [new MeanSquaredError()], metrics: ["mae"]); // metrics, like the loss, for every output
        var x = Tensor.RandomNormal([32, 2], seed: 5);
        var history = model.Fit([x], [x.Sum(1, keepDims: true), x.Slice(0, 1, axis: 1)], epochs: 3, verbose: 0);
        Assert.Equal(["loss", "o1_loss", "o1_mae", "o2_loss", "o2_mae"], history.Values.Keys.ToArray());
        Assert.Same(model.Losses[0], model.Loss);
    }

    [Fact]
    public void OutputsOfOneLayerGetDistinctLogNames()
    {
        var a = new Input([2]);
        var h = new Dense(1, name: "twice").Call(a);
        var model = new Functional([a], [h, h]);
        model.Compile(new SGD(), loss: [new MeanSquaredError()]);
        var x = Tensor.RandomNormal([8, 2], seed: 1);
        Assert.Equal(["loss", "twice_0_loss", "twice_1_loss"], model.Evaluate([x], [x.Slice(0, 1, axis: 1), x.Slice(1, 1, axis: 1)]).Keys.ToArray());
    }

    [Fact]
    public void AWeightedLossOnAChainTrainsOnTheTapeAndScalesTheLoss()
    {
        var model = new Sequential(new Input([2]), new Dense(1));
        model.Compile(new SGD(0.1f), loss: [new MeanSquaredError()], lossWeights: [0.5f]);
        var x = Tensor.RandomNormal([16, 2], seed: 4);
        var y = x.Sum(1, keepDims: true);
        float unweighted = new MeanSquaredError().Call(y, model.Predict(x)).Item();
        Assert.Equal(0.5f * unweighted, model.Evaluate(x, y, batchSize: 16)["loss"], 6);
        model.Fit(x, y, verbose: 0);
        Assert.Equal("tape: the loss is weighted (lossWeights)", model.TrainingPath); // the fused step knows no weights
    }

    [Fact]
    public void CountsThatDoNotFitTheModelAreRefused()
    {
        var model = TwoByTwo();
        var (x, y) = Data(8, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => model.Compile(new Adam(), loss: [new MeanSquaredError(), new MeanSquaredError(), new MeanSquaredError()]));
        Assert.Contains("has 2 outputs: expected 1 loss or 2. Received: 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Compile(new Adam(), loss: [new MeanSquaredError()], lossWeights: [1f]));
        Assert.Contains("expected 2 finite, non-negative loss weights", e.Message);
        model.Compile(new Adam(), loss: [new SparseCategoricalCrossentropy(fromLogits: true), new MeanSquaredError()]);
        e = Assert.Throws<ArgumentException>(() => model.Fit([x[0]], y, verbose: 0));
        Assert.Contains("takes 2 input tensor(s) and 2 label tensor(s), one per output. Received: 1 and 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Fit(x, [y[0], y[1].Slice(0, 4)], verbose: 0));
        Assert.Contains("same number of rows", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Fit(x, [y[0] + 5f, y[1]], verbose: 0));
        Assert.Contains("Fit (output 'cls'): label", e.Message);
        Assert.Throws<InvalidOperationException>(() => model.Predict(x[0]));
        e = Assert.Throws<ArgumentException>(() => model.Predict([x[1], x[0]])); // swapped: each Input checks its shape
        Assert.Contains("Input 'a' expects shape (None, 4)", e.Message);
    }

    [Fact]
    public void SeveralLossesAndTheirWeightsSaveAndLoad()
    {
        var model = TwoByTwo();
        model.Compile(new Adam(0.01f), loss: [new SparseCategoricalCrossentropy(fromLogits: true), new MeanAbsoluteError()], lossWeights: [0.3f, 2f]);
        var (x, y) = Data(40, seed: 7);
        model.Fit(x, y, epochs: 1, verbose: 0);
        using var dir = new TempDir();
        string path = dir.File("m.cortex");
        model.Save(path);
        var loaded = Model.Load(path);
        Assert.Equal([typeof(SparseCategoricalCrossentropy), typeof(MeanAbsoluteError)], loaded.Losses.Select(l => l.GetType()));
        Assert.Equal([0.3f, 2f], loaded.LossWeights!);
        Assert.Equal(model.Predict(x)[1].ToArray(), loaded.Predict(x)[1].ToArray());
        Assert.Equal(model.Evaluate(x, y), loaded.Evaluate(x, y));
    }
}
