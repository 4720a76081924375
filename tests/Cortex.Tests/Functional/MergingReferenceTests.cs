using System.Text.Json;
using Cortex.Layers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.FunctionalApi;

/// <summary>The merge layers against PyTorch (tests/reference/make_merging_reference.py → merging.json): the output, and
/// the gradient of sum(output ⊙ U) with respect to every input.</summary>
public class MergingReferenceTests
{
    private const string File = "merging.json";
    private const float Rtol = 1e-4f, Atol = 1e-5f;

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    private static (Layer Layer, Tensor[] Inputs, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var a = c.GetProperty("args");
        Layer layer = c.GetProperty("layer").GetString() switch
        {
            "add" => new Add(),
            "subtract" => new Subtract(),
            "multiply" => new Multiply(),
            "average" => new Average(),
            "maximum" => new Maximum(),
            "minimum" => new Minimum(),
            "concatenate" => new Concatenate(a.GetProperty("axis").GetInt32()),
            "dot" => new Dot([.. a.GetProperty("axes").EnumerateArray().Select(e => e.GetInt32())], a.GetProperty("normalize").GetBoolean()),
            var other => throw new InvalidDataException($"{name}: unknown layer {other}"),
        };
        return (layer, [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)], c);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesPyTorch(string name)
    {
        var (layer, inputs, c) = Setup(name);
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("output")), layer.Call(inputs), $"{name} output", Rtol, Atol);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchPyTorch(string name)
    {
        var (layer, inputs, c) = Setup(name);
        Tensor?[] grads;
        using (var tape = new GradientTape())
        {
            foreach (var x in inputs) tape.Watch(x);
            grads = tape.Gradient(layer.Call(inputs), inputs, ReferenceData.ToTensor(c.GetProperty("upstream")), UnconnectedGradients.None);
        }
        var expected = c.GetProperty("grads").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, grads.Length);
        for (int i = 0; i < grads.Length; i++)
            ReferenceData.AssertClose(ReferenceData.ToTensor(expected[i]), grads[i]!, $"{name} d/dx{i}", Rtol, Atol);
    }
}
