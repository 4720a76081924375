using System.Text.Json;
using Cortex.Layers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Sequence;

/// <summary>
/// Conv1D and the 1-D poolings against PyTorch (tests/reference/make_conv1d_reference.py → conv1d.json): forward values,
/// gradients to the input and every weight, and a central finite-difference check of each gradient.
/// </summary>
public class Conv1DReferenceTests : LayerReferenceSuite
{
    private const string File = "conv1d.json";
    /// <inheritdoc/>
    protected override float Rtol => 1e-4f;
    /// <inheritdoc/>
    protected override float Atol => 1e-5f;

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    /// <summary>The case's layer with PyTorch's weights, its input, and the tensors to differentiate with respect to
    /// (the input, then the kernel and bias).</summary>
    protected override (Layer Layer, Tensor X, Tensor[] Sources, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var a = c.GetProperty("args");
        Tensor[] inputs = [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)];
        Tensor x = inputs[0];
        int Int(string key) => a.GetProperty(key).GetInt32();
        string Str(string key) => a.GetProperty(key).GetString()!;
        Layer layer = c.GetProperty("layer").GetString() switch
        {
            "conv1d" => new Conv1D(Int("filters"), Int("kernel_size"), Int("strides"), Str("padding"), Int("dilation_rate"),
                Str("activation"), a.GetProperty("use_bias").GetBoolean()),
            "max_pool1d" => new MaxPooling1D(Int("pool_size"), Int("strides"), Str("padding")),
            "avg_pool1d" => new AveragePooling1D(Int("pool_size"), Int("strides"), Str("padding")),
            "global_max_pool1d" => new GlobalMaxPooling1D(a.GetProperty("keepdims").GetBoolean()),
            "global_avg_pool1d" => new GlobalAveragePooling1D(a.GetProperty("keepdims").GetBoolean()),
            var other => throw new InvalidDataException($"{name}: unknown layer {other}"),
        };
        layer.EnsureBuilt(x.Shape);
        if (inputs.Length > 1) layer.SetWeights(inputs[1..]);
        return (layer, x, [x, .. layer.TrainableWeights], c);
    }
}
