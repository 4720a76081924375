using System.Text.Json;
using Cortex.Layers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.LayerTests;

/// <summary>
/// ZeroPadding2D, Cropping2D, UpSampling2D, LayerNormalization and GroupNormalization against PyTorch
/// (tests/reference/make_layers_reference.py → layers.json): forward values, gradients to the input and to γ and β,
/// and a central finite-difference check of each gradient.
/// </summary>
public class LayerReferenceTests : LayerReferenceSuite
{
    private const string File = "layers.json";
    /// <inheritdoc/>
    protected override float Atol => 1e-5f;

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    /// <summary>(top, bottom, left, right) from Keras's int, [h, w] or [[top, bottom], [left, right]].</summary>
    private static Margins2D Margins(JsonElement v) => v.ValueKind == JsonValueKind.Number ? v.GetInt32()
        : v[0].ValueKind == JsonValueKind.Number ? (v[0].GetInt32(), v[1].GetInt32())
        : ((v[0][0].GetInt32(), v[0][1].GetInt32()), (v[1][0].GetInt32(), v[1][1].GetInt32()));

    /// <summary>The case's layer with PyTorch's weights, its input, and the tensors to differentiate with respect to.</summary>
    protected override (Layer Layer, Tensor X, Tensor[] Sources, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var a = c.GetProperty("args");
        Tensor[] inputs = [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)];
        Tensor x = inputs[0];
        float Float(string key) => a.GetProperty(key).GetSingle();
        bool Bool(string key) => a.GetProperty(key).GetBoolean();
        Layer layer = c.GetProperty("layer").GetString() switch
        {
            "zero_padding2d" => new ZeroPadding2D(Margins(a.GetProperty("padding"))),
            "cropping2d" => new Cropping2D(Margins(a.GetProperty("cropping"))),
            "up_sampling2d" => new UpSampling2D((a.GetProperty("size")[0].GetInt32(), a.GetProperty("size")[1].GetInt32()),
                a.GetProperty("interpolation").GetString()!),
            "layer_normalization" => new LayerNormalization([.. a.GetProperty("axis").EnumerateArray().Select(e => e.GetInt32())], Float("epsilon"), Bool("center"), Bool("scale")),
            "group_normalization" => new GroupNormalization(a.GetProperty("groups").GetInt32(), epsilon: Float("epsilon"),
                center: Bool("center"), scale: Bool("scale")),
            var other => throw new InvalidDataException($"{name}: unknown layer {other}"),
        };
        layer.EnsureBuilt(x.Shape);
        if (inputs.Length > 1) layer.SetWeights(inputs[1..]);
        return (layer, x, [x, .. layer.TrainableWeights], c);
    }

    [Fact]
    public void EveryLayerHasCases()
    {
        var layers = ReferenceData.Cases(File).Values.Select(c => c.GetProperty("layer").GetString()).ToHashSet();
        Assert.Equal(["cropping2d", "group_normalization", "layer_normalization", "up_sampling2d", "zero_padding2d"], layers.Order());
    }
}
