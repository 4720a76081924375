using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Training;

/// <summary>
/// The losses' arguments beyond the reference cases (those are in <see cref="LossTests"/>, from losses.json): the
/// kernels against the per-sample path, the fused step against the tape with label smoothing, which reductions train
/// on the tape, Keras's reduction arithmetic, the per-sample functions, argument errors.
/// </summary>
public class LossOptionTests
{
    [Theory]
    [InlineData("bce", 0f)]
    [InlineData("bce", 0.2f)]
    [InlineData("cce", 0f)]
    [InlineData("cce", 0.15f)]
    [InlineData("scce", 0f)]
    [InlineData("scce-ignore", 0f)]
    [InlineData("scce-ignore-all", 0f)]
    public void KernelGivesThePerSampleMean(string kind, float smoothing)
    {
        var z = Tensor.RandomNormal([6, 4], seed: 3) * 3f;
        (Loss loss, Tensor y) = kind switch
        {
            "bce" => ((Loss)new BinaryCrossentropy(true, smoothing), (Tensor.RandomUniform([6, 4], seed: 4) > 0.5f)),
            "cce" => (new CategoricalCrossentropy(true, smoothing), Tensor.OneHot(Tensor.FromArray(new float[] { 0, 3, 2, 1, 1, 0 }), 4)),
            "scce" => (new SparseCategoricalCrossentropy(true), Tensor.FromArray(new float[] { 0, 3, 2, 1, 1, 0 })),
            "scce-ignore" => (new SparseCategoricalCrossentropy(true, ignoreClass: 1), Tensor.FromArray(new float[] { 0, 3, 2, 1, 1, 0 })),
            _ => (new SparseCategoricalCrossentropy(true, ignoreClass: 2), Tensor.FromArray(new float[] { 2, 2, 2, 2, 2, 2 })),
        };
        Tensor kernelGrad, tapeGrad, kernel, perSample;
        using (var tape = new GradientTape())
        {
            tape.Watch(z);
            kernel = loss.Call(y, z);
            kernelGrad = tape.Gradient(kernel, z)[0];
        }
        using (var tape = new GradientTape())
        {
            tape.Watch(z);
            // The per-sample losses reduced by tensor ops (reduction "sum_over_batch_size" with a weight of 1 per sample).
            perSample = loss.Call(y, z, Tensor.Ones(6));
            tapeGrad = tape.Gradient(perSample, z)[0];
        }
        ReferenceData.AssertClose(perSample, kernel, $"{kind} value");
        ReferenceData.AssertClose(tapeGrad, kernelGrad, $"{kind} gradient");
    }

    [Theory]
    [InlineData("cce-smoothing")]
    [InlineData("bce-smoothing")]
    [InlineData("scce-ignore")]
    public void LabelSmoothingAndIgnoreClassTrainFusedWithTheTapesBits(string kind)
    {
        var x = Tensor.RandomNormal([40, 5], seed: 7);
        var labels = Tensor.FromArray([.. Enumerable.Range(0, 40).Select(i => (float)(i % 3))]);
        Tensor y = kind switch { "cce-smoothing" => Tensor.OneHot(labels, 3), "bce-smoothing" => labels > 0.5f, _ => labels };
        int units = kind == "bce-smoothing" ? 1 : 3;
        Loss Loss() => kind switch
        {
            "cce-smoothing" => new CategoricalCrossentropy(fromLogits: true, labelSmoothing: 0.1f),
            "bce-smoothing" => new BinaryCrossentropy(fromLogits: true, labelSmoothing: 0.2f),
            _ => new SparseCategoricalCrossentropy(fromLogits: true, ignoreClass: 0),
        };
        (float[] Weights, string Path) Train(bool tape)
        {
            CortexRandom.SetGlobalSeed(11);
            var model = new Sequential(new Cortex.Layers.Dense(6, "tanh"), new Cortex.Layers.Dense(units));
            model.Compile(new Adam(0.01f), Loss());
            Trainer.ForceTapePath = tape;
            try
            {
                model.Fit(x, y, epochs: 2, batchSize: 16, verbose: 0);
                return ([.. model.GetWeights().SelectMany(w => w.ToArray())], model.TrainingPath!);
            }
            finally { Trainer.ForceTapePath = false; }
        }
        var fused = Train(tape: false);
        var taped = Train(tape: true);
        Assert.Equal("fused", fused.Path);
        Assert.Equal(taped.Weights, fused.Weights);
    }

    [Fact]
    public void ReductionsOtherThanTheMeanTrainOnTheTape()
    {
        var x = Tensor.RandomNormal([8, 3], seed: 1);
        var labels = Tensor.FromArray(new float[] { 0, 1, 2, 1, 0, 2, 1, 0 });
        foreach (var loss in new Loss[] { new SparseCategoricalCrossentropy(true, reduction: "sum"), new CategoricalCrossentropy(true, reduction: "sum") })
        {
            var model = new Sequential(new Cortex.Layers.Dense(3));
            model.Compile(new SGD(0.1f), loss);
            model.Fit(x, loss is CategoricalCrossentropy ? Tensor.OneHot(labels, 3) : labels, epochs: 1, verbose: 0);
            Assert.Equal($"tape: the loss {loss.GetType().Name} has no fused kernel (for labels of this shape)", model.TrainingPath);
        }
    }

    [Fact]
    public void SumOverBatchSizeDividesByTheNumberOfSamplesNotTheWeights()
    {
        var y = Tensor.FromArray(new float[] { 0, 0, 0, 0 });
        var p = Tensor.FromArray(new float[,] { { 1 }, { 2 }, { 3 }, { 4 } });
        var w = Tensor.FromArray(new float[] { 1, 0, 0, 1 });
        Assert.Equal((1f + 16f) / 4f, new MeanSquaredError().Call(y, p, w).Item(), 1e-6f);
        Assert.Equal(17f, new MeanSquaredError(reduction: "sum").Call(y, p, w).Item(), 1e-6f);
        Assert.Equal(17f / 2f, new MeanSquaredError(reduction: "mean_with_sample_weight").Call(y, p, w).Item(), 1e-6f);
        Assert.Equal([1f, 0f, 0f, 16f], new MeanSquaredError(reduction: "none").Call(y, p, w).ToArray());
    }

    [Fact]
    public void LossFunctionsReturnPerSampleLosses()
    {
        var y = Tensor.FromArray(new float[,] { { 0, 1 }, { 1, 1 }, { 1, 1 } });
        var p = Tensor.FromArray(new float[,] { { 1, 0 }, { 1, 1 }, { -1, -1 } });
        var cos = LossFunctions.CosineSimilarity(y, p);
        Assert.Equal([3], cos.Shape);
        ReferenceData.AssertClose(Tensor.FromArray(new float[] { 0, -1, 1 }), cos, "cosine_similarity");
        Assert.Equal([3], LossFunctions.BinaryCrossentropy(y, p, fromLogits: true).Shape);
        Assert.Equal(0.155f, LossFunctions.Huber(Tensor.FromArray(new float[,] { { 0, 1 }, { 0, 0 } }), Tensor.FromArray(new float[,] { { 0.6f, 0.4f }, { 0.4f, 0.6f } })).Mean().Item(), 1e-6f);
        Assert.Equal(0.108f, LossFunctions.LogCosh(Tensor.FromArray(new float[,] { { 0, 1 }, { 0, 0 } }), Tensor.FromArray(new float[,] { { 1, 1 }, { 0, 0 } })).Mean().Item(), 1e-3f);
        Assert.Equal([0f, 0f], LossFunctions.SparseCategoricalCrossentropy(Tensor.FromArray(new float[] { 5, 5 }), Tensor.Ones(2, 3), ignoreClass: 5).ToArray());
    }

    [Fact]
    public void ArgumentsAreValidatedNamingTheArgumentAndTheValue()
    {
        var e = Assert.Throws<ArgumentException>(() => new MeanSquaredError(reduction: "avg"));
        Assert.Contains("reduction", e.Message);
        Assert.Contains("\"sum_over_batch_size\", \"sum\"", e.Message);
        Assert.Contains("Received: reduction=\"avg\"", e.Message);
        e = Assert.Throws<ArgumentException>(() => new CategoricalCrossentropy(labelSmoothing: 1.5f));
        Assert.Contains("labelSmoothing", e.Message);
        Assert.Contains("[0, 1]", e.Message);
        Assert.Contains("1.5", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Huber(delta: 0f));
        Assert.Contains("delta=0", e.Message);
        e = Assert.Throws<ArgumentException>(() => new CosineSimilarity(axis: 2).Call(Tensor.Zeros(2, 3), Tensor.Zeros(2, 3)));
        Assert.Contains("axis 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => new MeanSquaredError().Call(Tensor.Zeros(4, 3), Tensor.Zeros(4, 3), Tensor.Ones(3)));
        Assert.Contains("sampleWeight", e.Message);
        Assert.Contains("(4,)", e.Message);
        Assert.Contains("(3,)", e.Message);
    }

    [Fact]
    public void IgnoredLabelsMayLieOutsideTheClassesButOthersMayNot()
    {
        var loss = new SparseCategoricalCrossentropy(fromLogits: true, ignoreClass: 255);
        Assert.Equal(0f, loss.Call(Tensor.FromArray(new float[] { 255, 255 }), Tensor.Ones(2, 3)).Item());
        var e = Assert.Throws<ArgumentException>(() => loss.Call(Tensor.FromArray(new float[] { 3, 255 }), Tensor.Ones(2, 3)));
        Assert.Contains("label 3 in row 0", e.Message);
        Assert.Contains("ignored class 255", e.Message);
    }
}
