using System.Reflection;
using System.Text.Json;
using Cortex.Layers;
using Xunit.Sdk;

namespace Cortex.Tests.Reference;

/// <summary>
/// The three checks every layer reference table gets, written once: forward values (and output shape), the tape's
/// gradients to the input and each weight, and central finite differences of those gradients (skipped for a case whose
/// generator marks <c>"fd": false</c>, e.g. at ReLU's kink). A table's test class says how to build a case
/// (<see cref="Setup"/>) and lists its cases in a static <c>Cases</c>.
/// </summary>
public abstract class LayerReferenceSuite
{
    /// <summary>Relative tolerance against PyTorch.</summary>
    protected virtual float Rtol => 1e-5f;
    /// <summary>Absolute floor, for sums that cancel to near zero.</summary>
    protected virtual float Atol => 1e-6f;

    /// <summary>The case's layer with PyTorch's weights, its input, and the tensors to differentiate with respect to.</summary>
    protected abstract (Layer Layer, Tensor X, Tensor[] Sources, JsonElement Case) Setup(string name);

    [Theory]
    [ReferenceCases]
    public void ForwardMatchesPyTorch(string name)
    {
        var (layer, x, _, c) = Setup(name);
        ReferenceData.AssertLayerForward(name, layer, x, c, Rtol, Atol);
    }

    [Theory]
    [ReferenceCases]
    public void GradientsMatchPyTorch(string name)
    {
        var (layer, x, sources, c) = Setup(name);
        ReferenceData.AssertLayerGradients(name, layer, x, sources, c, Rtol, Atol);
    }

    [Theory]
    [ReferenceCases]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var (layer, x, sources, c) = Setup(name);
        if (c.TryGetProperty("fd", out var fd) && !fd.GetBoolean()) return;
        Tensor upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        ReferenceData.AssertFiniteDifferences(name, layer, x, sources, ReferenceData.LayerGradients(layer, x, sources, upstream), upstream);
    }
}

/// <summary>The cases of the test class running the theory: its static <c>Cases</c> (a base class's theories read the
/// derived class's table, which <c>MemberData</c>, resolved on the declaring type, cannot).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ReferenceCasesAttribute : DataAttribute
{
    /// <inheritdoc/>
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) =>
        (IEnumerable<object[]>)(testMethod.ReflectedType!.GetProperty("Cases", BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
            ?? throw new InvalidOperationException($"{testMethod.ReflectedType!.Name} has no static Cases."));
}
