using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Sequence;

/// <summary>A sequence output's mask weighs the loss and the metrics in Fit and Evaluate, as Keras's <c>_keras_mask</c>.</summary>
public class MaskedLossTests
{
    /// <summary>Tagging: Embedding(maskZero) → LSTM(returnSequences) → TimeDistributed(Dense), 3 tags per step.</summary>
    private static Sequential Tagger(int steps)
    {
        CortexRandom.SetGlobalSeed(21);
        var model = new Sequential(new Input([steps]), new Embedding(10, 4, maskZero: true), new LSTM(6, returnSequences: true),
            new TimeDistributed(new Dense(3)));
        model.Compile(new Adam(0.05f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        return model;
    }

    /// <summary>Four sequences of 2 to 5 real tokens, padded with 0 to <paramref name="steps"/>; the tags of padded
    /// steps are <paramref name="padTag"/> (anything: they must not count).</summary>
    private static (Tensor X, Tensor Y) Data(int steps, float padTag)
    {
        int[] lengths = [5, 3, 2, 4];
        var x = new float[4 * steps];
        var y = new float[4 * steps];
        for (int i = 0; i < 4; i++)
            for (int t = 0; t < steps; t++)
            {
                bool real = t < lengths[i];
                x[i * steps + t] = real ? 1 + (i * 3 + t * 5) % 9 : 0;
                y[i * steps + t] = real ? (i + t) % 3 : padTag;
            }
        return (Tensor.FromArray(x, 4, steps), Tensor.FromArray(y, 4, steps));
    }

    [Fact]
    public void TheLossIsTheMeanOverTheRealStepsOnly()
    {
        var (x, y) = Data(5, 0);
        var model = Tagger(5);
        float[] logits = model.Predict(x).ToArray(), tokens = x.ToArray(), tags = y.ToArray();
        double sum = 0;
        int real = 0, hits = 0;
        for (int s = 0; s < 20; s++)
        {
            if (tokens[s] == 0) continue;
            var z = logits.AsSpan(s * 3, 3);
            double max = Math.Max(z[0], Math.Max(z[1], z[2]));
            double logSum = max + Math.Log(Math.Exp(z[0] - max) + Math.Exp(z[1] - max) + Math.Exp(z[2] - max));
            sum += logSum - z[(int)tags[s]];
            real++;
            int best = z[0] >= z[1] && z[0] >= z[2] ? 0 : z[1] >= z[2] ? 1 : 2;
            if (best == tags[s]) hits++;
        }
        var logs = model.Evaluate(x, y, batchSize: 4);
        Assert.Equal(sum / real, logs["loss"], 5);
        Assert.Equal(hits / (double)real, logs["accuracy"], 5);
    }

    [Fact]
    public void PaddingLengthAndPaddedTagsDoNotChangeTheLoss()
    {
        var (x5, y5) = Data(5, 0);
        var (x8, y8) = Data(8, 2);
        Assert.Equal(Tagger(5).Evaluate(x5, y5)["loss"], Tagger(8).Evaluate(x8, y8)["loss"], 5);
    }

    [Fact]
    public void FitTrainsOnTheTapeAndIgnoresThePaddedTags()
    {
        var (x, y) = Data(6, 0);
        var (_, other) = Data(6, 1);
        var a = Tagger(6);
        var ha = a.Fit(x, y, epochs: 5, batchSize: 2, verbose: 0);
        Assert.Contains("mask", a.TrainingPath);
        var b = Tagger(6);
        var hb = b.Fit(x, other, epochs: 5, batchSize: 2, verbose: 0);
        Assert.Equal(ha["loss"], hb["loss"]);
        Assert.Equal(ha["accuracy"], hb["accuracy"]);
        Assert.True(ha["loss"][^1] < ha["loss"][0], $"loss {ha["loss"][0]} -> {ha["loss"][^1]}");
    }

    [Fact]
    public void SequenceLabelsTakePerStepSampleWeightsNotClassWeight()
    {
        var (x, y) = Data(5, 0);
        var model = Tagger(5);
        var e = Assert.Throws<ArgumentException>(() => model.Fit(x, y, verbose: 0, classWeight: new Dictionary<int, float> { [1] = 2f }));
        Assert.Contains("sampleWeight of shape (N, steps)", e.Message);
        // A weight per step: 2 on every step weighs the (masked) mean twice.
        float plain = model.Evaluate(x, y)["loss"];
        Assert.Equal(2 * plain, model.Evaluate(x, y, sampleWeight: Tensor.Full([4, 5], 2f))["loss"], 5);
        model.Fit(x, y, verbose: 0, sampleWeight: Tensor.Full([4, 5], 2f));
    }

    [Fact]
    public void LossCallWithAMaskChecksItsShape()
    {
        var loss = new SparseCategoricalCrossentropy(fromLogits: true);
        var logits = Tensor.RandomNormal([2, 3, 5], seed: 1);
        var labels = Tensor.FromArray([1f, 2, 3, 4, 0, 1], 2, 3);
        var mask = Tensor.FromArray([1f, 1, 1, 1, 1, 0], 2, 3);
        float full = loss.Call(labels.Slice(0, 1), logits.Slice(0, 1)).Item() * 3;   // the first sequence's 3 steps
        float second = loss.Call(labels.Slice(1, 1).Reshape(3).Slice(0, 2).Reshape(1, 2), logits.Slice(1, 1).Reshape(3, 5).Slice(0, 2).Reshape(1, 2, 5)).Item() * 2;
        Assert.Equal((full + second) / 5, loss.Call(labels, logits, null, mask).Item(), 5);
        var e = Assert.Throws<ArgumentException>(() => loss.Call(labels, logits, null, Tensor.Ones([2, 4])));
        Assert.Equal("mask", e.ParamName);
        Assert.Contains("Received: mask shape (2, 4)", e.Message);
    }
}
