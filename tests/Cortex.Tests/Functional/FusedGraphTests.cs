using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.FunctionalApi;

/// <summary>Graphs on the fused training step: branches, merges and tensors read by several layers train there with
/// the tape's bits, allocate nothing per step, and graphs the step does not take say why they run on the tape.</summary>
[Collection(RunsAlone.Name)]
public class FusedGraphTests
{
    /// <summary>Three classes by a sample's (scaled) sum: below −0.5, up to 0.5, above.</summary>
    private static (Tensor X, Tensor Y) Classes(int[] shape, int seed, float scale)
    {
        var x = Tensor.RandomNormal(shape, seed: seed);
        int n = shape[0], width = x.Size / n;
        var values = x.ToArray();
        var labels = new float[n];
        for (int i = 0; i < n; i++)
        {
            float s = values.AsSpan(i * width, width).ToArray().Sum() * scale;
            labels[i] = s < -0.5f ? 0 : s < 0.5f ? 1 : 2;
        }
        return (x, Tensor.FromArray(labels, [n]));
    }

    private static (Tensor X, Tensor Y) Images(int n, int seed) => Classes([n, 8, 8, 2], seed, 0.1f);

    private static (Tensor X, Tensor Y) Rows(int n, int seed) => Classes([n, 6], seed, 0.5f);

    /// <summary>A residual CNN as Zoo.FashionResNet: conv → pool → two convs added to their input → relu → conv → dense.</summary>
    private static Functional ResidualCnn()
    {
        var input = new Input([8, 8, 2]);
        SymbolicTensor x = new MaxPooling2D(2).Call(new Conv2D(4, 3, padding: "same", activation: "relu").Call(input));
        SymbolicTensor branch = new Conv2D(4, 3, padding: "same").Call(new Conv2D(4, 3, padding: "same", activation: "relu").Call(x));
        x = new Activation("relu").Call(new Add().Call(x, branch));
        x = new Conv2D(3, 3, activation: "relu").Call(x);
        return new Functional(input, new Dense(3).Call(new Flatten().Call(x)));
    }

    /// <summary>An inception-like block: two conv branches joined along the channels, then a 1×1 conv.</summary>
    private static Functional ChannelConcatCnn()
    {
        var input = new Input([8, 8, 2]);
        SymbolicTensor a = new Conv2D(3, 1, activation: "relu").Call(input);
        SymbolicTensor b = new Conv2D(2, 3, padding: "same", activation: "tanh").Call(input);
        SymbolicTensor x = new Concatenate().Call(a, b, input);                      // the input itself joins too
        x = new GlobalAveragePooling2D().Call(new Conv2D(4, 1, activation: "relu").Call(x));
        return new Functional(input, new Dense(3).Call(x));
    }

    /// <summary>Every merge the fused step runs, a tensor read by four layers (the gradients' sum order matters), a
    /// merge of a tensor with itself and a non-trained branch from the input.</summary>
    private static Functional EveryMerge()
    {
        var input = new Input([6]);
        SymbolicTensor h = new Dense(8, "tanh").Call(input);
        SymbolicTensor a = new Dense(8, "relu").Call(h);
        SymbolicTensor b = new Dense(8, "sigmoid").Call(h);
        SymbolicTensor sum = new Add().Call(a, b, h);                                 // three inputs
        SymbolicTensor diff = new Subtract().Call(sum, h);                            // h's fourth reader
        SymbolicTensor product = new Multiply().Call(diff, b);
        SymbolicTensor mean = new Average().Call(product, a, new Add().Call(a, a));   // a merged with itself
        SymbolicTensor joined = new Concatenate().Call(mean, new Dense(4, "relu").Call(input), input);
        return new Functional(input, new Dense(3).Call(joined));
    }

    public static TheoryData<string> Graphs => ["residual cnn", "channel concat cnn", "every merge"];

    private static (Func<Model> Make, Tensor X, Tensor Y) Case(string name) => name switch
    {
        "residual cnn" => (ResidualCnn, Images(150, 1).X, Images(150, 1).Y),
        "channel concat cnn" => (ChannelConcatCnn, Images(150, 2).X, Images(150, 2).Y),
        _ => (EveryMerge, Rows(300, 3).X, Rows(300, 3).Y),
    };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void GraphsTrainOnTheFusedStepWithTheTapesBits(string graph)
    {
        var (make, x, y) = Case(graph);
        float accuracy = BothPaths.AssertModelFusedEqualsTape(make, x, y, epochs: 10, rate: 0.01f, seed: 5);
        Assert.True(accuracy > 0.4f, $"{graph}: accuracy {accuracy} after 10 epochs (3 classes)");
    }

    [Fact]
    public void AWideResidualBlockSplitsItsMergeAndWinogradsConvolutionsOverTheCoresWithTheTapesBits()
    {
        // 32 samples of 16 × 16 × 16: the Add merges 131,072 floats a batch (the cores split it), and every convolution
        // runs Winograd (16 channels, 2,048 tiles), the last batch of 28 too.
        static Functional Wide()
        {
            var input = new Input([16, 16, 16]);
            SymbolicTensor x = new Conv2D(16, 3, padding: "same", activation: "relu").Call(input);
            SymbolicTensor branch = new Conv2D(16, 3, padding: "same").Call(new Conv2D(16, 3, padding: "same", activation: "relu").Call(x));
            x = new Activation("relu").Call(new Add().Call(x, branch));
            return new Functional(input, new Dense(3).Call(new GlobalAveragePooling2D().Call(x)));
        }
        var (x, y) = Classes([60, 16, 16, 16], seed: 6, scale: 0.02f);
        BothPaths.AssertModelFusedEqualsTape(Wide, x, y, epochs: 2, rate: 0.01f, seed: 5);
    }

    [Fact]
    public void TheResidualFashionModelTrainsFused()
    {
        CortexRandom.SetGlobalSeed(1);
        var model = Zoo.FashionResNet();
        var (x, y) = Classes([64, 28, 28, 1], seed: 1, scale: 0.05f);
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0);
        Assert.Equal("fused", model.TrainingPath);
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void GraphStepsAllocateNothing(string graph)
    {
        var (make, x, y) = Case(graph);
        CortexRandom.SetGlobalSeed(1);
        var model = make();
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var probe = new Cortex.Tests.Models.SteadyStateAllocationTests.Probe(3, 9);
        model.Fit(x, y, epochs: 1, batchSize: 16, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Fact]
    public void GraphsTheStepDoesNotTakeSayWhyTheyRunOnTheTape()
    {
        var (x, y) = Rows(64, 4);
        string PathOf(Model model)
        {
            model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
            model.Fit(x, y, epochs: 1, verbose: 0);
            return model.TrainingPath!;
        }
        var input = new Input([6]);
        var shared = new Dense(6, "relu", name: "shared_dense");
        Assert.Equal("tape: layer 'shared_dense' is shared (called 2 times)",
            PathOf(new Functional(input, new Dense(3).Call(shared.Call(shared.Call(input))))));

        input = new Input([6]);
        SymbolicTensor h = new Dense(6).Call(input);
        Assert.Equal("tape: Maximum 'max_merge' has no fused stage for 2 input(s)",
            PathOf(new Functional(input, new Dense(3).Call(new Maximum("max_merge").Call(h, input)))));

        input = new Input([6]);
        h = new Dense(1).Call(input);
        Assert.Equal("tape: Add 'broadcast_add' broadcasts inputs of different shapes",
            PathOf(new Functional(input, new Dense(3).Call(new Add("broadcast_add").Call(h, input)))));
    }

    [Fact]
    public void ARecurrentLayerGivenInitialStatesInAGraphTrainsOnTheTapeAndPredictsThroughItsLayers()
    {
        CortexRandom.SetGlobalSeed(2);
        var input = new Input([5, 3]);
        SymbolicTensor pooled = new GlobalAveragePooling1D().Call(input);
        SymbolicTensor h0 = new Dense(4).Call(pooled), c0 = new Dense(4).Call(pooled);
        SymbolicTensor sequence = new LSTM(4, name: "stateful_lstm").CallWithState(input, [h0, c0])[0];
        var model = new Functional(input, new Dense(3).Call(sequence));
        var x = Tensor.RandomNormal([40, 5, 3], seed: 3);
        var y = Tensor.FromArray([.. Enumerable.Range(0, 40).Select(i => (float)(i % 3))], [40]);
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, batchSize: 8, verbose: 0);
        Assert.Equal("tape: LSTM 'stateful_lstm' is called on 3 tensors (initial states run on the tape)", model.TrainingPath);
        var predicted = model.Predict(x);
        Assert.False(model.PredictsOnStages);
        Model.ForceLayerPredict = true;
        try { Assert.Equal(model.Predict(x).ToArray(), predicted.ToArray()); }
        finally { Model.ForceLayerPredict = false; }
    }
}
