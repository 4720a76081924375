using System.Text.Json;
using Cortex.Tests.Reference;

namespace Cortex.Tests;

/// <summary>Every op's forward value and gradients against PyTorch, plus a central finite-difference check.</summary>
public class OpReferenceTests
{
    public static TheoryData<string> Cases => ReferenceData.Names("ops.json");

    private static (Tensor[] Inputs, JsonElement Case) Load(string name)
    {
        var c = ReferenceData.Cases("ops.json")[name];
        Tensor[] inputs = [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)];
        return (inputs, c);
    }

    private static float Rtol(string name) => name.Contains("large") ? 1e-4f : 1e-5f;

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesPyTorch(string name)
    {
        var (x, c) = Load(name);
        Tensor y = OpTable.Run(c.GetProperty("op").GetString()!, x, c.GetProperty("args"));
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("output")), y, $"{name} output", Rtol(name));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchPyTorch(string name)
    {
        var (x, c) = Load(name);
        string op = c.GetProperty("op").GetString()!;
        if (OpTable.NonDifferentiable.Contains(op)) return; // masks and indices carry no gradient (checked in ForwardMatchesPyTorch)
        Tensor upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        var expected = c.GetProperty("grads").EnumerateArray().ToArray();
        Tensor?[] grads;
        using (var tape = new GradientTape())
        {
            tape.Watch(x);
            Tensor y = OpTable.Run(op, x, c.GetProperty("args"));
            grads = tape.Gradient(y, x, upstream, UnconnectedGradients.None);
        }
        for (int i = 0; i < x.Length; i++)
        {
            if (expected[i].ValueKind == JsonValueKind.Null) continue;
            Assert.True(grads[i] != null, $"{name}: no gradient for input {i}");
            ReferenceData.AssertClose(ReferenceData.ToTensor(expected[i]), grads[i]!, $"{name} d/dx{i}", Rtol(name), atol: 1e-5f);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var (x, c) = Load(name);
        string op = c.GetProperty("op").GetString()!;
        if (OpTable.NonDifferentiable.Contains(op) || !c.GetProperty("fd").GetBoolean()) return; // kinks and ties have no derivative to check
        var args = c.GetProperty("args");
        Tensor upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        var expected = c.GetProperty("grads").EnumerateArray().ToArray();
        Tensor?[] grads;
        using (var tape = new GradientTape())
        {
            tape.Watch(x);
            grads = tape.Gradient(OpTable.Run(op, x, args), x, upstream, UnconnectedGradients.None);
        }
        // L(x) = Σ op(x) ⊙ U, evaluated in double from the float outputs.
        double Loss()
        {
            var y = OpTable.Run(op, x, args).AsSpan();
            var u = upstream.AsSpan();
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += (double)y[i] * u[i];
            return s;
        }
        const float eps = 1e-3f;
        for (int i = 0; i < x.Length; i++)
        {
            if (expected[i].ValueKind == JsonValueKind.Null) continue;
            int n = x[i].Size;
            int step = Math.Max(1, n / 40); // sample at most ~40 coordinates per input
            for (int j = 0; j < n; j += step)
            {
                float orig = x[i].AsSpan()[j];
                float h = eps * Math.Max(1f, MathF.Abs(orig));
                x[i].Span[j] = orig + h;
                double plus = Loss();
                x[i].Span[j] = orig - h;
                double minus = Loss();
                x[i].Span[j] = orig;
                double fd = (plus - minus) / (2 * h);
                double an = grads[i]!.AsSpan()[j];
                double tol = 2e-2 * Math.Max(1, Math.Abs(an)) + 1e-3 * Math.Abs(plus) / h * 1e-4;
                Assert.True(Math.Abs(fd - an) <= tol, $"{name} d/dx{i}[{j}]: finite difference {fd:G6} vs tape {an:G6}");
            }
        }
    }
}
