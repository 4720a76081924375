using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Models;

namespace Cortex.Tests.Sequence;

/// <summary>Conv1D and the 1-D poolings beyond the PyTorch values: errors, shapes, Keras's defaults, both training
/// paths, saving, and a small text model that learns.</summary>
public class Conv1DTests
{
    [Fact]
    public void ArgumentsAreCheckedKerasStyle()
    {
        Assert.Contains("Conv1D: filters must be a positive integer. Received: filters=0", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1D(0, 3)).Message);
        Assert.Contains("kernelSize=-1", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1D(2, -1)).Message);
        Assert.Contains("strides=0", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1D(2, 3, strides: 0)).Message);
        Assert.Contains("dilationRate=0", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1D(2, 3, dilationRate: 0)).Message);
        Assert.Contains("Conv1D: padding must be \"valid\", \"same\" or \"causal\". Received: padding=\"full\"",
            Assert.Throws<ArgumentException>(() => new Conv1D(2, 3, padding: "full")).Message);
        Assert.Contains("MaxPooling1D: padding must be \"valid\" or \"same\". Received: padding=\"causal\"",
            Assert.Throws<ArgumentException>(() => new MaxPooling1D(padding: "causal")).Message);
        Assert.Contains("AveragePooling1D: poolSize must be a positive integer. Received: poolSize=0",
            Assert.Throws<ArgumentOutOfRangeException>(() => new AveragePooling1D(0)).Message);
        Assert.Contains("strides=-2", Assert.Throws<ArgumentOutOfRangeException>(() => new MaxPooling1D(2, -2)).Message);
    }

    [Fact]
    public void BadInputsAreNamedWithTheShapeAndAHint()
    {
        var flat = Assert.Throws<ArgumentException>(() => new Conv1D(2, 3, name: "c").Call(Tensor.Zeros([4, 10])));
        Assert.Contains("Conv1D 'c' expects input of rank 3 (batch, steps, channels). Received: shape (None, 10).", flat.Message);   // checked when the layer is built
        Assert.Contains("reshape to (N, 10, 1) or add new Reshape([10, 1]) first", flat.Message);
        var images = Assert.Throws<ArgumentException>(() => new GlobalMaxPooling1D(name: "g").Call(Tensor.Zeros([2, 28, 28, 1])));
        Assert.Contains("GlobalMaxPooling1D 'g' expects input of rank 3", images.Message);
        Assert.Contains("reshape to (N, 28, 28) or add new Reshape([28, 28]) first", images.Message);
        var longKernel = Assert.Throws<ArgumentException>(() => new Conv1D(2, 3, dilationRate: 2, name: "d").Call(Tensor.Zeros([1, 4, 2])));
        Assert.Contains("Conv1D 'd': the kernel size 3 dilated by 2 (extent 5) is longer than the input's 4 steps with padding \"valid\". Received: shape (None, 4, 2)", longKernel.Message);
        Assert.Contains("the pool size 5 is longer than the input's 3 steps", Assert.Throws<ArgumentException>(() => new MaxPooling1D(5).Call(Tensor.Zeros([1, 3, 2]))).Message);
        var conv = new Conv1D(2, 3, name: "e");
        conv.Call(Tensor.Zeros([1, 5, 3]));
        Assert.Contains("Conv1D 'e' expects input with 3 channels (the last axis). Received: shape (1, 5, 4)",
            Assert.Throws<ArgumentException>(() => conv.Call(Tensor.Zeros([1, 5, 4]))).Message);
        Assert.Contains("expects at least one step to pool. Received: shape (None, 0, 3)",
            Assert.Throws<ArgumentException>(() => new GlobalAveragePooling1D().Call(Tensor.Zeros([2, 0, 3]))).Message);
    }

    [Fact]
    public void OutputShapesFollowKerasPaddingStridesAndDilation()
    {
        int[] Out(Layer l, params int[] shape) => l.ComputeOutputShape([-1, .. shape]);
        Assert.Equal([-1, 8, 4], Out(new Conv1D(4, 3), 10, 3));
        Assert.Equal([-1, 10, 4], Out(new Conv1D(4, 3, padding: "same"), 10, 3));
        Assert.Equal([-1, 10, 4], Out(new Conv1D(4, 3, padding: "causal", dilationRate: 4), 10, 3));
        Assert.Equal([-1, 5, 4], Out(new Conv1D(4, 3, strides: 2, padding: "causal"), 10, 3));
        Assert.Equal([-1, 4, 4], Out(new Conv1D(4, 3, strides: 2), 10, 3));
        Assert.Equal([-1, 6, 4], Out(new Conv1D(4, 3, dilationRate: 2), 10, 3));
        Assert.Equal([-1, 5, 3], Out(new MaxPooling1D(), 11, 3));
        Assert.Equal([-1, 6, 3], Out(new AveragePooling1D(padding: "same"), 11, 3));
        Assert.Equal([-1, 9, 3], Out(new MaxPooling1D(3, strides: 1), 11, 3));
        Assert.Equal([-1, 3], Out(new GlobalMaxPooling1D(), 11, 3));
        Assert.Equal([-1, 1, 3], Out(new GlobalAveragePooling1D(keepDims: true), 11, 3));
    }

    [Fact]
    public void DefaultsWeightsAndConfigFollowKeras()
    {
        var conv = new Conv1D(4, 3);
        Assert.Equal((1, "valid", 1, true), (conv.Strides, conv.Padding, conv.DilationRate, conv.UseBias));
        Assert.StartsWith("conv1d", conv.Name);
        conv.Call(Tensor.RandomNormal([2, 10, 3], seed: 1));
        Assert.Equal([3, 3, 4], conv.Kernel!.Shape);   // (kernel size, in channels, filters), Keras's layout
        Assert.Equal([4], conv.Bias!.Shape);
        Assert.Equal($"{conv.Name}/kernel", conv.Kernel.Name);
        float limit = MathF.Sqrt(6f / (3 * 3 + 3 * 4));   // glorot_uniform, fans k·C and k·F
        Assert.All(conv.Kernel.ToArray(), v => Assert.InRange(v, -limit, limit));
        Assert.All(conv.Bias.ToArray(), v => Assert.Equal(0f, v));
        var config = conv.GetConfig();
        Assert.Equal(4, config["filters"]);
        Assert.Equal(3, config["kernel_size"]);
        Assert.Equal("valid", config["padding"]);
        Assert.Equal(1, config["dilation_rate"]);

        var pool = new MaxPooling1D();
        Assert.Equal((2, 2, "valid"), (pool.PoolSize, pool.Strides, pool.Padding));   // strides default to the pool size
        Assert.Equal(3, new AveragePooling1D(3).Strides);
        Assert.StartsWith("max_pooling1d", pool.Name);
        Assert.StartsWith("global_max_pooling1d", new GlobalMaxPooling1D().Name);
        Assert.Equal(false, new GlobalAveragePooling1D().GetConfig()["keepdims"]);
    }

    [Fact]
    public void CausalOutputsNeverSeeLaterSteps()
    {
        var conv = new Conv1D(3, 3, padding: "causal", dilationRate: 2);
        var x = Tensor.RandomNormal([1, 12, 2], seed: 3);
        float[] before = conv.Call(x).ToArray();
        var changed = x.ToArray();
        changed[7 * 2] += 10f;   // step 7, channel 0
        float[] after = conv.Call(Tensor.FromArray(changed, [1, 12, 2])).ToArray();
        Assert.Equal(before[..(7 * 3)], after[..(7 * 3)]);   // steps 0–6 unchanged
        Assert.NotEqual(before[(7 * 3)..(8 * 3)], after[(7 * 3)..(8 * 3)]);
        Assert.NotEqual(before[(11 * 3)..], after[(11 * 3)..]);   // step 11 reads 7, 9 and 11
    }

    /// <summary>The label says whether channel 0 ever rises above 1.5 two steps after channel 1 did.</summary>
    private static (Tensor X, Tensor Y) Signals(int rows, int seed)
    {
        var x = Tensor.RandomNormal([rows, 12, 3], seed: seed);
        var d = x.ToArray();
        var y = new float[rows];
        for (int i = 0; i < rows; i++)
            for (int t = 2; t < 12; t++)
                if (d[(i * 12 + t) * 3] > 0.8f && d[(i * 12 + t - 2) * 3 + 1] > 0.8f) y[i] = 1;
        return (x, Tensor.FromArray(y));
    }

    private static Sequential SmallModel() =>
        new(new Input([12, 3]), new Conv1D(8, 3, activation: "relu"), new GlobalMaxPooling1D(), new Dense(2));

    private static Sequential EveryLayerModel() =>
        new(new Input([12, 3]), new Conv1D(8, 3, padding: "causal", dilationRate: 2, activation: "relu"), new MaxPooling1D(2, padding: "same"),
            new Conv1D(6, 2, strides: 2, padding: "same", useBias: false), new AveragePooling1D(2, strides: 1),
            new Conv1D(4, 1, activation: "tanh"), new GlobalAveragePooling1D(keepDims: true), new Flatten(), new Dense(2));

    private static (float[] Weights, string Path) Train(Func<Sequential> make, bool tape, Tensor x, Tensor y)
    {
        CortexRandom.SetGlobalSeed(11);
        var model = make();
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        Trainer.ForceTapePath = tape;
        try
        {
            var h = model.Fit(x, y, epochs: 3, batchSize: 32, verbose: 0);
            return ([.. model.GetWeights().SelectMany(w => w.ToArray()), .. h["loss"]], model.TrainingPath!);
        }
        finally { Trainer.ForceTapePath = false; }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TrainsOnTheFusedPathWithTheTapesBits(int which)
    {
        Func<Sequential> make = which == 0 ? SmallModel : EveryLayerModel;
        var (x, y) = Signals(200, 1);
        var fused = Train(make, tape: false, x, y);
        var tape = Train(make, tape: true, x, y);
        Assert.Equal("fused", fused.Path);
        Assert.Equal(tape.Weights, fused.Weights);
    }

    [Fact]
    public void ARegularizedConv1DTrainsOnTheTapeAndSaysWhy()
    {
        var (x, y) = Signals(64, 2);
        var model = new Sequential(new Input([12, 3]), new Conv1D(4, 3, kernelRegularizer: new Cortex.Regularizers.L2(0.01f), name: "reg_conv"),
            new GlobalMaxPooling1D(), new Dense(2));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, verbose: 0);
        Assert.Equal("tape: Conv1D 'reg_conv' has a regularizer", model.TrainingPath);
    }

    [Fact]
    public void SavesAndLoadsEveryLayerAndTrainsOnFromTheSameState()
    {
        var (x, y) = Signals(64, 3);
        var model = EveryLayerModel();
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, verbose: 0);
        var loaded = SaveLoadCheck.AssertRoundTripContinues(model, x, y);
        Assert.Equal(model.Layers.Select(l => l.GetType()), loaded.Layers.Select(l => l.GetType()));
    }

    /// <summary>Sentences of filler words with one or two words of their class: the model must find them anywhere.</summary>
    private static (string[] Texts, Tensor Y) Reviews(int count, int seed)
    {
        string[] good = ["good", "great", "love", "excellent", "happy", "fine"], bad = ["bad", "awful", "hate", "terrible", "sad", "boring"];
        string[] filler = ["the", "movie", "was", "a", "plot", "it", "and", "really", "actors", "film", "story", "so"];
        var rng = new Random(seed);
        var texts = new string[count];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            int label = rng.Next(2);
            var words = Enumerable.Range(0, rng.Next(5, 10)).Select(_ => filler[rng.Next(filler.Length)]).ToList();
            for (int k = rng.Next(1, 3); k > 0; k--)
                words.Insert(rng.Next(words.Count + 1), (label == 1 ? good : bad)[rng.Next(6)]);
            texts[i] = string.Join(' ', words) + (rng.Next(2) == 0 ? "!" : ".");
            y[i] = label;
        }
        return (texts, Tensor.FromArray(y));
    }

    [Fact]
    public void LearnsAToyTextTaskFromTextVectorizerIndices()
    {
        var (trainTexts, yTrain) = Reviews(400, 1);
        var (testTexts, yTest) = Reviews(200, 2);
        var vectorizer = new TextVectorizer(maxTokens: 100);
        vectorizer.Adapt(trainTexts);
        Tensor xTrain = vectorizer.Transform(trainTexts, outputSequenceLength: 12), xTest = vectorizer.Transform(testTexts, outputSequenceLength: 12);
        CortexRandom.SetGlobalSeed(3);
        var model = new Sequential(new Input([12]), new Embedding(vectorizer.Vocabulary.Count, 8), new Conv1D(16, 3, padding: "same", activation: "relu"),
            new GlobalMaxPooling1D(), new Dense(2));
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        model.Fit(xTrain, yTrain, epochs: 10, batchSize: 32, verbose: 0);
        Assert.Equal("fused", model.TrainingPath);
        var predicted = model.Predict(xTest).ToArray();
        float[] labels = yTest.ToArray();
        int right = Enumerable.Range(0, labels.Length).Count(i => (predicted[2 * i + 1] > predicted[2 * i] ? 1 : 0) == labels[i]);
        Assert.True(right >= 0.95 * labels.Length, $"test accuracy {right}/{labels.Length}");
    }
}
