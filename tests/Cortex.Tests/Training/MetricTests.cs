using Cortex.Losses;
using Cortex.Metrics;

namespace Cortex.Tests.Training;

/// <summary>Metrics: accuracy resolution as Keras's compile does it, running means over batches, names and errors.</summary>
public class MetricTests
{
    private static Tensor V(params float[] v) => Tensor.FromArray(v);
    private static Tensor M(float[,] v) => Tensor.FromArray(v);

    [Fact]
    public void AccuracyWithBinaryCrossentropyIsBinary()
    {
        var acc = Metric.Get("accuracy", new BinaryCrossentropy());
        Assert.Equal("accuracy", acc.Name);
        acc.UpdateState(V(1, 0, 1, 0), M(new float[,] { { 0.9f }, { 0.4f }, { 0.2f }, { 0.7f } }));
        Assert.Equal(0.5f, acc.Result());
        Assert.IsType<BinaryAccuracy>(((Accuracy)acc).Resolved);
    }

    [Fact]
    public void BinaryAccuracyFromLogitsThresholdsAtZero()
    {
        // Logit 0.3 is σ = 0.57 > 0.5: a 1. Keras would threshold the logit itself at 0.5 and call it 0.
        var acc = Metric.Get("accuracy", new BinaryCrossentropy(fromLogits: true));
        acc.UpdateState(V(1, 0, 1), M(new float[,] { { 0.3f }, { -0.2f }, { -3f } }));
        Assert.Equal(2f / 3f, acc.Result(), 1e-6f);
        var named = Metric.Get("binary_accuracy", new BinaryCrossentropy(fromLogits: true));
        named.UpdateState(V(1), M(new float[,] { { 0.3f } }));
        Assert.Equal(1f, named.Result());
    }

    [Fact]
    public void AccuracyWithSparseLossOrLowerRankLabelsIsSparse()
    {
        var probs = M(new float[,] { { 0.1f, 0.8f, 0.1f }, { 0.6f, 0.3f, 0.1f } });
        var withLoss = Metric.Get("acc", new SparseCategoricalCrossentropy());
        withLoss.UpdateState(M(new float[,] { { 1 }, { 2 } }), probs);
        Assert.Equal("acc", withLoss.Name);
        Assert.Equal(0.5f, withLoss.Result());

        var byShape = Metric.Get("accuracy");
        byShape.UpdateState(V(1, 0), probs);
        Assert.IsType<SparseCategoricalAccuracy>(((Accuracy)byShape).Resolved);
        Assert.Equal(1f, byShape.Result());
    }

    [Fact]
    public void AccuracyWithOneHotLabelsIsCategorical()
    {
        var acc = Metric.Get("accuracy", new CategoricalCrossentropy(fromLogits: true));
        acc.UpdateState(M(new float[,] { { 0, 1, 0 }, { 1, 0, 0 } }), M(new float[,] { { -1, 5, 2 }, { 0, 3, 1 } }));
        Assert.IsType<CategoricalAccuracy>(((Accuracy)acc).Resolved);
        Assert.Equal(0.5f, acc.Result());
        var byShape = Metric.Get("accuracy", new Cortex.Losses.MeanSquaredError());
        byShape.UpdateState(M(new float[,] { { 0, 1 } }), M(new float[,] { { 0.2f, 0.8f } }));
        Assert.IsType<CategoricalAccuracy>(((Accuracy)byShape).Resolved);
    }

    [Fact]
    public void ResultIsARunningMeanWeightedByBatchSize()
    {
        var acc = new SparseCategoricalAccuracy();
        acc.UpdateState(V(0, 1, 1, 0), M(new float[,] { { 1, 0 }, { 0, 1 }, { 0, 1 }, { 1, 0 } })); // 4/4
        acc.UpdateState(V(0, 1), M(new float[,] { { 0, 1 }, { 0, 1 } }));                              // 1/2
        Assert.Equal(5f / 6f, acc.Result(), 1e-6f);
        acc.ResetState();
        Assert.True(float.IsNaN(acc.Result()));
    }

    [Fact]
    public void RegressionMetricsAverageOverElementsAndBatches()
    {
        var mse = Metric.Get("mse");
        var mae = Metric.Get("mean_absolute_error");
        Assert.Equal("mse", mse.Name);
        Assert.Equal("mean_absolute_error", mae.Name);
        mse.UpdateState(V(1, 2), M(new float[,] { { 1 }, { 4 } }));  // (N,) labels meet (N, 1) predictions
        mse.UpdateState(V(0), M(new float[,] { { 1 } }));
        Assert.Equal(5f / 3f, mse.Result(), 1e-6f);
        mae.UpdateState(M(new float[,] { { 1, 2 } }), M(new float[,] { { 0, 4 } }));
        Assert.Equal(1.5f, mae.Result(), 1e-6f);
        Assert.Equal("mean_squared_error", new Cortex.Metrics.MeanSquaredError().Name);
    }

    [Fact]
    public void MeanTracksWeightedValues()
    {
        var loss = new Mean("loss");
        loss.UpdateState(0.5f, 32);
        loss.UpdateState(0.2f, 16);
        Assert.Equal((0.5f * 32 + 0.2f * 16) / 48, loss.Result(), 1e-6f);
        Assert.Throws<InvalidOperationException>(() => loss.UpdateState(V(1), V(1)));
    }

    [Fact]
    public void UnknownNameListsValidNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => Metric.Get("f1"));
        Assert.Contains("Unknown metric 'f1'", ex.Message);
        Assert.Contains("accuracy", ex.Message);
        Assert.Contains("sparse_categorical_accuracy", ex.Message);
    }

    [Fact]
    public void ShapeMismatchNamesBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new BinaryAccuracy().UpdateState(Tensor.Zeros(4), Tensor.Zeros(4, 3)));
        Assert.Contains("(4,)", ex.Message);
        Assert.Contains("(4, 3)", ex.Message);
        Assert.Throws<ArgumentException>(() => new SparseCategoricalAccuracy().UpdateState(Tensor.Zeros(3), Tensor.Zeros(4, 3)));
    }

    [Fact]
    public void ConfigRoundTrips()
    {
        Metric[] metrics = [new BinaryAccuracy(0.3f, name: "ba"), new CategoricalAccuracy(), new SparseCategoricalAccuracy("sca"),
            new Cortex.Metrics.MeanSquaredError("mse"), new Cortex.Metrics.MeanAbsoluteError(), new Mean("loss"), new Accuracy(name: "acc")];
        foreach (var m in metrics)
        {
            var config = TrainingReference.Json(m.GetConfig());
            var back = Metric.FromConfig(m.GetType().Name, config);
            Assert.IsType(m.GetType(), back);
            Assert.Equal(m.Name, back.Name);
            Assert.Equal(config.GetRawText(), TrainingReference.Json(back.GetConfig()).GetRawText());
        }
    }
}
