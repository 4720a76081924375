using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>Predict on the stages (forward only, buffers kept by the model) gives the layers' calls' bits, at any
/// batch size, after training changes the weights, from several threads, and allocates only its result.</summary>
[Collection(RunsAlone.Name)]
public class StagePredictTests
{
    private static Tensor LayerPredict(Model model, Tensor x, int batchSize)
    {
        Model.ForceLayerPredict = true;
        try { return model.Predict(x, batchSize: batchSize); }
        finally { Model.ForceLayerPredict = false; }
    }

    public static TheoryData<string> Models => ["mlp", "cnn-bn-dropout", "cnn-pools", "conv1d-pools", "strided-one-channel", "dilated-two-channels", "lstm", "bidirectional-gru", "residual"];

    private static (Model Model, int[] Sample) Make(string name)
    {
        CortexRandom.SetGlobalSeed(3);
        switch (name)
        {
            case "mlp":
                return (new Sequential(new Input([20]), new Dense(16, "relu"), new Dropout(0.3f), new Dense(5, "softmax")), [20]);
            case "cnn-bn-dropout":
                return (new Sequential(new Input([10, 10, 2]), new Conv2D(6, 3, activation: "relu"), new BatchNormalization(),
                    new MaxPooling2D(2), new Dropout(0.2f), new Flatten(), new Dense(4)), [10, 10, 2]);
            case "cnn-pools":
                // Each convolution is followed by a pooling that inference folds into it: max 2×2, an overlapping
                // average with "same" padding, and a global average (whole images per block).
                return (new Sequential(new Input([40, 40, 3]), new Conv2D(16, 3, activation: "relu"), new MaxPooling2D(2),
                    new Conv2D(8, 3, padding: "same", activation: "tanh"), new AveragePooling2D(3, strides: 2, padding: "same"),
                    new Conv2D(6, 3, activation: "relu"), new GlobalAveragePooling2D(), new Dense(4)), [40, 40, 3]);
            case "strided-one-channel":
                // Few channels: inference copies the patches transposed (a strided, padded window here).
                return (new Sequential(new Input([28, 28, 1]), new Conv2D(8, 3, strides: 2, padding: "same", activation: "relu"),
                    new MaxPooling2D(2), new Flatten(), new Dense(3)), [28, 28, 1]);
            case "dilated-two-channels":
                return (new Sequential(new Input([20, 20, 2]), new Conv2D(6, 3, dilationRate: 2, padding: "same", activation: "tanh"),
                    new AveragePooling2D(2), new Conv2D(5, (2, 4), activation: "relu"), new Flatten(), new Dense(3)), [20, 20, 2]);
            case "conv1d-pools":
                return (new Sequential(new Input([50, 4]), new Conv1D(8, 5, activation: "relu"), new MaxPooling1D(3),
                    new Conv1D(6, 3, padding: "same"), new GlobalMaxPooling1D(), new Dense(3)), [50, 4]);
            case "lstm":
                return (new Sequential(new Input([7, 5]), new LSTM(12, returnSequences: true), new LSTM(6), new Dense(3)), [7, 5]);
            case "bidirectional-gru":
                return (new Sequential(new Input([6, 4]), new Bidirectional(new GRU(5)), new Dense(2)), [6, 4]);
            default:
                var input = new Input([12]);
                SymbolicTensor h = new Dense(8, "tanh").Call(input);
                h = new Add().Call(h, new Dense(8, "relu").Call(h));
                return (new Functional(input, new Dense(3).Call(new Concatenate().Call(h, input))), [12]);
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void StagesGiveTheLayersBitsAtEveryBatchSizeAndAfterTraining(string name)
    {
        var (model, sample) = Make(name);
        var x = Tensor.RandomNormal([300, .. sample], seed: 4);
        foreach (int batchSize in new[] { 1, 7, 32, 300 })
            Assert.Equal(LayerPredict(model, x, batchSize).ToArray(), model.Predict(x, batchSize: batchSize).ToArray());
        Assert.Equal(LayerPredict(model, x.Slice(0, 1), 32).ToArray(), model.Predict(x.Slice(0, 1)).ToArray());
        Assert.True(model.PredictsOnStages);

        // Training changes the weights (and BatchNormalization's statistics): Predict sees the new ones.
        var before = model.Predict(x).ToArray();
        var y = Tensor.FromArray([.. Enumerable.Range(0, 300).Select(i => (float)(i % 2))], [300]);
        model.Compile(new Adam(0.05f), new SparseCategoricalCrossentropy(fromLogits: name != "mlp"));
        model.Fit(x, y, epochs: 1, batchSize: 50, verbose: 0);
        var after = model.Predict(x);
        Assert.NotEqual(before, after.ToArray());
        Assert.Equal(LayerPredict(model, x, 32).ToArray(), after.ToArray());
        Assert.True(model.PredictsOnStages);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void StagesThatReadTheInputInPlaceLeaveItAsItWas(string name)
    {
        var (model, sample) = Make(name);
        var x = Tensor.RandomNormal([64, .. sample], seed: 6);
        var before = x.ToArray();
        var expected = LayerPredict(model, x, 64).ToArray();
        Assert.Equal(expected, model.Predict(x, batchSize: 64).ToArray()); // one run: the stages read x itself
        Assert.Equal(before, x.ToArray());
        Assert.Equal(expected, model.Predict(x, batchSize: 64).ToArray());
    }

    [Fact]
    public void AWarmPredictAllocatesOnlyItsResult()
    {
        var (model, sample) = Make("cnn-bn-dropout");
        var x = Tensor.RandomNormal([1, .. sample], seed: 5);
        model.Predict(x);
        model.Predict(x);
        long start = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) model.Predict(x);
        long perCall = (GC.GetAllocatedBytesForCurrentThread() - start) / 100;
        Assert.True(perCall < 400, $"{perCall} bytes per single-sample Predict (the result is 4 floats)");
    }

    [Fact]
    public void ConcurrentPredictsGetTheirOwnRows()
    {
        var (model, sample) = Make("lstm");
        var inputs = Enumerable.Range(0, 4).Select(i => Tensor.RandomNormal([40, .. sample], seed: 10 + i)).ToArray();
        var expected = inputs.Select(x => LayerPredict(model, x, 32).ToArray()).ToArray();
        Parallel.For(0, 40, i =>
        {
            int k = i % inputs.Length;
            Assert.Equal(expected[k], model.Predict(inputs[k]).ToArray());
        });
    }

    [Fact]
    public void FrozenLayersAndActivationsThatTrainOnTheTapePredictOnStages()
    {
        CortexRandom.SetGlobalSeed(1);
        var frozen = new Conv2D(3, 3, activation: "softplus");
        var model = new Sequential(new Input([6, 6, 1]), frozen, new Flatten(), new Dense(2, "gelu"));
        frozen.Trainable = false;
        var x = Tensor.RandomNormal([9, 6, 6, 1], seed: 2);
        Assert.Equal(LayerPredict(model, x, 32).ToArray(), model.Predict(x).ToArray());
        Assert.True(model.PredictsOnStages);
    }

    [Fact]
    public void ModelsWithoutStagesAndWrongShapesTakeTheLayersCalls()
    {
        CortexRandom.SetGlobalSeed(1);
        var input = new Input([6]);
        var shared = new Dense(6, "relu");                      // a layer called twice: the graph's stages refuse it
        var model = new Functional(input, new Dense(2).Call(shared.Call(shared.Call(input))));
        var x = Tensor.RandomNormal([9, 6], seed: 2);
        Assert.Equal(LayerPredict(model, x, 32).ToArray(), model.Predict(x).ToArray());
        Assert.False(model.PredictsOnStages);
        var error = Assert.Throws<ArgumentException>(() => model.Predict(Tensor.RandomNormal([3, 5], seed: 1)));
        Assert.Contains("5", error.Message);
    }
}
