using Cortex.Activations;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>Bad input gets a clear exception and leaves the model untouched.</summary>
public class ModelErrorTests
{
    private static Sequential Compiled(ActivationFunction? last = null, int units = 1, Loss? loss = null)
    {
        var m = new Sequential(new Dense(4, "relu"), new Dense(units, last ?? "sigmoid"));
        m.Compile(new Adam(), loss ?? new BinaryCrossentropy());
        return m;
    }

    private static readonly Tensor X = Tensor.RandomNormal([8, 2], seed: 1);
    private static readonly Tensor Y = Tensor.FromArray(new float[] { 0, 1, 0, 1, 0, 1, 0, 1 });

    [Fact]
    public void FitBeforeCompile()
    {
        var m = new Sequential(new Dense(1));
        var e = Assert.Throws<InvalidOperationException>(() => m.Fit(X, Y, verbose: 0));
        Assert.Contains("Compile", e.Message);
    }

    [Fact]
    public void RowCountsDiffer()
    {
        var m = Compiled();
        var e = Assert.Throws<ArgumentException>(() => m.Fit(X, Y.Slice(0, 5), verbose: 0));
        Assert.Contains("8 rows", e.Message);
        Assert.Contains("5 rows", e.Message);
    }

    [Fact]
    public void FeatureCountDiffersFromTheBuiltModel()
    {
        var m = Compiled();
        m.Fit(X, Y, epochs: 1, verbose: 0);
        var before = m.GetWeights().Select(w => w.ToArray()).ToArray();
        var e = Assert.Throws<ArgumentException>(() => m.Fit(Tensor.Zeros(8, 3), Y, verbose: 0));
        Assert.Matches("Dense 'dense(_\\d+)?' expects input with 2 features. Received: shape \\(1, 3\\)", e.Message);
        Assert.Equal(before, m.GetWeights().Select(w => w.ToArray()).ToArray());
        Assert.Throws<ArgumentException>(() => m.Predict(Tensor.Zeros(5, 3)));
    }

    [Fact]
    public void SparseLabelOutOfRangeNamesLabelRowAndClassCount()
    {
        var m = Compiled("linear", 3, new SparseCategoricalCrossentropy(fromLogits: true));
        var y = Tensor.FromArray(new float[] { 0, 1, 2, 1, 7, 0, 1, 2 });
        var e = Assert.Throws<ArgumentException>(() => m.Fit(X, y, verbose: 0));
        Assert.Contains("label 7", e.Message);
        Assert.Contains("row 4", e.Message);
        Assert.Contains("3", e.Message);
        Assert.False(m.Optimizer!.Iterations > 0);
    }

    [Fact]
    public void NaNInInputsNamesTheFirstBadRow()
    {
        var m = Compiled();
        var x = X.ToArray();
        x[5] = float.NaN; // row 2
        x[9] = float.NaN; // row 4
        var e = Assert.Throws<ArgumentException>(() => m.Fit(Tensor.FromArray(x, 8, 2), Y, verbose: 0));
        Assert.Contains("NaN at row 2", e.Message);
        Assert.False(m.Built); // refused before building
    }

    [Fact]
    public void UnknownNamesListTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => new Dense(2, activation: "sigmoidd"));
        Assert.Contains("sigmoidd", e.Message);
        Assert.Contains("relu", e.Message);
        var m = new Sequential(new Dense(1));
        Assert.Throws<ArgumentException>(() => m.Compile("adam", "binary_crossentropyy"));
        var me = Assert.Throws<ArgumentException>(() => m.Compile(new Adam(), new BinaryCrossentropy(), ["acuracy"]));
        Assert.Contains("acuracy", me.Message);
        Assert.Contains("accuracy", me.Message);
    }

    [Fact]
    public void LayerArgumentsAreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dense(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1f));
        var d = new Dense(3);
        d.Call(Tensor.Zeros(1, 2));
        var e = Assert.Throws<ArgumentException>(() => d.SetWeights(Tensor.Zeros(3, 3), Tensor.Zeros(3)));
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(3, 3)", e.Message);
    }

    [Theory]
    [InlineData("x without features")]
    [InlineData("rows differ")]
    [InlineData("label out of range")]
    [InlineData("validation width differs")]
    [InlineData("labels wider than the output")]
    public void FailedFitLeavesAnUnbuiltModelUnbuilt(string failure)
    {
        var m = new Sequential(new Dense(8, "relu"), new Dense(3));
        m.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        var labels = Tensor.FromArray(new float[] { 0, 1, 2, 1, 0, 1, 2, 0 });
        Action fit = failure switch
        {
            "x without features" => () => m.Fit(Tensor.Zeros(100, 0), Tensor.Zeros(100), verbose: 0),
            "rows differ" => () => m.Fit(X, labels.Slice(0, 5), verbose: 0),
            "label out of range" => () => m.Fit(X, labels * 3f, verbose: 0),
            "validation width differs" => () => m.Fit(X, labels, validationData: (Tensor.Zeros(4, 5), labels.Slice(0, 4)), verbose: 0),
            _ => () => m.Fit(X, Tensor.Zeros(8, 2, 2), verbose: 0),
        };
        Assert.ThrowsAny<ArgumentException>(fit);
        Assert.False(m.Built);
        Assert.All(m.Layers, l => Assert.False(l.Built, $"{l.Name} was left built"));
        Assert.Empty(m.Variables);
        Assert.Null(m.InputShape);
        // The model then builds for the data it is given.
        m.Fit(X, labels, verbose: 0);
        Assert.Equal([-1, 2], m.InputShape!);
        Assert.Equal([2, 8], ((Dense)m.Layers[0]).Kernel!.Shape);
    }

    [Fact]
    public void FailedEvaluateAndPredictLeaveAnUnbuiltModelUnbuilt()
    {
        var m = new Sequential(new Dense(4, "relu"), new Dense(3));
        m.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        Assert.Throws<ArgumentException>(() => m.Evaluate(X, Tensor.Full([8], 9f)));
        Assert.False(m.Built);
        Assert.All(m.Layers, l => Assert.False(l.Built, $"{l.Name} was left built"));

        var conv = new Sequential(new Dense(4), new Conv2D(2, 2));
        Assert.Throws<ArgumentException>(() => conv.Predict(X));
        Assert.All(conv.Layers, l => Assert.False(l.Built, $"{l.Name} was left built"));
    }
}
