using System.Text.Json;

namespace Cortex.Tests.Reference;

/// <summary>Reads the JSON written by tests/reference/make_reference.py (PyTorch's values and gradients).</summary>
public static class ReferenceData
{
    private static readonly Dictionary<string, Dictionary<string, JsonElement>> Files = [];

    /// <summary>All cases of a reference file, keyed by case name.</summary>
    public static Dictionary<string, JsonElement> Cases(string file)
    {
        lock (Files)
        {
            if (Files.TryGetValue(file, out var cached)) return cached;
            string path = Path.Combine(AppContext.BaseDirectory, "reference", file);
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var result = new Dictionary<string, JsonElement>();
            foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
                result.Add(c.GetProperty("name").GetString()!, c.Clone());
            Files[file] = result;
            return result;
        }
    }

    public static TheoryData<string> Names(string file)
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases(file).Keys) data.Add(name);
        return data;
    }

    public static Tensor ToTensor(JsonElement e)
    {
        int[] shape = [.. e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32())];
        float[] data = [.. e.GetProperty("data").EnumerateArray().Select(ReadFloat)];
        return Tensor.FromArray(data, shape);
    }

    private static float ReadFloat(JsonElement v) => v.ValueKind == JsonValueKind.String
        ? v.GetString() switch { "inf" => float.PositiveInfinity, "-inf" => float.NegativeInfinity, _ => float.NaN }
        : v.GetSingle();

    /// <summary>Asserts allclose: |actual − expected| ≤ atol + rtol·|expected| + normwise·max|expected| element-wise,
    /// with matching shapes and NaN positions. <paramref name="normwise"/> (0 unless given) is for algorithms whose
    /// rounding is bounded by the tensor's largest value rather than each element's, such as Winograd's F(3×3, 3×3).</summary>
    public static void AssertClose(Tensor expected, Tensor actual, string what, float rtol = 1e-5f, float atol = 1e-6f, float normwise = 0f)
    {
        Assert.True(expected.Shape.SequenceEqual(actual.Shape),
            $"{what}: shape {Fmt(actual.Shape)} differs from PyTorch's {Fmt(expected.Shape)}");
        var e = expected.AsSpan();
        var a = actual.AsSpan();
        float largest = 0;
        if (normwise > 0)
            foreach (float v in e)
                if (float.IsFinite(v)) largest = MathF.Max(largest, MathF.Abs(v));
        for (int i = 0; i < e.Length; i++)
        {
            if (float.IsNaN(e[i]) && float.IsNaN(a[i])) continue;
            if (e[i] == a[i]) continue;
            float tol = atol + rtol * MathF.Abs(e[i]) + normwise * largest;
            Assert.True(MathF.Abs(a[i] - e[i]) <= tol, $"{what}[{i}]: Cortex {a[i]:R} vs PyTorch {e[i]:R} (tolerance {tol:G3})");
        }
    }

    /// <summary>Asserts that <paramref name="layer"/>(x) and its ComputeOutputShape match the case's "output".</summary>
    public static void AssertLayerForward(string name, Cortex.Layers.Layer layer, Tensor x, JsonElement c, float rtol, float atol, bool training = false)
    {
        var expected = ToTensor(c.GetProperty("output"));
        AssertClose(expected, layer.Call(x, training), $"{name} output", rtol, atol);
        Assert.Equal(expected.Shape, layer.ComputeOutputShape([-1, .. x.Shape[1..]])[1..].Prepend(x.Shape[0]));
    }

    /// <summary>Asserts that the tape's gradients of sum(layer(x) ⊙ U), U the case's "upstream", with respect to
    /// <paramref name="sources"/> match the case's "grads".</summary>
    public static void AssertLayerGradients(string name, Cortex.Layers.Layer layer, Tensor x, Tensor[] sources, JsonElement c,
        float rtol, float atol, bool training = false)
    {
        var expected = c.GetProperty("grads").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, sources.Length);
        var grads = LayerGradients(layer, x, sources, ToTensor(c.GetProperty("upstream")), training);
        for (int i = 0; i < sources.Length; i++)
        {
            Assert.True(grads[i] != null, $"{name}: no gradient for source {i}");
            AssertClose(ToTensor(expected[i]), grads[i]!, $"{name} d/d{(i == 0 ? "x" : "w" + i)}", rtol, atol);
        }
    }

    /// <summary>The gradients of sum(layer(x) ⊙ upstream) with respect to <paramref name="sources"/>, by the tape.</summary>
    public static Tensor?[] LayerGradients(Cortex.Layers.Layer layer, Tensor x, Tensor[] sources, Tensor upstream, bool training = false)
    {
        using var tape = new GradientTape();
        tape.Watch(x);
        return tape.Gradient(layer.Call(x, training), sources, upstream, UnconnectedGradients.None);
    }

    /// <summary>Checks <paramref name="grads"/> (of L = Σ layer(x) ⊙ U) against central finite differences of L in
    /// double, on ~25 coordinates of each source, each moved by ±<paramref name="step"/> (relative above 1).</summary>
    public static void AssertFiniteDifferences(string name, Cortex.Layers.Layer layer, Tensor x, Tensor[] sources, Tensor?[] grads,
        Tensor upstream, bool training = false, float step = 1e-3f)
    {
        double Loss()
        {
            var y = layer.Call(x, training).AsSpan();
            var u = upstream.AsSpan();
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += (double)y[i] * u[i];
            return s;
        }
        for (int i = 0; i < sources.Length; i++)
        {
            int n = sources[i].Size, stride = Math.Max(1, n / 25);
            for (int j = 0; j < n; j += stride)
            {
                Span<float> s = sources[i].Span;
                float orig = s[j], h = step * Math.Max(1f, MathF.Abs(orig));
                s[j] = orig + h;
                double plus = Loss();
                s[j] = orig - h;
                double minus = Loss();
                s[j] = orig;
                double fd = (plus - minus) / (2 * h), an = grads[i]!.AsSpan()[j];
                Assert.True(Math.Abs(fd - an) <= 2e-2 * Math.Max(1, Math.Abs(an)), $"{name} source {i}[{j}]: finite difference {fd:G6} vs tape {an:G6}");
            }
        }
    }

    private static string Fmt(int[] s) => "(" + string.Join(", ", s) + ")";
}
