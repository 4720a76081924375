using Cortex.Callbacks;
using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>The fused training step allocates nothing once its buffers exist.</summary>
[Collection(RunsAlone.Name)]
public class SteadyStateAllocationTests
{
    /// <summary>This thread's allocated bytes between the starts of two batches.</summary>
    internal sealed class Probe(int startBatch, int endBatch) : Callback
    {
        public long Start, End;
        public override void OnTrainBatchBegin(int batch)
        {
            if (batch == startBatch) Start = GC.GetAllocatedBytesForCurrentThread();
            if (batch == endBatch) End = GC.GetAllocatedBytesForCurrentThread();
        }
    }

    [Fact]
    public void MlpStepsAllocateNothing()
    {
        CortexRandom.SetGlobalSeed(1);
        var x = Tensor.RandomNormal([4000, 20], seed: 1);
        var y = (x.Sum(1) > 0f);
        var model = new Sequential(new Dense(16, "relu"), new Dropout(0.1f), new Dense(2));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var probe = new Probe(20, 120);
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Fact]
    public void ConstrainedWeightsAndExcludedDecayAllocateNothing()
    {
        CortexRandom.SetGlobalSeed(1);
        var x = Tensor.RandomNormal([4000, 20], seed: 1);
        var y = (x.Sum(1) > 0f);
        var model = new Sequential(new Dense(16, "relu", kernelConstraint: new Cortex.Constraints.MaxNorm(1f), biasConstraint: new Cortex.Constraints.NonNeg()), new Dense(2));
        var opt = new AdamW(weightDecay: 0.01f);
        opt.ExcludeFromWeightDecay(names: ["bias"]);
        model.Compile(opt, new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var probe = new Probe(20, 120);
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Theory]
    [InlineData("adagrad")]
    [InlineData("adadelta")]
    [InlineData("adamax")]
    [InlineData("nadam")]
    [InlineData("lion-weight-decay-clipvalue")]
    [InlineData("adam-ema")]
    public void MlpStepsAllocateNothingWithEachOptimizer(string optimizer)
    {
        // Weight decay, the EMA and Nadam's momentum schedule are computed per step without allocating.
        CortexRandom.SetGlobalSeed(1);
        var x = Tensor.RandomNormal([4000, 20], seed: 1);
        var y = (x.Sum(1) > 0f);
        var model = new Sequential(new Dense(16, "relu"), new Dense(2));
        model.Compile(Training.UpdateRuleTests.Make(optimizer), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var probe = new Probe(20, 120);
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CnnStepsAllocateNothing(bool batchNormalization)
    {
        var (xTrain, yTrain, _, _) = Datasets.Digits.Load(flatten: false);
        var model = Zoo.FashionCnn(dropout: batchNormalization ? 0 : 0.5f, batchNormalization: batchNormalization);
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var probe = new Probe(5, 25);
        model.Fit(xTrain.Slice(0, 30 * 32), yTrain.Slice(0, 30 * 32), epochs: 1, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Fact]
    public void RecurrentStepsAllocateNothing()
    {
        CortexRandom.SetGlobalSeed(1);
        var x = Tensor.RandomNormal([1600, 10, 3], seed: 1);
        var y = x.Sum(1).Sum(1) > 0f;
        for (int n = 0; n < 1600; n++) x.Span.Slice((n * 10 + n % 7) * 3, 3).Clear(); // a masked step per row: the masked recurrences run too
        var model = new Sequential(new Input([10, 3]), new Masking(), new LSTM(8, dropout: 0.2f, recurrentDropout: 0.2f, seed: 1, returnSequences: true),
            new Bidirectional(new SimpleRNN(3, returnSequences: true), "mul"), new GRU(6, goBackwards: true, returnSequences: true),
            new GRU(5, resetAfter: false, returnSequences: true), new SimpleRNN(4), new Dense(2));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var probe = new Probe(10, 40);
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Fact]
    public void PermuteEmbeddingAndTimeDistributedStepsAllocateNothing()
    {
        var x = Tensor.FromArray([.. Enumerable.Range(0, 1600 * 6).Select(i => (float)(i * 7 % 11))], [1600, 6]);
        var y = x.Slice(0, 1, axis: 1).Reshape(-1) > 5f;
        var model = new Sequential(new Input([6]), new Embedding(11, 4), new Permute([2, 1]), new TimeDistributed(new Dense(3, "tanh")),
            new Flatten(), new Dense(2));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        var probe = new Probe(10, 40);
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Fact]
    public void PaddingCroppingUpSamplingNormalizationAndNoiseStepsAllocateNothing()
    {
        var x = Tensor.RandomNormal([1600, 6, 6, 2], seed: 2);
        var y = x.Slice(0, 1, axis: 3).Sum(2).Sum(1).Reshape(-1) > 0f;
        var model = new Sequential(new Input([6, 6, 2]), new GaussianNoise(0.1f), new ZeroPadding2D(1), new Conv2D(4, 3), new GroupNormalization(2),
            new SpatialDropout2D(0.2f), new Cropping2D(((1, 0), (0, 1))), new UpSampling2D(2, "bilinear"), new Dropout(0.2f, [-1, 1, 1, -1]),
            new LayerNormalization(), new Flatten(), new Dense(2));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        var probe = new Probe(10, 40);
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }

    [Fact]
    public void ConvolutionVariantStepsAllocateNothing()
    {
        var x = Tensor.RandomNormal([1600, 6, 6, 2], seed: 3);
        var y = x.Slice(0, 1, axis: 3).Sum(2).Sum(1).Reshape(-1) > 0f;
        var model = new Sequential(new Input([6, 6, 2]), new DepthwiseConv2D(3, padding: "same", depthMultiplier: 2, activation: "relu"),
            new Conv2D(4, 3, strides: 2, groups: 2), new Conv2DTranspose(3, 3, strides: 2, padding: "same", activation: "relu"),
            new SeparableConv2D(2, 3, depthMultiplier: 3), new DepthwiseConv2D(2), new Flatten(), new Dense(2));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        var probe = new Probe(10, 40);
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0, callbacks: [probe]);
        Assert.True(Trainer.LastFitFused);
        Assert.Equal(0, probe.End - probe.Start);
    }
}
