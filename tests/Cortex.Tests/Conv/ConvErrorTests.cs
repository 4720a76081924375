using Cortex.Layers;
using Cortex.Models;

namespace Cortex.Tests.Conv;

/// <summary>Bad configuration and bad input get an exception that names the layer and says what was expected.</summary>
public class ConvErrorTests
{
    [Fact]
    public void FlatImagesIntoConv2DSayToReshape()
    {
        var conv = new Conv2D(8, 3, name: "features");
        var e = Assert.Throws<ArgumentException>(() => conv.Call(Tensor.Zeros(4, 784)));
        Assert.Contains("Conv2D 'features' expects input of rank 4 (batch, height, width, channels)", e.Message);
        Assert.Contains("Received: shape (None, 784)", e.Message);
        Assert.Contains("reshape the data to (N, 28, 28, 1)", e.Message);
        Assert.Contains("Reshape([28, 28, 1])", e.Message);

        var model = new Sequential(new Conv2D(8, 3), new Flatten(), new Dense(2));
        var e2 = Assert.Throws<ArgumentException>(() => model.Predict(Tensor.Zeros(2, 28, 28)));
        Assert.Contains("rank 4", e2.Message);
        Assert.Contains("reshape to (N, 28, 28, 1)", e2.Message);
    }

    [Fact]
    public void ABuiltConv2DRejectsOtherRanksAndChannelCounts()
    {
        var conv = new Conv2D(8, 3, name: "c");
        conv.Call(Tensor.Zeros(1, 5, 5, 3));
        Assert.Contains("Conv2D 'c' expects input with 3 channels", Assert.Throws<ArgumentException>(() => conv.Call(Tensor.Zeros(1, 5, 5, 1))).Message);
        Assert.Contains("rank 4", Assert.Throws<ArgumentException>(() => conv.Call(Tensor.Zeros(1, 75))).Message);
    }

    [Fact]
    public void AWindowLargerThanTheInputIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new Conv2D(2, 5, name: "big").Call(Tensor.Zeros(1, 4, 4, 1)));
        Assert.Contains("Conv2D 'big': the kernel 5×5 is larger than the input's 4×4 pixels with padding \"valid\"", e.Message);
        Assert.Contains("Received: shape (None, 4, 4, 1)", e.Message);
        var d = Assert.Throws<ArgumentException>(() => new Conv2D(2, 3, dilationRate: 3).Call(Tensor.Zeros(1, 6, 6, 1)));
        Assert.Contains("dilated by (3, 3) (extent 7×7)", d.Message);
        var p = Assert.Throws<ArgumentException>(() => new MaxPooling2D(3, name: "pool").Call(Tensor.Zeros(1, 2, 2, 1)));
        Assert.Contains("MaxPooling2D 'pool': the pool size 3×3 is larger than the input's 2×2 pixels", p.Message);
        var s = Assert.Throws<ArgumentException>(() => new Sequential(new Input([4, 4, 1]), new Conv2D(1, 3), new Conv2D(1, 3)));
        Assert.Contains("larger than the input's 2×2 pixels", s.Message); // at build time, before any data
        // "same" padding always fits
        Assert.Equal([1, 2, 2, 1], new Conv2D(1, 5, padding: "same").Call(Tensor.Zeros(1, 2, 2, 1)).Shape);
    }

    [Fact]
    public void NonPositiveSizesAndUnknownPaddingAreRejectedByTheConstructor()
    {
        Assert.Contains("filters must be a positive integer. Received: filters=0", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(0, 3)).Message);
        Assert.Contains("kernelSize must be positive integers. Received: kernelSize=(3, -1)", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(4, (3, -1))).Message);
        Assert.Contains("strides must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(4, 3, strides: 0)).Message);
        Assert.Contains("dilationRate must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(4, 3, dilationRate: -2)).Message);
        Assert.Contains("Conv2D: padding must be \"valid\" or \"same\". Received: padding=\"full\"", Assert.Throws<ArgumentException>(() => new Conv2D(4, 3, padding: "full")).Message);
        Assert.Equal("same", new Conv2D(4, 3, padding: "SAME").Padding); // Keras lowercases it
        Assert.Contains("MaxPooling2D: poolSize must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => new MaxPooling2D(0)).Message);
        Assert.Contains("AveragePooling2D: strides must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => new AveragePooling2D(2, strides: -1)).Message);
        Assert.Contains("AveragePooling2D: padding must be", Assert.Throws<ArgumentException>(() => new AveragePooling2D(padding: "causal")).Message);
        Assert.Contains("momentum must be in [0, 1]", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormalization(momentum: 1.5f)).Message);
        Assert.Contains("epsilon must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormalization(epsilon: 0)).Message);
        Assert.Contains("at most one -1", Assert.Throws<ArgumentException>(() => new Reshape([-1, -1])).Message);
    }

    [Fact]
    public void PoolingBatchNormalizationAndReshapeNameTheLayerOnBadInput()
    {
        Assert.Contains("GlobalAveragePooling2D 'gap' expects input of rank 4",
            Assert.Throws<ArgumentException>(() => new GlobalAveragePooling2D(name: "gap").Call(Tensor.Zeros(2, 10))).Message);
        Assert.Contains("AveragePooling2D 'avg' expects input of rank 4",
            Assert.Throws<ArgumentException>(() => new AveragePooling2D(name: "avg").Call(Tensor.Zeros(2, 4, 4))).Message);
        var bn = new BatchNormalization(name: "bn");
        bn.Call(Tensor.Zeros(2, 3, 3, 4));
        Assert.Contains("BatchNormalization 'bn' expects input of rank 4 with 4 channels on axis -1. Received: shape (2, 3, 3, 5)",
            Assert.Throws<ArgumentException>(() => bn.Call(Tensor.Zeros(2, 3, 3, 5))).Message);
        Assert.Contains("batch axis", Assert.Throws<ArgumentException>(() => new BatchNormalization(axis: 0).Call(Tensor.Zeros(2, 3))).Message);
        Assert.Contains("Reshape 'r' cannot reshape samples of shape (10,) (10 values) to (3, -1)",
            Assert.Throws<ArgumentException>(() => new Reshape([3, -1], name: "r").Call(Tensor.Zeros(2, 10))).Message);
    }
}
