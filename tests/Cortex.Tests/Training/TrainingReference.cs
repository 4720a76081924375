using System.Text.Json;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Training;

/// <summary>Helpers for training.json (written by tests/reference/make_training_reference.py).</summary>
internal static class TrainingReference
{
    public const string File = "training.json";

    public static TheoryData<string> Names(string kind, Func<JsonElement, bool>? filter = null)
    {
        var data = new TheoryData<string>();
        foreach (var (name, c) in ReferenceData.Cases(File))
            if (c.GetProperty("kind").GetString() == kind && (filter == null || filter(c))) data.Add(name);
        return data;
    }

    public static JsonElement Case(string name) => ReferenceData.Cases(File)[name];

    public static Tensor T(JsonElement c, string key) => ReferenceData.ToTensor(c.GetProperty(key));

    /// <summary>Central finite differences of a scalar function of one tensor, element by element.</summary>
    public static float[] NumericGradient(Func<Tensor, Tensor> f, Tensor x, float h)
    {
        var values = x.ToArray();
        var grad = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            values[i] = v + h;
            float up = f(Tensor.FromArray(values, x.Shape)).Item();
            values[i] = v - h;
            float down = f(Tensor.FromArray(values, x.Shape)).Item();
            values[i] = v;
            grad[i] = (up - down) / (2 * h);
        }
        return grad;
    }

    /// <summary>A GetConfig dictionary as the JSON element that saving would store.</summary>
    public static JsonElement Json(Dictionary<string, object?> config) => JsonSerializer.SerializeToElement(config);
}
