using System.Text.Json;
using Cortex.Layers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Conv;

/// <summary>
/// DepthwiseConv2D, Conv2D(groups), SeparableConv2D and Conv2DTranspose against PyTorch
/// (tests/reference/make_conv_variants_reference.py → conv_variants.json): forward values and output shape, gradients
/// to the input and every weight in Keras's layouts, and a central finite-difference check of each gradient.
/// </summary>
public class ConvVariantsReferenceTests : LayerReferenceSuite
{
    private const string File = "conv_variants.json";

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    /// <summary>The case's layer with PyTorch's weights, its input, and the tensors to differentiate with respect to
    /// (the input, then the weights in the generator's order).</summary>
    protected override (Layer Layer, Tensor X, Tensor[] Sources, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var a = c.GetProperty("args");
        Tensor[] inputs = [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)];
        Tensor x = inputs[0];
        Size2D k = Size(a, "kernel_size"), s = Size(a, "strides"), d = Size(a, "dilation_rate");
        string padding = a.GetProperty("padding").GetString()!, activation = a.GetProperty("activation").GetString()!;
        bool bias = a.GetProperty("use_bias").GetBoolean();
        Layer layer = c.GetProperty("layer").GetString() switch
        {
            "depthwise" => new DepthwiseConv2D(k, s, padding, a.GetProperty("depth_multiplier").GetInt32(), activation, bias, d),
            "grouped" => new Conv2D(a.GetProperty("filters").GetInt32(), k, s, padding, activation, bias, d, groups: a.GetProperty("groups").GetInt32()),
            "separable" => new SeparableConv2D(a.GetProperty("filters").GetInt32(), k, s, padding, d, a.GetProperty("depth_multiplier").GetInt32(), activation, bias),
            "transpose" => new Conv2DTranspose(a.GetProperty("filters").GetInt32(), k, s, padding,
                a.GetProperty("output_padding").ValueKind == JsonValueKind.Null ? null : Size(a, "output_padding"), d, activation, bias),
            _ => throw new InvalidDataException(name),
        };
        layer.EnsureBuilt(x.Shape);
        layer.SetWeights(inputs[1..]);
        return (layer, x, [x, .. layer.TrainableWeights], c);
    }

    private static Size2D Size(JsonElement a, string key)
    {
        int[] s = [.. a.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];
        return (s[0], s[1]);
    }
}
