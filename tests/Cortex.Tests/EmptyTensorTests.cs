using Cortex.Layers;

namespace Cortex.Tests;

/// <summary>
/// Zero-length axes behave as NumPy (and Keras on top of it): the expected values are NumPy's documented results for
/// empty shapes — an empty sum is 0, an empty mean is NaN, an empty max has no identity and is an error, a product
/// with an empty inner axis is all zeros — written down here rather than generated.
/// </summary>
public class EmptyTensorTests
{
    // np.zeros((3, 0)) @ np.zeros((0, 4)) == np.zeros((3, 4)); the other empty products are empty.
    [Theory]
    [InlineData(new[] { 3, 0 }, new[] { 0, 4 }, new[] { 3, 4 })]
    [InlineData(new[] { 0, 3 }, new[] { 3, 4 }, new[] { 0, 4 })]
    [InlineData(new[] { 3, 4 }, new[] { 4, 0 }, new[] { 3, 0 })]
    [InlineData(new[] { 0, 0 }, new[] { 0, 0 }, new[] { 0, 0 })]
    [InlineData(new[] { 2, 3, 0 }, new[] { 0, 4 }, new[] { 2, 3, 4 })]
    [InlineData(new[] { 2, 3, 0 }, new[] { 2, 0, 4 }, new[] { 2, 3, 4 })]
    [InlineData(new[] { 0, 3, 4 }, new[] { 4, 5 }, new[] { 0, 3, 5 })]
    [InlineData(new[] { 0 }, new[] { 0, 4 }, new[] { 4 })]
    [InlineData(new[] { 3, 0 }, new[] { 0 }, new[] { 3 })]
    public void MatMulWithAnEmptyAxisGivesZerosOrAnEmptyResult(int[] a, int[] b, int[] expected)
    {
        var r = Tensor.MatMul(Tensor.Ones(a), Tensor.Ones(b));
        Assert.Equal(expected, r.Shape);
        Assert.All(r.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MatMulOfEmptyVectorsIsZeroAndDotAgrees()
    {
        Assert.Equal(0f, Tensor.MatMul(Tensor.Ones(0), Tensor.Ones(0)).Item());     // np.ones(0) @ np.ones(0) == 0.0
        Assert.Equal(new float[12], Tensor.Dot(Tensor.Ones(3, 0), Tensor.Ones(0, 4)).ToArray());
    }

    [Fact]
    public void MatMulGradientsThroughAnEmptyInnerAxisHaveTheOperandsShapes()
    {
        var a = new Variable(Tensor.Ones(3, 0), "a");
        var b = new Variable(Tensor.Ones(0, 4), "b");
        using var tape = new GradientTape();
        var g = tape.Gradient(Tensor.MatMul(a, b).Sum(), [a, b]);
        Assert.Equal([3, 0], g[0].Shape);
        Assert.Equal([0, 4], g[1].Shape);
    }

    [Fact]
    public void DenseOnZeroFeaturesBuildsAnEmptyKernelAndOutputsItsBias()
    {
        // Keras: Dense(4) on (2, 0) builds a (0, 4) kernel; x·W is zeros, so the output is the bias on every row.
        var dense = new Dense(4, activation: "relu", biasInitializer: new Initializers.Constant(0.5f));
        var y = dense.Call(Tensor.Ones(2, 0));
        Assert.Equal([0, 4], dense.Kernel!.Shape);
        Assert.Equal([2, 4], y.Shape);
        Assert.All(y.ToArray(), v => Assert.Equal(0.5f, v));

        var x = new Variable(Tensor.Ones(2, 0), "x");
        using var tape = new GradientTape();
        var g = tape.Gradient(dense.Call(x).Sum(), [x, dense.Kernel!, dense.Bias!]);
        Assert.Equal([2, 0], g[0].Shape);
        Assert.Equal([0, 4], g[1].Shape);
        Assert.Equal(new float[] { 2, 2, 2, 2 }, g[2].ToArray()); // each unit's bias feeds both rows
    }

    [Fact]
    public void DenseOnNoRowsGivesNoRows()
    {
        var dense = new Dense(4);
        dense.Call(Tensor.Ones(1, 3)); // built for 3 features
        Assert.Equal([0, 4], dense.Call(Tensor.Ones(0, 3)).Shape);
    }

    [Fact]
    public void SumOverNothingIsZero()
    {
        Assert.Equal(0f, Tensor.Ones(0).Sum().Item());                              // np.sum(np.ones(0)) == 0.0
        Assert.Equal(0f, Tensor.Ones(2, 0).Sum().Item());
        Assert.Equal(new float[] { 0, 0 }, Tensor.Ones(2, 0).Sum(1).ToArray());     // np.ones((2, 0)).sum(1) == [0, 0]
        Assert.Equal([2, 1], Tensor.Ones(2, 0).Sum(1, keepDims: true).Shape);
        Assert.Equal([0], Tensor.Ones(0, 3).Sum(1).Shape);                          // np.ones((0, 3)).sum(1).shape == (0,)
        Assert.Equal(new float[] { 0, 0, 0 }, Tensor.Ones(0, 3).Sum(0).ToArray());
    }

    [Fact]
    public void MeanOverNothingIsNaN()
    {
        Assert.True(float.IsNaN(Tensor.Ones(0).Mean().Item()));                     // np.mean(np.ones(0)) is nan (with a warning)
        Assert.All(Tensor.Ones(2, 0).Mean(1).ToArray(), v => Assert.True(float.IsNaN(v)));
        Assert.Equal([0], Tensor.Ones(0, 3).Mean(1).Shape);
    }

    [Fact]
    public void MaxAndMinOverNothingAreErrorsAsInNumPy()
    {
        // np.max(np.ones(0)): "zero-size array to reduction operation maximum which has no identity".
        Assert.Contains("empty", Assert.Throws<InvalidOperationException>(() => Tensor.Ones(0).Max()).Message);
        Assert.Contains("empty", Assert.Throws<InvalidOperationException>(() => Tensor.Ones(2, 0).Min()).Message);
        Assert.Contains("(2, 0)", Assert.Throws<InvalidOperationException>(() => Tensor.Ones(2, 0).Max(1)).Message);
        Assert.Throws<InvalidOperationException>(() => Tensor.Ones(2, 0).ArgMax(1));
        // Along a non-empty axis of an empty tensor there is nothing to reduce and nothing to fail.
        Assert.Equal([0], Tensor.Ones(0, 3).Max(1).Shape);
        Assert.Equal([0], Tensor.Ones(0, 3).ArgMax(1).Shape);
    }

    [Fact]
    public void ElementwiseOpsAndBroadcastingKeepTheEmptyShape()
    {
        Assert.Equal([0, 3], (Tensor.Ones(0, 3) + Tensor.Ones(3)).Shape);           // (0, 3) + (3,) -> (0, 3)
        Assert.Equal([0, 3], (Tensor.Ones(0, 1) * Tensor.Ones(1, 3)).Shape);        // (0, 1) * (1, 3) -> (0, 3)
        Assert.Equal([2, 0], (Tensor.Ones(2, 1) - Tensor.Ones(0)).Shape);           // (2, 1) - (0,) -> (2, 0)
        Assert.Equal([0, 3], Tensor.Ones(0, 3).Exp().Shape);
        Assert.Equal([0, 3], NN.Softmax(Tensor.Ones(0, 3)).Shape);
        Assert.Equal([2, 0], NN.Softmax(Tensor.Ones(2, 0)).Shape);
        Assert.Equal([0, 3], Tensor.Where(Tensor.Ones(0, 3), Tensor.Ones(0, 3), Tensor.Zeros(0, 3)).Shape);
        // (0, 3) and (2, 3) do not broadcast: 0 is not 1.
        Assert.Contains("(0, 3) and (2, 3)", Assert.Throws<ArgumentException>(() => Tensor.Ones(0, 3) + Tensor.Ones(2, 3)).Message);
    }

    [Fact]
    public void ConcatSliceStackReshapeAndTransposeHandleZeros()
    {
        var two = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        Assert.Equal(two.ToArray(), Tensor.Concat([Tensor.Ones(0, 3), two], 0).ToArray());
        Assert.Equal(two.ToArray(), Tensor.Concat([Tensor.Ones(2, 0), two, Tensor.Ones(2, 0)], 1).ToArray());
        Assert.Equal([0, 3], Tensor.Concat([Tensor.Ones(0, 3), Tensor.Ones(0, 3)], 0).Shape);
        Assert.Equal([0, 3], two.Slice(1, 0).Shape);
        Assert.Equal([2, 0], two.Slice(3, 0, axis: 1).Shape);
        Assert.Equal([2, 0, 3], Tensor.Stack([Tensor.Ones(0, 3), Tensor.Ones(0, 3)], 0).Shape);
        Assert.Equal([3, 0], Tensor.Ones(0, 3).Reshape(3, 0).Shape);
        Assert.Equal([0, 3], Tensor.Ones(0, 3).Reshape(-1, 3).Shape);               // np.ones((0, 3)).reshape(-1, 3)
        Assert.Equal([0], Tensor.Ones(0, 3).Reshape(-1).Shape);
        Assert.Equal([3, 0], Tensor.Ones(0, 3).Reshape(3, -1).Shape);               // NumPy infers 0 / 3 = 0
        Assert.Throws<ArgumentException>(() => Tensor.Ones(0, 3).Reshape(0, -1));   // NumPy: -1 is ambiguous beside a 0
        Assert.Equal([3, 0], Tensor.Ones(0, 3).T.Shape);
        Assert.Equal([0, 2], Tensor.Ones(0, 3).Gather([0, 2], axis: 1).Shape);
    }
}
