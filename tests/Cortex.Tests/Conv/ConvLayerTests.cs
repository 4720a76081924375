using Cortex.Autodiff;
using Cortex.Data;
using Cortex.Kernels;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Conv;

/// <summary>The convolutional layers in models: shapes and Summary, saving, the fused training step, bad input.</summary>
public class ConvLayerTests
{
    [Fact]
    public void SummaryShowsKerasShapesAndParameterCounts()
    {
        string s = Zoo.FashionCnn().SummaryString();
        Assert.Matches(@"conv2d\S* \(Conv2D\)\s+│ \(None, 26, 26, 32\)\s+│\s+320 │", s);
        Assert.Matches(@"max_pooling2d\S* \(MaxPooling2D\)\s+│ \(None, 13, 13, 32\)\s+│\s+0 │", s);
        Assert.Matches(@"\(Conv2D\)\s+│ \(None, 11, 11, 64\)\s+│\s+18,496 │", s);
        Assert.Contains("(None, 5, 5, 64)", s);
        Assert.Matches(@"\(Flatten\)\s+│ \(None, 1600\)", s);
        Assert.Matches(@"\(Dense\)\s+│ \(None, 10\)\s+│\s+16,010 │", s);
        Assert.Contains("Total params: 34,826 (136.04 KB)", s);
    }

    [Fact]
    public void OutputShapesFollowKerasPaddingStridesAndDilation()
    {
        int[] Out(Layer l, params int[] shape) => l.ComputeOutputShape([-1, .. shape]);
        Assert.Equal([-1, 14, 14, 8], Out(new Conv2D(8, 3, strides: 2, padding: "same"), 28, 28, 1));
        Assert.Equal([-1, 13, 13, 8], Out(new Conv2D(8, 3, strides: 2), 28, 28, 1));
        Assert.Equal([-1, 24, 24, 8], Out(new Conv2D(8, 3, dilationRate: 2), 28, 28, 1));
        Assert.Equal([-1, 26, 24, 4], Out(new Conv2D(4, (3, 5)), 28, 28, 1));
        Assert.Equal([-1, 4, 4, 3], Out(new MaxPooling2D(2, padding: "same"), 7, 7, 3));
        Assert.Equal([-1, 3, 3, 3], Out(new AveragePooling2D(3, strides: 2), 7, 7, 3));
        Assert.Equal([-1, 3], Out(new GlobalAveragePooling2D(), 7, 7, 3));
        Assert.Equal([-1, 28, 28, 1], Out(new Reshape([28, -1, 1]), 784));
        var bn = new BatchNormalization();
        Assert.Equal([-1, 5, 5, 3], Out(bn, 5, 5, 3));
    }

    [Fact]
    public void ReshapeFlattenAndDropoutWorkAroundConvolutions()
    {
        var model = new Sequential(new Reshape([8, 8, 1]), new Conv2D(4, 3, padding: "same", activation: "relu"),
            new BatchNormalization(), new AveragePooling2D(2), new Dropout(0.3f, seed: 1), new Flatten(), new Dense(3));
        var x = Tensor.RandomNormal([5, 64], seed: 2);
        Assert.Equal([5, 3], model.Call(x, training: true).Shape);
        Assert.Equal([5, 3], model.Predict(x).Shape);
    }

    [Fact]
    public void SaveAndLoadCarryEveryConvolutionalLayerAndTheMovingStatistics()
    {
        CortexRandom.SetGlobalSeed(5);
        var model = new Sequential(
            new Input([9, 9, 2]),
            new Conv2D(4, (3, 2), strides: (2, 1), padding: "same", activation: "tanh", useBias: false, name: "c1"),
            new BatchNormalization(momentum: 0.8f, epsilon: 1e-2f, center: false),
            new Conv2D(3, 2, dilationRate: 2, activation: "relu"),
            new MaxPooling2D((2, 1), strides: 1, padding: "same"),
            new AveragePooling2D(2, padding: "same"),
            new GlobalAveragePooling2D(keepDims: true),
            new Reshape([-1]),
            new Dense(2));
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true));
        var x = Tensor.RandomNormal([12, 9, 9, 2], seed: 3);
        var y = Tensor.FromArray([0f, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0]);
        model.Fit(x, y, epochs: 2, batchSize: 4, verbose: 0);
        var bn = (BatchNormalization)model.Layers[2]; // [0] is the Input
        Assert.NotEqual(new float[4], bn.MovingMean!.ToArray()); // training moved them

        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "cnn.cortex");
        model.Save(path);
        var loaded = Model.Load(path);
        Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
        Assert.Equal(model.SummaryString().Replace(model.Name, ""), loaded.SummaryString().Replace(loaded.Name, ""));
        var c1 = Assert.IsType<Conv2D>(loaded.Layers[1]); // [0] is the Input
        Assert.Equal((new Size2D(3, 2), new Size2D(2, 1), "same", "tanh", false), (c1.KernelSize, c1.Strides, c1.Padding, c1.Activation.Name, c1.UseBias));
        var lbn = Assert.IsType<BatchNormalization>(loaded.Layers[2]);
        Assert.Equal((0.8f, 1e-2f, false, true), (lbn.Momentum, lbn.Epsilon, lbn.Center, lbn.Scale));
        Assert.Equal(bn.MovingVariance!.ToArray(), lbn.MovingVariance!.ToArray());
        Assert.Equal(new Size2D(2, 2), Assert.IsType<Conv2D>(loaded.Layers[3]).DilationRate);
        Assert.Equal((new Size2D(2, 1), new Size2D(1, 1)), (((MaxPooling2D)loaded.Layers[4]).PoolSize, ((MaxPooling2D)loaded.Layers[4]).Strides));
        Assert.True(((GlobalAveragePooling2D)loaded.Layers[6]).KeepDims);
    }

    [Fact]
    public void BatchNormalizationTrainsWithBatchStatisticsAndPredictsWithMovingOnes()
    {
        var bn = new BatchNormalization(momentum: 0.5f);
        var x = Tensor.FromArray([1f, 10, 3, 20, 5, 30], 3, 2);
        var yTrain = bn.Call(x, training: true);
        // Batch mean (3, 20), biased variance (8/3, 200/3): each column is standardised.
        Assert.Equal(0f, yTrain.Mean(0).AsSpan()[0], 5);
        Assert.Equal([0.5f * 0 + 0.5f * 3, 0.5f * 20], bn.MovingMean!.ToArray());
        Assert.Equal(0.5f + 0.5f * 8f / 3, bn.MovingVariance!.AsSpan()[0], 5);
        var yInfer = bn.Call(x);
        Assert.Equal((1f - 1.5f) / MathF.Sqrt(0.5f + 4f / 3 + 1e-3f), yInfer.AsSpan()[0], 5);
        bn.Trainable = false; // a frozen layer normalises with its moving statistics even in training
        Assert.Equal(yInfer.ToArray(), bn.Call(x, training: true).ToArray());
        Assert.Equal([0.5f * 0 + 0.5f * 3, 0.5f * 20], bn.MovingMean!.ToArray());
        bn.Trainable = true;
        Assert.Equal(["gamma", "beta", "moving_mean", "moving_variance"], bn.Weights.Select(w => w.Name.Split('/')[1]));
        Assert.Equal(2, bn.NonTrainableWeights.Count);
    }

    private static float[] Train(bool tape, Func<Sequential> build, Tensor x, Tensor y, int batch)
    {
        CortexRandom.SetGlobalSeed(23);
        var model = build();
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        Trainer.ForceTapePath = tape;
        try
        {
            var h = model.Fit(x, y, epochs: 2, batchSize: batch, verbose: 0);
            Assert.Equal(!tape, Trainer.LastFitFused);
            return [.. model.GetWeights().SelectMany(w => w.ToArray()), .. h["loss"], .. h["accuracy"]];
        }
        finally { Trainer.ForceTapePath = false; }
    }

    [Fact]
    public void FusedAndTapePathsAgreeBitForBitOnACnn()
    {
        var x = Tensor.RandomNormal([45, 12, 12, 2], seed: 4);
        var y = (x.Slice(0, 1, axis: 3).Sum(1).Sum(1).Reshape(-1) > 0f) + (x.Slice(1, 1, axis: 3).Mean(1).Mean(1).Reshape(-1) > 0.1f);
        Sequential Build() => new(
            new Conv2D(6, 3, strides: 2, padding: "same", activation: "relu"),
            new MaxPooling2D(2, strides: 1),
            new Conv2D(5, (2, 3), dilationRate: (1, 2), activation: "tanh", useBias: false),
            new AveragePooling2D(2, padding: "same"),
            new Flatten(),
            new Dropout(0.25f, seed: 3),
            new Dense(3));
        var fused = Train(false, Build, x, y, batch: 16); // 45 rows: a short last batch
        var taped = Train(true, Build, x, y, batch: 16);
        Assert.Equal(taped, fused);
    }

    [Fact]
    public void FusedAndTapePathsAgreeBitForBitOnACnnWithBatchNormalization()
    {
        // 16 channels take the SIMD lanes, 5 the scalar tail; the moving statistics are among the weights compared.
        var x = Tensor.RandomNormal([45, 10, 10, 2], seed: 6);
        var y = (x.Slice(0, 1, axis: 3).Sum(1).Sum(1).Reshape(-1) > 0f) + (x.Slice(1, 1, axis: 3).Mean(1).Mean(1).Reshape(-1) > 0.1f);
        Sequential Build() => new(
            new Conv2D(16, 3, useBias: false),
            new BatchNormalization(),
            new Activation("relu"),
            new MaxPooling2D(2),
            new Conv2D(5, 2),
            new BatchNormalization(momentum: 0.8f, epsilon: 1e-2f, center: false),
            new Flatten(),
            new Dense(3));
        var fused = Train(false, Build, x, y, batch: 16);
        var taped = Train(true, Build, x, y, batch: 16);
        Assert.Equal(taped, fused);
    }

    [Fact]
    public void FusedAndTapePathsAgreeBitForBitWithSoftmaxOverEachPixelsChannels()
    {
        // An Activation layer on images works on their last axis in both paths: softmax normalises each pixel's 4
        // channels, not the whole image (the fused step once took a sample's whole width as the row).
        var x = Tensor.RandomNormal([45, 8, 8, 2], seed: 8);
        var y = (x.Slice(0, 1, axis: 3).Sum(1).Sum(1).Reshape(-1) > 0f) + (x.Slice(1, 1, axis: 3).Mean(1).Mean(1).Reshape(-1) > 0.1f);
        Sequential Build() => new(
            new Conv2D(4, 3),
            new Activation("softmax"),
            new Conv2D(3, 2, activation: "relu6"),
            new Flatten(),
            new Dense(3));
        var fused = Train(false, Build, x, y, batch: 16);
        var taped = Train(true, Build, x, y, batch: 16);
        Assert.Equal(taped, fused);
    }

    [Fact]
    public void ModelsTheFusedStepCannotRunFallBackToTheTape()
    {
        var x = Tensor.RandomNormal([20, 6, 6, 1], seed: 1);
        var y = Tensor.Zeros(20);
        foreach (var model in new[]
        {
            new Sequential(new Conv2D(2, 3, kernelRegularizer: new Regularizers.L2(0.01f)), new Flatten(), new Dense(2)),
            new Sequential(new Conv2D(2, 3, activation: "softplus"), new Flatten(), new Dense(2)),
        })
        {
            model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
            model.Fit(x, y, epochs: 1, batchSize: 8, verbose: 0);
            Assert.False(Trainer.LastFitFused);
        }
    }

    [Fact]
    public void ABatchSplitOverCoresGivesEachImagesOwnBits()
    {
        // A batch big enough for the per-image and row-half kernels to split over two cores (40×26×26×32 outputs)
        // against the same images one at a time (too small to split): outputs and input gradients bit for bit.
        var conv = new Conv2D(32, 3, activation: "relu");
        var pool = new MaxPooling2D(2);
        var x = Tensor.RandomNormal([40, 28, 28, 1], seed: 21);
        var upstream = Tensor.RandomNormal([40, 13, 13, 32], seed: 22);
        conv.Call(x.Slice(0, 1));
        conv.Bias!.Assign(Tensor.RandomNormal([32], seed: 23)); // a bias that changes values (the initial one is 0)
        (Tensor Y, Tensor Dx) Run(Tensor input, Tensor up)
        {
            using var tape = new GradientTape();
            tape.Watch(input);
            var y = pool.Call(conv.Call(input));
            return (y, tape.Gradient(y, [input], up, UnconnectedGradients.None)[0]!);
        }
        var (yBatch, dxBatch) = Run(x, upstream);
        for (int n = 0; n < 40; n++)
        {
            var (y1, dx1) = Run(x.Slice(n, 1), upstream.Slice(n, 1));
            Assert.Equal(y1.ToArray(), yBatch.Slice(n, 1).ToArray());
            Assert.Equal(dx1.ToArray(), dxBatch.Slice(n, 1).ToArray());
        }
    }

    [FashionMnistFact]
    public void CnnReachesNinetyPercentOnFashionMnistInThreeEpochs()
    {
        // The CNN issue's target, with examples/FashionCnn's recipe: the issue's network without the optional Dropout,
        // standardised pixels, batches of 32, Adam decaying from 3e-3 to 1e-4 over the 3 epochs. Deterministic for the
        // seed (any thread count), so the margin is fixed: 90.62% (90.41% before the second convolution ran Winograd's
        // F(2×2, 3×3); ~20 s on 2 cores).
        CortexRandom.SetGlobalSeed(42);
        var (xTrain, yTrain, xTest, yTest) = Datasets.FashionMnist.Load(flatten: false);
        float mean = xTrain.Mean().Item();
        float std = (xTrain - mean).Square().Mean().Sqrt().Item();
        var model = Zoo.FashionCnn(dropout: 0);
        const int Epochs = 3, Batch = 32;
        long steps = Epochs * ((60_000 + Batch - 1) / Batch);
        var adam = new Adam(3e-3f) { Schedule = new ExponentialDecay(3e-3f, decaySteps: steps, decayRate: 1e-4f / 3e-3f) };
        model.Compile(adam, new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        model.Fit((xTrain - mean) / std, yTrain, epochs: Epochs, batchSize: Batch, verbose: 0);
        Assert.True(Trainer.LastFitFused, "the CNN should train on the fused step");
        float accuracy = model.Evaluate((xTest - mean) / std, yTest, batchSize: 500)["accuracy"];
        Assert.True(accuracy >= 0.90f, $"test accuracy {accuracy} < 0.90 after {Epochs} epochs");
    }
}

/// <summary>A convolutional network trains to the same bits on one core as on two.</summary>
[Collection(RunsAlone.Name)]
public class ConvCoreCountTests
{
    [Fact]
    public void TrainingACnnGivesTheSameBitsOnOneCoreAsOnTwo()
    {
        // Big enough that the GEMMs, the per-image kernels, BatchNormalization's row halves (partial sums per half)
        // and the ReLU passes split over the cores; the second run keeps everything on the test's thread.
        var x = Tensor.RandomNormal([80, 28, 28, 1], seed: 31);
        var y = (x.Slice(0, 14, axis: 1).Sum(1).Sum(1).Reshape(-1) > 0f) + (x.Mean(1).Mean(1).Reshape(-1) > 0.02f);
        float[] Run(bool serial)
        {
            CortexRandom.SetGlobalSeed(5);
            var model = new Sequential(new Conv2D(32, 3), new BatchNormalization(), new Activation("relu"), new MaxPooling2D(2),
                new Conv2D(48, 3, activation: "relu"), new BatchNormalization(momentum: 0.9f), new Flatten(), new Dense(3));
            model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true));
            GemmThreads.SerialOnThisThread = serial;
            try
            {
                var h = model.Fit(x, y, epochs: 2, batchSize: 40, verbose: 0);
                Assert.True(Trainer.LastFitFused);
                return [.. model.GetWeights().SelectMany(w => w.ToArray()), .. h["loss"]];
            }
            finally { GemmThreads.SerialOnThisThread = false; }
        }
        Assert.Equal(Run(serial: true), Run(serial: false));
    }
}
