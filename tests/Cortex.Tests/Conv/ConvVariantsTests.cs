using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Models;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.Conv;

/// <summary>DepthwiseConv2D, Conv2D(groups), SeparableConv2D and Conv2DTranspose beyond the PyTorch values: Keras's
/// errors, defaults, weight names and layouts, output shapes and Summary counts, both training paths, saving.</summary>
public class ConvVariantsTests
{
    [Fact]
    public void ArgumentsAreCheckedKerasStyle()
    {
        Assert.Contains("DepthwiseConv2D: depthMultiplier must be a positive integer. Received: depthMultiplier=0",
            Assert.Throws<ArgumentOutOfRangeException>(() => new DepthwiseConv2D(3, depthMultiplier: 0)).Message);
        Assert.Contains("DepthwiseConv2D: kernelSize must be positive integers. Received: kernelSize=(0, 0)",
            Assert.Throws<ArgumentOutOfRangeException>(() => new DepthwiseConv2D(0)).Message);
        Assert.Contains("DepthwiseConv2D: padding must be \"valid\" or \"same\". Received: padding=\"full\"",
            Assert.Throws<ArgumentException>(() => new DepthwiseConv2D(3, padding: "full")).Message);
        Assert.Contains("Conv2D: groups must be a positive integer. Received: groups=0",
            Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(4, 3, groups: 0)).Message);
        Assert.Contains("Conv2D: the number of filters must be evenly divisible by the number of groups. Received: groups=3, filters=4",
            Assert.Throws<ArgumentException>(() => new Conv2D(4, 3, groups: 3)).Message);
        Assert.Contains("SeparableConv2D: filters must be a positive integer. Received: filters=0",
            Assert.Throws<ArgumentOutOfRangeException>(() => new SeparableConv2D(0, 3)).Message);
        Assert.Contains("SeparableConv2D: depthMultiplier must be a positive integer. Received: depthMultiplier=-1",
            Assert.Throws<ArgumentOutOfRangeException>(() => new SeparableConv2D(2, 3, depthMultiplier: -1)).Message);
        Assert.Contains("strides=(0, 1)", Assert.Throws<ArgumentOutOfRangeException>(() => new SeparableConv2D(2, 3, strides: (0, 1))).Message);
        Assert.Contains("Conv2DTranspose: filters must be a positive integer. Received: filters=-2",
            Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2DTranspose(-2, 3)).Message);
        Assert.Contains("Conv2DTranspose: outputPadding must be non-negative and smaller than strides in each direction. Received: outputPadding=(2, 1), strides=(2, 2)",
            Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2DTranspose(2, 3, strides: 2, outputPadding: (2, 1))).Message);
        Assert.Contains("Conv2DTranspose: padding must be \"valid\" or \"same\". Received: padding=\"causal\"",
            Assert.Throws<ArgumentException>(() => new Conv2DTranspose(2, 3, padding: "causal")).Message);
    }

    [Fact]
    public void BadInputsAreNamedWithTheShape()
    {
        var groups = Assert.Throws<ArgumentException>(() => new Conv2D(4, 3, groups: 2, name: "g").Call(Tensor.Zeros([1, 5, 5, 3])));
        Assert.Contains("Conv2D 'g': the number of input channels must be evenly divisible by the number of groups. Received: groups=2, but the input has 3 channels (full input shape is (None, 5, 5, 3))", groups.Message);
        foreach (var layer in new Layer[] { new DepthwiseConv2D(3, name: "l"), new SeparableConv2D(2, 3, name: "l"), new Conv2DTranspose(2, 3, name: "l") })
        {
            var rank = Assert.Throws<ArgumentException>(() => layer.Call(Tensor.Zeros([2, 5, 5])));
            Assert.Contains($"{layer.GetType().Name} 'l' expects input of rank 4 (batch, height, width, channels). Received: shape (None, 5, 5)", rank.Message);
            layer.Call(Tensor.Zeros([1, 5, 5, 3]));
            Assert.Contains($"{layer.GetType().Name} 'l' expects input with 3 channels (the last axis). Received: shape (1, 5, 5, 2)",
                Assert.Throws<ArgumentException>(() => layer.Call(Tensor.Zeros([1, 5, 5, 2]))).Message);
        }
        var grouped = new Conv2D(4, 3, groups: 2, name: "h");
        grouped.Call(Tensor.Zeros([1, 5, 5, 4]));
        Assert.Contains("Conv2D 'h' expects input with 4 channels (the last axis). Received: shape (1, 5, 5, 6)",
            Assert.Throws<ArgumentException>(() => grouped.Call(Tensor.Zeros([1, 5, 5, 6]))).Message);
        Assert.Contains("DepthwiseConv2D 'd': the kernel 5×5 is larger than the input's 3×3 pixels",
            Assert.Throws<ArgumentException>(() => new DepthwiseConv2D(5, name: "d").Call(Tensor.Zeros([1, 3, 3, 2]))).Message);
    }

    [Fact]
    public void DefaultsWeightNamesAndLayoutsFollowKeras()
    {
        var dw = new DepthwiseConv2D(3);
        Assert.Equal((1, "valid", 1, 1, true), ((int)dw.Strides.Height, dw.Padding, dw.DepthMultiplier, dw.DilationRate.Width, dw.UseBias));
        Assert.StartsWith("depthwise_conv2d", dw.Name);
        dw = new DepthwiseConv2D(3, depthMultiplier: 2);
        dw.Call(Tensor.Zeros([1, 5, 5, 4]));
        Assert.Equal([3, 3, 4, 2], dw.Kernel!.Shape);
        Assert.Equal([8], dw.Bias!.Shape);
        Assert.Equal($"{dw.Name}/kernel", dw.Kernel.Name);   // Keras 3's name (Keras 2 called it depthwise_kernel)
        Assert.Equal(2, dw.GetConfig()["depth_multiplier"]);
        Assert.True(dw.GetConfig().ContainsKey("depthwise_initializer"));

        var sep = new SeparableConv2D(5, 3);
        Assert.StartsWith("separable_conv2d", sep.Name);
        sep.Call(Tensor.Zeros([1, 5, 5, 4]));
        Assert.Equal([$"{sep.Name}/depthwise_kernel", $"{sep.Name}/pointwise_kernel", $"{sep.Name}/bias"], sep.Weights.Select(w => w.Name));
        Assert.Equal([[3, 3, 4, 1], [1, 1, 4, 5], [5]], sep.Weights.Select(w => w.Shape));

        var tr = new Conv2DTranspose(5, 3);
        Assert.StartsWith("conv2d_transpose", tr.Name);
        Assert.Null(tr.OutputPadding);
        tr.Call(Tensor.Zeros([1, 4, 4, 2]));
        Assert.Equal([3, 3, 5, 2], tr.Kernel!.Shape);   // (kh, kw, filters, input channels)
        Assert.Equal([5], tr.Bias!.Shape);

        var grouped = new Conv2D(6, 3, groups: 3);
        grouped.Call(Tensor.Zeros([1, 5, 5, 9]));
        Assert.Equal([3, 3, 3, 6], grouped.Kernel!.Shape);   // (kh, kw, in / groups, filters)
        Assert.Equal(1, new Conv2D(6, 3).Groups);
    }

    [Fact]
    public void OutputShapesFollowKeras()
    {
        int[] Out(Layer l, params int[] shape) => l.ComputeOutputShape([-1, .. shape]);
        Assert.Equal([-1, 6, 6, 8], Out(new DepthwiseConv2D(3, depthMultiplier: 2), 8, 8, 4));
        Assert.Equal([-1, 4, 4, 4], Out(new DepthwiseConv2D(3, strides: 2, padding: "same"), 8, 7, 4));
        Assert.Equal([-1, 3, 3, 6], Out(new Conv2D(6, 3, strides: 2, groups: 2), 8, 8, 4));
        Assert.Equal([-1, 8, 8, 5], Out(new SeparableConv2D(5, 3, padding: "same"), 8, 8, 4));
        Assert.Equal([-1, 4, 2, 5], Out(new SeparableConv2D(5, 3, dilationRate: (2, 3)), 8, 8, 4));
        // Conv2DTranspose: valid in·s + max(k − s, 0); same in·s; with outputPadding (in − 1)·s + k − 2·pad + op.
        Assert.Equal([-1, 10, 10, 2], Out(new Conv2DTranspose(2, 3), 8, 8, 4));
        Assert.Equal([-1, 17, 15, 2], Out(new Conv2DTranspose(2, 3, strides: 2), 8, 7, 4));
        Assert.Equal([-1, 24, 24, 2], Out(new Conv2DTranspose(2, 1, strides: 3), 8, 8, 4));
        Assert.Equal([-1, 16, 8, 2], Out(new Conv2DTranspose(2, 3, strides: (2, 1), padding: "same"), 8, 8, 4));
        Assert.Equal([-1, 16, 15, 2], Out(new Conv2DTranspose(2, 3, strides: 2, padding: "same", outputPadding: (1, 0)), 8, 8, 4));
        Assert.Equal([-1, 12, 12, 2], Out(new Conv2DTranspose(2, 3, dilationRate: 2), 8, 8, 4));
    }

    private static Sequential EveryVariant() => new(
        new Input([8, 8, 2]),
        new DepthwiseConv2D(3, padding: "same", depthMultiplier: 2, activation: "relu", name: "dw1"),
        new Conv2D(6, 3, strides: 2, groups: 2, activation: "tanh", name: "grouped"),
        new Conv2DTranspose(4, 3, strides: 2, padding: "same", activation: "relu", name: "up1"),
        new SeparableConv2D(3, 3, depthMultiplier: 2, activation: "relu", name: "sep"),
        new DepthwiseConv2D(2, useBias: false, name: "dw2"),
        new Conv2DTranspose(2, 2, strides: 2, outputPadding: (1, 0), useBias: false, name: "up2"),
        new Flatten(),
        new Dense(3));

    [Fact]
    public void SummaryCountsParametersAsKeras()
    {
        string s = EveryVariant().SummaryString();
        Assert.Matches(@"dw1 \(DepthwiseConv2D\)\s+│ \(None, 8, 8, 4\)\s+│\s+40 │", s);           // 3·3·2·2 + 4
        Assert.Matches(@"grouped \(Conv2D\)\s+│ \(None, 3, 3, 6\)\s+│\s+114 │", s);              // 3·3·(4/2)·6 + 6
        Assert.Matches(@"up1 \(Conv2DTranspose\)\s+│ \(None, 6, 6, 4\)\s+│\s+220 │", s);          // 3·3·4·6 + 4
        Assert.Matches(@"sep \(SeparableConv2D\)\s+│ \(None, 4, 4, 3\)\s+│\s+99 │", s);           // 3·3·4·2 + 8·3 + 3
        Assert.Matches(@"dw2 \(DepthwiseConv2D\)\s+│ \(None, 3, 3, 3\)\s+│\s+12 │", s);           // 2·2·3·1
        Assert.Matches(@"up2 \(Conv2DTranspose\)\s+│ \(None, 7, 6, 2\)\s+│\s+24 │", s);           // 2·2·2·3
        Assert.Contains("Total params: 764", s);
    }

    [Fact]
    public void TrainsOnTheFusedPathWithTheTapesBits()
    {
        var x = Tensor.RandomNormal([45, 8, 8, 2], seed: 4);   // 45 rows: a short last batch
        var y = (x.Slice(0, 1, axis: 3).Sum(1).Sum(1).Reshape(-1) > 0f) + (x.Slice(1, 1, axis: 3).Mean(1).Mean(1).Reshape(-1) > 0.1f);
        BothPaths.AssertFusedEqualsTape(EveryVariant, x, y, epochs: 2, rate: 0.01f, seed: 5);
    }

    [Fact]
    public void UsesTheFusedStepCannotRunTrainOnTheTapeAndSayWhy()
    {
        var x = Tensor.RandomNormal([16, 6, 6, 2], seed: 7);
        var y = (x.Slice(0, 1, axis: 3).Sum(1).Sum(1).Reshape(-1) > 0f) + 0f;
        Assert.Equal("tape: SeparableConv2D 's' has the activation 'softplus'",
            BothPaths.PathOf(new Sequential(new SeparableConv2D(2, 3, activation: "softplus", name: "s"), new Flatten(), new Dense(2)), x, y));
        Assert.Equal("tape: DepthwiseConv2D 'd' has a regularizer",
            BothPaths.PathOf(new Sequential(new DepthwiseConv2D(3, depthwiseRegularizer: new Regularizers.L2(0.01f), name: "d"), new Flatten(), new Dense(2)), x, y));
        Assert.Equal("tape: Conv2DTranspose 't' has the activation 'silu'",
            BothPaths.PathOf(new Sequential(new Conv2DTranspose(2, 3, strides: 2, activation: "silu", name: "t"), new Flatten(), new Dense(2)), x, y));
        // A grouped Conv2D with an activation whose derivative needs its input: the tape's gradients are still right.
        var conv = new Conv2D(4, 2, groups: 2, activation: "softplus");
        var input = Tensor.RandomNormal([2, 4, 4, 4], seed: 8);
        conv.EnsureBuilt(input.Shape);
        var upstream = Tensor.RandomNormal([2, 3, 3, 4], seed: 9);
        Tensor[] sources = [input, conv.Kernel!, conv.Bias!];
        Reference.ReferenceData.AssertFiniteDifferences("grouped softplus", conv, input, sources,
            Reference.ReferenceData.LayerGradients(conv, input, sources, upstream), upstream);
    }

    [Fact]
    public void SavesAndLoadsEveryVariantAndTrainsOnFromTheSameState()
    {
        var x = Tensor.RandomNormal([16, 8, 8, 2], seed: 6);
        var y = (x.Slice(0, 1, axis: 3).Sum(1).Sum(1).Reshape(-1) > 0f) + 0f;
        var model = EveryVariant();
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, verbose: 0);
        var loaded = SaveLoadCheck.AssertRoundTripContinues(model, x, y);
        Assert.Equal(model.Layers.Select(l => l.GetType()), loaded.Layers.Select(l => l.GetType()));
    }
}
