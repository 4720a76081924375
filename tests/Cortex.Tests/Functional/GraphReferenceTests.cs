using System.Text.Json;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.FunctionalApi;

/// <summary>
/// A whole graph against PyTorch (tests/reference/make_graph_reference.py → graph.json): one Dense shared by two inputs,
/// their Add, a residual block (Dense + Add) and a head, from the same weights: the loss, the gradient of every weight
/// and of both inputs within 1e-5 relative, and the weights after one step of Fit.
/// </summary>
public class GraphReferenceTests
{
    private const string File = "graph.json";
    private const float Rtol = 1e-5f, Atol = 1e-6f;

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    /// <summary>The graph of the generator, with its weights, and the case's inputs, labels and loss.</summary>
    private static (Functional Model, Dictionary<string, Dense> Layers, Tensor A, Tensor B, Tensor Y, Loss Loss, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        Tensor a = ReferenceData.ToTensor(c.GetProperty("a")), b = ReferenceData.ToTensor(c.GetProperty("b")), y = ReferenceData.ToTensor(c.GetProperty("y"));
        var inA = new Input([a.Shape[1]], name: "a");
        var inB = new Input([b.Shape[1]], name: "b");
        var shared = new Dense(6, "relu", name: "shared");
        var block = new Dense(6, "tanh", name: "block");
        var head = new Dense(c.GetProperty("classes").GetInt32(), name: "head");
        var s = new Add().Call(shared.Call(inA), shared.Call(inB));     // one layer, two inputs
        var t = new Add().Call(block.Call(s), s);                         // the residual connection
        var model = new Functional([inA, inB], [head.Call(t)], name: "graph_reference");
        var layers = new Dictionary<string, Dense> { ["shared"] = shared, ["block"] = block, ["head"] = head };
        foreach (var (layerName, dense) in layers)
        {
            var w = c.GetProperty("layers").GetProperty(layerName);
            dense.Kernel!.Assign(ReferenceData.ToTensor(w.GetProperty("kernel")));
            dense.Bias!.Assign(ReferenceData.ToTensor(w.GetProperty("bias")));
        }
        Loss loss = c.GetProperty("loss_name").GetString() switch
        {
            "sparse_categorical_crossentropy" => new SparseCategoricalCrossentropy(fromLogits: true),
            "mean_squared_error" => new MeanSquaredError(),
            var other => throw new InvalidDataException($"{name}: unknown loss {other}"),
        };
        return (model, layers, a, b, y, loss, c);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientsOfEveryWeightAndInputMatchPyTorch(string name)
    {
        var (model, layers, a, b, y, loss, c) = Setup(name);
        Tensor value;
        Tensor?[] grads;
        Tensor[] sources = [.. layers.Values.SelectMany(d => new Tensor[] { d.Kernel!, d.Bias! }), a, b];
        using (var tape = new GradientTape())
        {
            tape.Watch(a);
            tape.Watch(b);
            value = loss.Call(y, model.Call([a, b], training: true)[0]);
            grads = tape.Gradient(value, sources, null, UnconnectedGradients.None);
        }
        float expected = c.GetProperty("loss").GetSingle();
        Assert.True(MathF.Abs(value.Item() - expected) <= Rtol * MathF.Abs(expected), $"{name} loss: Cortex {value.Item():R} vs PyTorch {expected:R}");
        int k = 0;
        foreach (var (layerName, _) in layers)
        {
            var w = c.GetProperty("layers").GetProperty(layerName);
            ReferenceData.AssertClose(ReferenceData.ToTensor(w.GetProperty("grad_kernel")), grads[k++]!, $"{name} d/d{layerName}.kernel", Rtol, Atol);
            ReferenceData.AssertClose(ReferenceData.ToTensor(w.GetProperty("grad_bias")), grads[k++]!, $"{name} d/d{layerName}.bias", Rtol, Atol);
        }
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("grad_a")), grads[k++]!, $"{name} d/da", Rtol, Atol);
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("grad_b")), grads[k]!, $"{name} d/db", Rtol, Atol);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OneStepOfFitMovesEveryWeightAsPyTorchsSgd(string name)
    {
        var (model, layers, a, b, y, loss, c) = Setup(name);
        float expected = c.GetProperty("loss").GetSingle();
        model.Compile(new SGD(0.1f), loss);
        Assert.Equal(expected, model.Evaluate([a, b], [y])["loss"], Rtol * MathF.Abs(expected));
        var history = model.Fit([a, b], [y], epochs: 1, batchSize: a.Shape[0], shuffle: false, verbose: 0);
        Assert.Equal(expected, history["loss"][0], Rtol * MathF.Abs(expected));
        foreach (var (layerName, dense) in layers)
        {
            var w = c.GetProperty("layers").GetProperty(layerName);
            ReferenceData.AssertClose(ReferenceData.ToTensor(w.GetProperty("kernel_after_sgd")), dense.Kernel!, $"{name} {layerName}.kernel after SGD", Rtol, Atol);
            ReferenceData.AssertClose(ReferenceData.ToTensor(w.GetProperty("bias_after_sgd")), dense.Bias!, $"{name} {layerName}.bias after SGD", Rtol, Atol);
        }
    }
}
