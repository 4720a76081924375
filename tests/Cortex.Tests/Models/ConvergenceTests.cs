using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>The course notes' small problems train to the answer.</summary>
public class ConvergenceTests
{
    [Fact]
    public void Xor()
    {
        CortexRandom.SetGlobalSeed(1);
        var x = Tensor.FromArray(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } });
        var y = Tensor.FromArray(new float[] { 0, 1, 1, 0 });
        var model = new Sequential(new Dense(8, "tanh"), new Dense(1, "sigmoid"));
        model.Compile(new Adam(0.05f), new BinaryCrossentropy(), ["accuracy"]);
        var h = model.Fit(x, y, epochs: 300, batchSize: 4, verbose: 0);
        Assert.Equal(1f, h["accuracy"][^1]);
        var p = model.Predict(x).ToArray();
        Assert.True(p[0] < 0.2f && p[1] > 0.8f && p[2] > 0.8f && p[3] < 0.2f, string.Join(", ", p));
    }

    [Fact]
    public void LogisticRegressionIsOneSigmoidNeuron()
    {
        CortexRandom.SetGlobalSeed(2);
        var x = Tensor.FromArray(new float[,] { { 0.5f, 1.5f }, { 1, 1 }, { 1.5f, 0.5f }, { 3, 0.5f }, { 2, 2 }, { 1, 2.5f } });
        var y = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 1 });
        var model = new Sequential(new Dense(1, "sigmoid"));
        model.Compile(new SGD(learningRate: 0.5f), new BinaryCrossentropy(), ["accuracy"]);
        var h = model.Fit(x, y, epochs: 500, batchSize: 6, verbose: 0);
        Assert.Equal(1f, h["accuracy"][^1]);
        Assert.True(h["loss"][^1] < 0.1f);
    }

    [Fact]
    public void LinearRegressionFindsTheLine()
    {
        CortexRandom.SetGlobalSeed(3);
        var xs = Tensor.Arange(-2, 2, 0.1f).Reshape(-1, 1);
        var ys = xs * 3f + 1f;
        var model = new Sequential(new Dense(1));
        model.Compile(new SGD(0.1f), new MeanSquaredError(), ["mae"]);
        model.Fit(xs, ys, epochs: 200, batchSize: 40, verbose: 0);
        var w = model.Layers[0].GetWeights();
        Assert.Equal(3f, w[0].Item(), 2);
        Assert.Equal(1f, w[1].Item(), 2);
    }

    [Fact]
    public void MultiClassSoftmax()
    {
        CortexRandom.SetGlobalSeed(4);
        // Three Gaussian blobs.
        var rng = new CortexRandom(4);
        int n = 300;
        var x = new float[n * 2];
        var y = new float[n];
        float[][] centers = [[0, 2], [-2, -1], [2, -1]];
        for (int i = 0; i < n; i++)
        {
            int c = i % 3;
            y[i] = c;
            x[2 * i] = centers[c][0] + 0.5f * (float)rng.NextNormal();
            x[2 * i + 1] = centers[c][1] + 0.5f * (float)rng.NextNormal();
        }
        var xt = Tensor.FromArray(x, n, 2);
        var yt = Tensor.FromArray(y);
        var model = new Sequential(new Dense(16, "relu"), new Dense(3, "softmax"));
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(), ["accuracy"]);
        var h = model.Fit(xt, yt, epochs: 40, verbose: 0);
        Assert.True(h["accuracy"][^1] > 0.95f);
        // The same with one-hot labels and logits.
        var model2 = new Sequential(new Dense(16, "relu"), new Dense(3));
        model2.Compile(new Adam(0.01f), new CategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var h2 = model2.Fit(xt, Tensor.OneHot(yt, 3), epochs: 40, verbose: 0);
        Assert.True(h2["accuracy"][^1] > 0.95f);
    }

    [Fact]
    public void MultiLabelIndependentSigmoids()
    {
        CortexRandom.SetGlobalSeed(5);
        // Label 0: x0 > 0; label 1: x1 > 0; label 2: x0 + x1 > 0 — independent yes/no answers per sample.
        var x = Tensor.RandomUniform([400, 2], -1, 1, seed: 5);
        var xs = x.ToArray();
        var y = new float[400 * 3];
        for (int i = 0; i < 400; i++)
        {
            y[3 * i] = xs[2 * i] > 0 ? 1 : 0;
            y[3 * i + 1] = xs[2 * i + 1] > 0 ? 1 : 0;
            y[3 * i + 2] = xs[2 * i] + xs[2 * i + 1] > 0 ? 1 : 0;
        }
        var model = new Sequential(new Dense(16, "relu"), new Dense(3, "sigmoid"));
        model.Compile(new Adam(0.02f), new BinaryCrossentropy(), ["binary_accuracy"]);
        var h = model.Fit(x, Tensor.FromArray(y, 400, 3), epochs: 60, verbose: 0);
        Assert.True(h["binary_accuracy"][^1] > 0.95f, $"binary accuracy {h["binary_accuracy"][^1]}");
    }

    [Fact]
    public void SameSeedsGiveBitIdenticalWeights()
    {
        float[] Train()
        {
            CortexRandom.SetGlobalSeed(42);
            var x = Tensor.RandomNormal([200, 5], seed: 1);
            var y = (x.Sum(1) > 0f);
            var model = new Sequential(new Dense(8, "relu"), new Dropout(0.2f), new Dense(1, "sigmoid"));
            model.Compile(new Adam(), new BinaryCrossentropy());
            model.Fit(x, y, epochs: 3, batchSize: 16, verbose: 0);
            return [.. model.GetWeights().SelectMany(w => w.ToArray())];
        }
        Assert.Equal(Train(), Train());
    }
}
