using System.Text.Json;
using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Data;
using Cortex.Tests.Reference;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.Conv;

/// <summary>
/// <c>dataFormat: "channels_first"</c> on Conv2D and the 2-D poolings: PyTorch's own NCHW layout computed by PyTorch
/// (tests/reference/make_channels_first_reference.py), the channels-last layer between transposes bit for bit, both
/// training paths, saving, bad values.
/// </summary>
public class ChannelsFirstTests
{
    public static TheoryData<string> Cases => ReferenceData.Names("channels_first.json");

    private static Layer Make(JsonElement c)
    {
        int[] Pair(string key) => [.. c.GetProperty(key).EnumerateArray().Select(v => v.GetInt32())];
        Size2D Size(string key) => Pair(key).Length == 2 ? (Pair(key)[0], Pair(key)[1]) : Pair(key)[0];
        return c.GetProperty("layer").GetString() switch
        {
            "Conv2D" => new Conv2D(c.GetProperty("filters").GetInt32(), Size("kernel_size"), Size("strides"), c.GetProperty("padding").GetString()!,
                c.GetProperty("activation").GetString()!, dataFormat: "channels_first"),
            "MaxPooling2D" => new MaxPooling2D(Size("pool_size"), Size("strides"), dataFormat: "channels_first"),
            "AveragePooling2D" => new AveragePooling2D(Size("pool_size"), Size("strides"), dataFormat: "channels_first"),
            "Conv1D" => new Conv1D(c.GetProperty("filters").GetInt32(), Pair("kernel_size")[0], Pair("strides")[0], c.GetProperty("padding").GetString()!,
                dataFormat: "channels_first"),
            "MaxPooling1D" => new MaxPooling1D(Pair("pool_size")[0], Pair("strides")[0], dataFormat: "channels_first"),
            "AveragePooling1D" => new AveragePooling1D(Pair("pool_size")[0], Pair("strides")[0], dataFormat: "channels_first"),
            "GlobalAveragePooling1D" => new GlobalAveragePooling1D(dataFormat: "channels_first"),
            "GlobalMaxPooling1D" => new GlobalMaxPooling1D(dataFormat: "channels_first"),
            _ => new GlobalAveragePooling2D(dataFormat: "channels_first"),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputAndGradientsMatchPyTorchsNchw(string name)
    {
        var c = ReferenceData.Cases("channels_first.json")[name];
        var layer = Make(c);
        var x = ReferenceData.ToTensor(c.GetProperty("x"));
        Tensor[] weights = [.. c.GetProperty("weights").EnumerateArray().Select(ReferenceData.ToTensor)];
        layer.EnsureBuilt([-1, .. x.Shape[1..]]);
        if (weights.Length > 0) layer.SetWeights(weights);
        ReferenceData.AssertLayerForward(name, layer, x, c, 1e-5f, 1e-6f);
        ReferenceData.AssertLayerGradients(name, layer, x, [x, .. layer.TrainableWeights], c, 1e-5f, 1e-6f);
    }

    [Fact]
    public void ChannelsFirstIsTheChannelsLastLayerBetweenTransposesBitForBit()
    {
        var x = Tensor.RandomNormal([3, 2, 9, 8], seed: 1);
        var last = new Conv2D(4, 3, strides: 2, padding: "same", activation: "tanh");
        var first = new Conv2D(4, 3, strides: 2, padding: "same", activation: "tanh", dataFormat: "channels_first");
        var nhwc = x.Transpose(0, 2, 3, 1);
        last.Call(nhwc);
        first.EnsureBuilt([-1, 2, 9, 8]);
        first.SetWeights(last.GetWeights());
        Assert.Equal(last.Call(nhwc).Transpose(0, 3, 1, 2).ToArray(), first.Call(x).ToArray());
        Assert.Equal([-1, 4, 5, 4], first.ComputeOutputShape([-1, 2, 9, 8]));
        Assert.Equal([-1, 2, 4, 4], new MaxPooling2D(2, dataFormat: "channels_first").ComputeOutputShape([-1, 2, 9, 8]));
        Assert.Equal([-1, 2, 1, 1], new GlobalAveragePooling2D(keepDims: true, dataFormat: "channels_first").ComputeOutputShape([-1, 2, 9, 8]));
    }

    public static TheoryData<string> Variants => ["depthwise", "separable", "transpose"];

    private static Layer Variant(string kind, string format) => kind switch
    {
        "depthwise" => new DepthwiseConv2D(3, strides: 2, padding: "same", depthMultiplier: 2, activation: "relu", dataFormat: format),
        "separable" => new SeparableConv2D(4, 3, padding: "same", depthMultiplier: 2, activation: "tanh", dataFormat: format),
        _ => new Conv2DTranspose(3, 3, strides: 2, padding: "same", activation: "relu", dataFormat: format),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void ConvolutionVariantsTooAreTheirChannelsLastSelvesBetweenTransposes(string kind)
    {
        var x = Tensor.RandomNormal([2, 3, 7, 6], seed: 4);
        var nhwc = x.Transpose(0, 2, 3, 1);
        Layer last = Variant(kind, "channels_last"), first = Variant(kind, "channels_first");
        Tensor expected = last.Call(nhwc).Transpose(0, 3, 1, 2);
        first.EnsureBuilt([-1, 3, 7, 6]);
        first.SetWeights(last.GetWeights());
        Assert.Equal(expected.ToArray(), first.Call(x).ToArray());
        Assert.Equal(expected.Shape[1..], first.ComputeOutputShape([-1, 3, 7, 6])[1..]);
        var y = Tensor.FromArray([.. Enumerable.Range(0, 32).Select(i => (float)(i % 2))], [32]);
        BothPaths.AssertFusedEqualsTape(() => new Sequential(new Input([3, 7, 6]), Variant(kind, "channels_first"), new Flatten(), new Dense(2)),
            Tensor.RandomUniform([32, 3, 7, 6], seed: 5), y, epochs: 1, rate: 0.01f, seed: 6);
    }

    [Fact]
    public void SequencesChannelsFirstTrainTheSameOnBothPaths()
    {
        var x = Tensor.RandomNormal([32, 3, 12], seed: 7);
        var y = Tensor.FromArray([.. Enumerable.Range(0, 32).Select(i => (float)(i % 2))], [32]);
        BothPaths.AssertFusedEqualsTape(() => new Sequential(new Input([3, 12]), new Conv1D(4, 3, padding: "same", activation: "relu", dataFormat: "channels_first"),
            new MaxPooling1D(2, dataFormat: "channels_first"), new AveragePooling1D(2, 1, dataFormat: "channels_first"),
            new GlobalMaxPooling1D(dataFormat: "channels_first"), new Dense(2)), x, y, epochs: 2, rate: 0.01f, seed: 8);
        var masked = new Sequential(new Input([3, 5]), new Masking(), new GlobalAveragePooling1D(name: "gap_cf", dataFormat: "channels_first"));
        Assert.Contains("masks are supported channels last", Assert.ThrowsAny<Exception>(() => masked.Predict(Tensor.Ones(2, 3, 5))).Message);
    }

    private static Sequential Nchw() => new(new Input([1, 10, 10]),
        new Conv2D(4, 3, activation: "relu", name: "c1", dataFormat: "channels_first"),
        new MaxPooling2D(2, dataFormat: "channels_first"),
        new Conv2D(6, 3, padding: "same", activation: "relu", dataFormat: "channels_first"),
        new AveragePooling2D(2, strides: 1, dataFormat: "channels_first"),
        new GlobalAveragePooling2D(dataFormat: "channels_first"), new Dense(3));

    [Fact]
    public void TrainsTheSameOnBothPathsAndIsSaved()
    {
        var x = Tensor.RandomUniform([48, 1, 10, 10], seed: 2);
        var y = Tensor.FromArray([.. Enumerable.Range(0, 48).Select(i => (float)(i % 3))], [48]);
        BothPaths.AssertFusedEqualsTape(Nchw, x, y, epochs: 2, rate: 0.01f, seed: 3);
        var loaded = BothPaths.FitSaveLoad(Nchw(), x, y);
        Assert.Equal("channels_first", Assert.IsType<Conv2D>(loaded.Layers[1]).DataFormat);
        Assert.Contains("(None, 4, 8, 8)", loaded.SummaryString());
    }

    [Fact]
    public void AnUnknownFormatAndTheWrongChannelAxisAreRefused()
    {
        Assert.StartsWith("Conv2D: dataFormat must be \"channels_last\" or \"channels_first\". Received: dataFormat=\"nchw\"",
            Assert.Throws<ArgumentException>(() => new Conv2D(2, 3, dataFormat: "nchw")).Message);
        Assert.StartsWith("MaxPooling2D: dataFormat must be", Assert.Throws<ArgumentException>(() => new MaxPooling2D(dataFormat: "x")).Message);
        var conv = new Conv2D(2, 3, name: "cf", dataFormat: "channels_first");
        conv.Call(Tensor.Zeros(1, 3, 5, 5));
        Assert.Contains("Conv2D 'cf' expects input with 3 channels (the second axis). Received: shape (1, 5, 5, 3)",
            Assert.Throws<ArgumentException>(() => conv.Call(Tensor.Zeros(1, 5, 5, 3))).Message);
    }
}
