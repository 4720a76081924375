using System.Text.Json;
using Cortex.Layers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Sequence;

/// <summary>
/// The sequence layers against PyTorch (tests/reference/make_sequence_reference.py → sequence.json): forward values,
/// gradients to the input (unless it is indices) and to every weight, and a central finite-difference check of each
/// weight's gradient.
/// </summary>
public class SequenceReferenceTests
{
    private const string File = "sequence.json";
    private const float Rtol = 1e-4f, Atol = 1e-5f;

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    /// <summary>The case's layer with PyTorch's weights, its input, and the tensors to differentiate with respect to
    /// (the input unless it is indices, then the layer's weights in the generator's order).</summary>
    private static (Layer Layer, Tensor X, Tensor[] Sources, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var a = c.GetProperty("args");
        Tensor[] inputs = [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)];
        Tensor x = inputs[0];
        bool xGrad = !c.TryGetProperty("x_grad", out var g) || g.GetBoolean();
        Layer layer = c.GetProperty("layer").GetString() switch
        {
            "embedding" => new Embedding(a.GetProperty("input_dim").GetInt32(), a.GetProperty("output_dim").GetInt32()),
            "simple_rnn" => new SimpleRNN(Int("units"), Str("activation"), Bool("use_bias"), returnSequences: Bool("return_sequences"), goBackwards: Bool("go_backwards")),
            "lstm" => new LSTM(Int("units"), Str("activation"), Str("recurrent_activation"), Bool("use_bias"), returnSequences: Bool("return_sequences"),
                goBackwards: Bool("go_backwards")),
            "gru" => new GRU(Int("units"), Str("activation"), Str("recurrent_activation"), Bool("use_bias"), returnSequences: Bool("return_sequences"),
                goBackwards: Bool("go_backwards"), resetAfter: Bool("reset_after")),
            var other => throw new InvalidDataException($"{name}: unknown layer {other}"),
        };
        layer.EnsureBuilt(x.Shape);
        int Int(string key) => a.GetProperty(key).GetInt32();
        bool Bool(string key) => a.GetProperty(key).GetBoolean();
        string Str(string key) => a.GetProperty(key).GetString()!;
        layer.SetWeights(inputs[1..]);
        return (layer, x, [.. xGrad ? [x] : Array.Empty<Tensor>(), .. layer.TrainableWeights], c);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesPyTorch(string name)
    {
        var (layer, x, _, c) = Setup(name);
        var expected = ReferenceData.ToTensor(c.GetProperty("output"));
        ReferenceData.AssertClose(expected, layer.Call(x), $"{name} output", Rtol, Atol);
        Assert.Equal(expected.Shape, layer.ComputeOutputShape([-1, .. x.Shape[1..]])[1..].Prepend(x.Shape[0]));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchPyTorch(string name)
    {
        var (layer, x, sources, c) = Setup(name);
        var expected = c.GetProperty("grads").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, sources.Length);
        var grads = Gradients(layer, x, sources, ReferenceData.ToTensor(c.GetProperty("upstream")));
        for (int i = 0; i < sources.Length; i++)
        {
            Assert.True(grads[i] != null, $"{name}: no gradient for source {i}");
            ReferenceData.AssertClose(ReferenceData.ToTensor(expected[i]), grads[i]!, $"{name} gradient {i}", Rtol, Atol);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var (layer, x, sources, c) = Setup(name);
        if (!c.GetProperty("fd").GetBoolean()) return;
        Tensor upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        var grads = Gradients(layer, x, sources, upstream);
        double Loss()
        {
            var y = layer.Call(x).AsSpan();
            var u = upstream.AsSpan();
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += (double)y[i] * u[i];
            return s;
        }
        for (int i = 0; i < sources.Length; i++)
        {
            int n = sources[i].Size, step = Math.Max(1, n / 25);
            for (int j = 0; j < n; j += step)
            {
                Span<float> s = sources[i].Span;
                float orig = s[j], h = 1e-3f * Math.Max(1f, MathF.Abs(orig));
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

    private static Tensor?[] Gradients(Layer layer, Tensor x, Tensor[] sources, Tensor upstream)
    {
        using var tape = new GradientTape();
        tape.Watch(x);
        return tape.Gradient(layer.Call(x), sources, upstream, UnconnectedGradients.None);
    }
}
