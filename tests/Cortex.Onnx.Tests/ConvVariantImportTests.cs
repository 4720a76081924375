using System.Text.Json;
using Cortex.Layers;

namespace Cortex.Onnx.Tests;

/// <summary>
/// PyTorch's grouped, depthwise and transposed convolutions exported by torch.onnx
/// (tests/reference/make_onnx_conv_variants_reference.py) import as Conv2D(groups), DepthwiseConv2D and Conv2DTranspose
/// and predict what PyTorch computed; a transposed convolution no Keras padding reproduces becomes "valid" and a crop.
/// </summary>
public class ConvVariantImportTests
{
    private static readonly Dictionary<string, JsonElement> Cases = TorchFixtures.Cases("onnx_conv_variants_import.json");

    private static Tensor ToTensor(JsonElement e) => TorchFixtures.ToTensor(e);

    private static string PathOf(string name) => TorchFixtures.PathOf(name);

    public static TheoryData<string> PyTorchModels => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(PyTorchModels))]
    public void PyTorchExportsPredictWhatPyTorchComputed(string name)
    {
        var model = OnnxImporter.Load(PathOf(name));
        var c = Cases[name];
        ExportTests.AssertClose(ToTensor(c.GetProperty("output")).ToArray(), model.Predict(ToTensor(c.GetProperty("input"))).ToArray(), name);
    }

    [Fact]
    public void GroupsBecomeDepthwiseOrGroupedConvolutions()
    {
        var model = OnnxImporter.Load(PathOf("conv_groups"));
        var depthwise = model.Layers.OfType<DepthwiseConv2D>().ToList();
        Assert.Equal([(2, "relu", true), (1, "linear", false)], depthwise.Select(d => (d.DepthMultiplier, d.Activation.Name, d.UseBias)));
        Assert.Equal([3, 3, 4, 2], depthwise[0].Kernel!.Shape);
        var grouped = Assert.Single(model.Layers.OfType<Conv2D>());
        Assert.Equal((2, 6, "same", "tanh"), (grouped.Groups, grouped.Filters, grouped.Padding, grouped.Activation.Name));
        Assert.Equal([3, 3, 4, 6], grouped.Kernel!.Shape);
    }

    [Fact]
    public void TransposedConvolutionsFindTheirKerasPadding()
    {
        var model = OnnxImporter.Load(PathOf("conv_transpose"));
        var t = model.Layers.OfType<Conv2DTranspose>().ToList();
        Assert.Equal([("same", 2, 4), ("valid", 2, 2), ("same", 1, 3)], t.Select(l => (l.Padding, l.Strides.Height, l.KernelSize.Width)));
        Assert.All(t, l => Assert.Null(l.OutputPadding));
        Assert.Equal([4, 4, 4, 3], t[0].Kernel!.Shape);   // (kh, kw, filters, input channels)
    }

    [Fact]
    public void PadsNoKerasPaddingGivesBecomeValidAndACrop()
    {
        var model = OnnxImporter.Load(PathOf("conv_transpose_offset"));
        Assert.Equal([typeof(Input), typeof(Permute), typeof(Conv2DTranspose), typeof(Cropping2D), typeof(Conv2DTranspose), typeof(Cropping2D), typeof(Permute)],
            model.Layers.Select(l => l.GetType()));
        var t = model.Layers.OfType<Conv2DTranspose>().ToList();
        Assert.Equal([("valid", new Size2D(1, 1), "relu"), ("valid", new Size2D(0, 0), "linear")], t.Select(l => (l.Padding, l.OutputPadding!.Value, l.Activation.Name)));
        Assert.Equal([new Margins2D(1, 1, 1, 1), new Margins2D(0, 0, 2, 2)], model.Layers.OfType<Cropping2D>().Select(c => c.Cropping));
    }
}
