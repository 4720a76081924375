using System.Text.Json;
using Cortex.Layers;

namespace Cortex.Onnx.Tests;

/// <summary>
/// PyTorch's cropping (slicing), nn.Upsample and nn.LayerNorm exported by torch.onnx
/// (tests/reference/make_onnx_layers_reference.py) import as Cropping2D, UpSampling2D and LayerNormalization and predict
/// what PyTorch computed within 1e-5 relative; ONNX forms Cortex does not import are refused naming the node.
/// </summary>
public class LayerImportTests
{
    private static readonly Dictionary<string, JsonElement> Cases = TorchFixtures.Cases("onnx_layers_import.json");

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
    public void SlicesAndResizesBecomeCroppingAndUpSampling()
    {
        var model = OnnxImporter.Load(PathOf("crop_upsample"));
        var up = model.Layers.OfType<UpSampling2D>().ToList();
        Assert.Equal([(new Size2D(2, 2), "nearest"), (new Size2D(1, 2), "bilinear")], up.Select(u => (u.Size, u.Interpolation)));
        // x[:, :, 1:-2, 2:] is one Slice per axis.
        Assert.Equal([new Margins2D(1, 2, 0, 0), new Margins2D(0, 0, 2, 0)], model.Layers.OfType<Cropping2D>().Select(c => c.Cropping));
    }

    [Fact]
    public void LayerNormKeepsItsEpsilonAndWeights()
    {
        var model = OnnxImporter.Load(PathOf("layer_norm"));
        var norms = model.Layers.OfType<LayerNormalization>().ToList();
        Assert.Equal([1e-3f, 1e-5f], norms.Select(n => n.Epsilon));
        Assert.All(norms, n => Assert.True(n.Center && n.Scale && n.Axis is [-1]));
        Assert.Equal([8, 5], norms.Select(n => n.Gamma!.Size));
    }

    [Fact]
    public void PaddingAndResizingCortexCannotRepresentAreRefusedNamingTheNode()
    {
        var proto = OnnxExporter.ToProto(ExportTests.Build("image_shapes").Model, 17);
        var resize = proto.Graph.Node.First(n => n.OpType == "Resize");
        resize.Attribute.Single(a => a.Name == "coordinate_transformation_mode").S = Google.Protobuf.ByteString.CopyFromUtf8("align_corners");
        var e = Assert.Throws<NotSupportedException>(() => OnnxImporter.Load(Google.Protobuf.MessageExtensions.ToByteArray(proto), "resize.onnx"));
        Assert.StartsWith($"ONNX import (resize.onnx): node '{resize.Name}' (Resize, opset 17) resizes with mode \"nearest\", coordinate_transformation_mode \"align_corners\"", e.Message);
        proto = OnnxExporter.ToProto(ExportTests.Build("image_shapes").Model, 17);
        var pad = proto.Graph.Node.First(n => n.OpType == "Pad");
        pad.Attribute.Add(new Proto.AttributeProto { Name = "mode", Type = Proto.AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("reflect") });
        e = Assert.Throws<NotSupportedException>(() => OnnxImporter.Load(Google.Protobuf.MessageExtensions.ToByteArray(proto), "pad.onnx"));
        Assert.Contains("pads with mode \"reflect\"", e.Message);
        Assert.EndsWith("Cortex imports zeros added to the height and width of an image (ZeroPadding2D).", e.Message);
    }
}
