using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Sequence;

/// <summary>TimeDistributed: the wrapped layer at every step, its weights the wrapper's, both training paths.</summary>
public class TimeDistributedTests
{
    [Fact]
    public void AppliesTheSameLayerAtEveryStep()
    {
        var dense = new Dense(3, "tanh");
        var td = new TimeDistributed(dense);
        var x = Tensor.RandomNormal([2, 4, 5], seed: 1);
        Tensor y = td.Call(x);
        Assert.Equal([2, 4, 3], y.Shape);
        Assert.Equal([-1, 4, 3], td.ComputeOutputShape([-1, 4, 5]));
        for (int t = 0; t < 4; t++)
        {
            var step = dense.Call(x.Slice(t, 1, axis: 1).Reshape(2, 5));
            Assert.Equal(step.ToArray(), y.Slice(t, 1, axis: 1).Reshape(2, 3).ToArray());
        }
        Assert.Equal(dense.Weights, td.Weights);
        Assert.Equal(dense.CountParams(), td.CountParams());
    }

    [Fact]
    public void GradientsReachTheWrappedWeights()
    {
        var dense = new Dense(2);
        var td = new TimeDistributed(dense);
        var x = Tensor.RandomNormal([3, 2, 4], seed: 2);
        td.Call(x);
        using var tape = new GradientTape();
        var loss = td.Call(x).Square().Sum();
        var g = tape.Gradient(loss, dense.Kernel!, dense.Bias!);
        // d/dW Σ (xW + b)² = 2 Σ_steps xᵀ(xW + b): the steps act as extra rows.
        var rows = x.Reshape(6, 4);
        var z = dense.Call(rows);
        var expected = rows.Transpose().MatMul(z * 2f);
        Reference.ReferenceData.AssertClose(expected, g[0], "dW", 1e-5f, 1e-5f);
        Reference.ReferenceData.AssertClose((z * 2f).Sum(0), g[1], "db", 1e-5f, 1e-5f);
    }

    [Fact]
    public void RefusesInputsWithoutATimeAxis()
    {
        var e = Assert.Throws<ArgumentException>(() => new TimeDistributed(new Dense(2), name: "td").Call(Tensor.Zeros(3, 4)));
        Assert.Contains("TimeDistributed 'td' expects input of rank ≥ 3 (batch, time, …). Received: shape (", e.Message);
        Assert.EndsWith(", 4)", e.Message);
    }

    private static (Tensor X, Tensor Y) Steps(int rows, int seed)
    {
        var x = Tensor.RandomNormal([rows, 5, 3], seed: seed);
        var y = (x.Slice(0, 1, axis: 2).Sum(1).Reshape(-1) > 0f);
        return (x, y);
    }

    private static Sequential Model() =>
        new(new Input([5, 3]), new TimeDistributed(new Dense(4, "relu"), name: "td"), new Flatten(), new Dense(2));

    [Fact]
    public void TrainsOnTheFusedPathWithTheTapesBits()
    {
        var (x, y) = Steps(120, 3);
        BothPaths.AssertFusedEqualsTape(Model, x, y, epochs: 3, rate: 0.01f, seed: 8);
    }

    [Fact]
    public void AWrappedLayerWithoutAStageTrainsOnTheTapeAndSaysWhy()
    {
        var (x, y) = Steps(40, 4);
        var model = new Sequential(new Input([5, 3]), new TimeDistributed(new Dense(4, kernelRegularizer: new Regularizers.L2(0.1f)), name: "td"), new Flatten(), new Dense(2));
        Assert.Equal("tape: TimeDistributed 'td' has a regularizer", BothPaths.PathOf(model, x, y));
        Assert.Single(model.Layers[1].RegularizationLosses());
    }

    [Fact]
    public void SavesAndLoadsWithTheWrappedLayer()
    {
        var (x, y) = Steps(32, 5);
        var td = Assert.IsType<TimeDistributed>(BothPaths.FitSaveLoad(Model(), x, y).Layers[1]);
        Assert.IsType<Dense>(td.Layer);
    }

    [Fact]
    public void AFrozenWrapperFreezesTheWrappedWeights()
    {
        var td = new TimeDistributed(new Dense(2));
        td.Call(Tensor.Zeros(1, 2, 3));
        td.Trainable = false;
        Assert.Empty(td.TrainableWeights);
        Assert.Equal(2, td.NonTrainableWeights.Count);
    }
}
