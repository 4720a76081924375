using System.Text.Json.Nodes;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;
using Cortex.Tests.Saving;

namespace Cortex.Tests.FunctionalApi;

/// <summary>A Functional model saves its layers and its graph (Keras's inbound nodes) and loads back to the same bits;
/// a damaged graph is refused with a message naming what is wrong.</summary>
public class FunctionalSavingTests
{
    // Two inputs, a shared layer, a residual Add, Concatenate, Dropout: every kind of edge the file has to hold.
    private static Functional Graph()
    {
        var a = new Input([4], "left");
        var b = new Input([4], "right");
        var shared = new Dense(5, "tanh", name: "shared");
        var ha = shared.Call(a);
        var hb = shared.Call(b);
        var h = new Concatenate(name: "both").Call(new Add(name: "sum").Call(ha, hb), new Dropout(0.2f, seed: 3, name: "drop").Call(ha));
        var g = new Dense(10, "relu", name: "inner").Call(h);
        return new Functional([a, b], [new Dense(3, name: "logits").Call(new Add(name: "residual").Call(g, h))], name: "two_towers");
    }

    private static Functional Chain()
    {
        var x = new Input([4], "features");
        var h = new Dense(6, "relu", name: "h").Call(x);
        var r = new Add(name: "skip").Call(new Dense(6, "relu", name: "g").Call(h), h);
        return new Functional(x, new Dense(3, name: "out").Call(r), name: "residual_mlp");
    }

    [Fact]
    public void ATrainedGraphLoadsBackToTheSameBitsAndKeepsTrainingTheSame()
    {
        CortexRandom.SetGlobalSeed(5);
        var model = Chain();
        var x = Tensor.RandomNormal([64, 4], seed: 1);
        var y = Tensor.Minimum(x.ArgMax(1).Reshape(64), 2f);
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        model.Fit(x, y, epochs: 2, batchSize: 16, verbose: 0);
        using var dir = new TempDir();
        string path = dir.File("graph.cortex");
        model.Save(path);
        var loaded = Assert.IsType<Functional>(Model.Load(path));
        Assert.Equal("residual_mlp", loaded.Name);
        Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
        Assert.Equal(model.SummaryString(), loaded.SummaryString());

        float[] More(Model m)
        {
            CortexRandom.SetGlobalSeed(9);
            m.Fit(x, y, epochs: 1, batchSize: 16, verbose: 0);
            return [.. m.GetWeights().SelectMany(w => w.ToArray())];
        }
        Assert.Equal(More(model), More(loaded));
    }

    [Fact]
    public void SharedLayersMergesAndSeveralInputsRoundTrip()
    {
        var model = Graph();
        using var dir = new TempDir();
        string path = dir.File("towers.cortex");
        model.Save(path);
        var loaded = Assert.IsType<Functional>(Model.Load(path));
        Assert.Equal(model.Layers.Select(l => l.Name), loaded.Layers.Select(l => l.Name));
        Assert.Equal(model.Nodes.Count, loaded.Nodes.Count);
        Assert.Equal(2, loaded.Inputs.Count);
        Assert.Equal(model.SummaryString(), loaded.SummaryString());
        Assert.Equal(model.GetWeights().SelectMany(w => w.ToArray()), loaded.GetWeights().SelectMany(w => w.ToArray()));
        var shared = loaded.Layers.Single(l => l.Name == "shared");
        Assert.Equal(2, loaded.Nodes.Count(n => n.Layer == shared));
    }

    [Fact]
    public void LayersListedInAnyOrderLoadToTheSameGraph()
    {
        // A deep graph whose file lists the layers last first: the loader orders the calls by what they read.
        var x = new Input([3], "deep_in");
        SymbolicTensor h = x;
        for (int i = 0; i < 300; i++) h = new Add(name: $"deep_{i}").Call(new Activation("tanh", name: $"act_{i}").Call(h), h);
        var model = new Functional(x, h);
        using var dir = new TempDir();
        string path = dir.File("deep.cortex");
        model.Save(path);
        var (json, floats) = ModelFileLoaderTests.Parse(File.ReadAllBytes(path));
        var layers = json["model"]!["config"]!["layers"]!.AsArray();
        var reversed = new JsonArray([.. layers.Reverse().Select(l => l!.DeepClone())]);
        json["model"]!["config"]!["layers"] = reversed;
        var loaded = Model.Load(dir.Write("reversed.cortex", ModelFileLoaderTests.Forge(json.ToJsonString(), floats)));
        var data = Tensor.RandomNormal([4, 3], seed: 1);
        Assert.Equal(model.Predict(data).ToArray(), loaded.Predict(data).ToArray());
        Assert.Equal(model.Layers.Select(l => l.Name), loaded.Layers.Select(l => l.Name));
    }

    // The saved file of Chain(), as JSON and floats, to forge damaged graphs from.
    private static (JsonObject Json, float[] Floats) Saved()
    {
        using var dir = new TempDir();
        string path = dir.File("m.cortex");
        Chain().Save(path);
        return ModelFileLoaderTests.Parse(File.ReadAllBytes(path));
    }

    public static TheoryData<string, string> Damage => new()
    {
        { "unknown-layer", "names the unknown layer 'nowhere'" },
        { "cycle", "the graph has a cycle" },
        { "node-out-of-range", "node index 4 is out of range; layer 'h' has 1 call(s)" },
        { "negative-node", "node index -1 is out of range" },
        { "tensor-index", "tensor index 1 is out of range; call 0 of layer 'h' has 1 output(s) (0 to 0)" },
        { "negative-tensor", "tensor index -1 is negative" },
        { "duplicate-name", "are both named 'h'" },
        { "input-with-inbound", "is an Input but has inbound nodes" },
        { "never-called", "expected at least one call of the layer" },
        { "bad-reference", "expected [layer name, node index, tensor index]" },
        { "unknown-output", "output_layers[0]: names the unknown layer 'ghost'" },
        { "output-as-input", "every input must be an Input's tensor" },
        { "wrong-shape", "layer 3 ('skip') call 0: Add 'skip': inputs have incompatible shapes. Received: [(None, 6), (None, 4)]" },
    };

    [Theory]
    [MemberData(nameof(Damage))]
    public void ADamagedGraphIsRefusedNamingWhatIsWrong(string damage, string expected)
    {
        var (json, floats) = Saved();
        var config = json["model"]!["config"]!;
        var layers = config["layers"]!.AsArray(); // features, h, g, skip, out
        JsonArray Ref(string name, int node = 0, int tensor = 0) => new(name, node, tensor);
        switch (damage)
        {
            case "unknown-layer": layers[2]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("nowhere"))); break;
            case "cycle": layers[1]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("skip"))); break;
            case "node-out-of-range": layers[2]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("h", 4))); break;
            case "negative-node": layers[2]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("h", -1))); break;
            case "tensor-index": layers[2]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("h", 0, 1))); break;
            case "negative-tensor": layers[2]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("h", 0, -1))); break;
            case "duplicate-name": layers[2]!["config"]!["name"] = "h"; break;
            case "input-with-inbound": layers[0]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("h"))); break;
            case "never-called": layers[2]!["inbound_nodes"] = new JsonArray(); break;
            case "bad-reference": layers[2]!["inbound_nodes"] = new JsonArray(new JsonArray(new JsonArray("h", 0))); break;
            case "unknown-output": config["output_layers"] = new JsonArray(Ref("ghost")); break;
            case "output-as-input": config["input_layers"] = new JsonArray(Ref("h")); break;
            case "wrong-shape": layers[3]!["inbound_nodes"] = new JsonArray(new JsonArray(Ref("g"), Ref("features"))); break;
        }
        using var dir = new TempDir();
        string path = dir.Write("forged.cortex", ModelFileLoaderTests.Forge(json.ToJsonString(), floats));
        var e = Assert.Throws<InvalidDataException>(() => Model.Load(path));
        Assert.Contains(path, e.Message);
        Assert.True(e.Message.Contains(expected), e.Message);
    }
}
