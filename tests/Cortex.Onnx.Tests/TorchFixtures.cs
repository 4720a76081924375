using System.Text.Json;

namespace Cortex.Onnx.Tests;

/// <summary>The committed PyTorch fixtures (tests/reference/make_onnx*_reference.py): the .onnx files and each
/// generator's JSON of inputs and PyTorch's outputs, by case name.</summary>
internal static class TorchFixtures
{
    /// <summary>The cases of one generator's JSON, by name.</summary>
    public static Dictionary<string, JsonElement> Cases(string json)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "reference", json)));
        return doc.RootElement.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.Clone());
    }

    /// <summary>A tensor as the generators write it ({"shape", "data"}).</summary>
    public static Tensor ToTensor(JsonElement e) =>
        Tensor.FromArray([.. e.GetProperty("data").EnumerateArray().Select(v => v.GetSingle())], [.. e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32())]);

    /// <summary>The path of the fixture <c>reference/onnx/NAME.onnx</c>.</summary>
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "reference", "onnx", $"{name}.onnx");
}
