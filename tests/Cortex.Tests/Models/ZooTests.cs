using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cortex.Layers;
using Cortex.Models;

namespace Cortex.Tests.Models;

/// <summary>
/// The shared model definitions: their parameter counts are Keras's, and tests/reference/models.json — which
/// bench/'s PyTorch scripts build their networks from — describes exactly them.
/// </summary>
public class ZooTests
{
    /// <summary>The config keys that make up a layer's description in models.json: what a PyTorch (or any other)
    /// builder needs to make the same network. Initializers appear as their class names.</summary>
    private static readonly string[] DescribedKeys =
    [
        "shape", "target_shape", "units", "filters", "kernel_size", "pool_size", "strides", "padding", "dilation_rate",
        "activation", "use_bias", "kernel_initializer", "bias_initializer", "rate", "axis", "momentum", "epsilon",
        "center", "scale", "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
        "recurrent_activation", "recurrent_initializer", "unit_forget_bias", "return_sequences", "go_backwards", "reset_after",
    ];

    [Theory]
    [InlineData("digits_mlp", 20_175, 20_175)]
    [InlineData("mlp_784_128_10", 101_770, 101_770)]
    [InlineData("mlp_784_512_512_10", 669_706, 669_706)]
    [InlineData("fashion_cnn", 34_826, 34_826)]
    [InlineData("fashion_cnn_no_dropout", 34_826, 34_826)]
    [InlineData("fashion_cnn_bn", 35_210, 35_018)] // each BatchNormalization's moving mean and variance are not trainable
    [InlineData("fashion_lstm", 81_674, 81_674)]   // 4·128·(28 + 128 + 1) + 1290
    [InlineData("fashion_gru", 61_962, 61_962)]    // 3·128·(28 + 128 + 2) + 1290 (resetAfter: two biases)
    [InlineData("fashion_resnet", 53_322, 53_322)]
    public void ParameterCountsMatchKeras(string name, int total, int trainable)
    {
        string summary = Zoo.Create(name).SummaryString();
        Assert.Contains($"Total params: {total.ToString("N0", CultureInfo.InvariantCulture)} ", summary);
        Assert.Contains($"Trainable params: {trainable.ToString("N0", CultureInfo.InvariantCulture)} ", summary);
    }

    /// <summary>
    /// models.json is the Zoo written out; a change to a Zoo model fails here until the file is rewritten, so the
    /// PyTorch side cannot train a different network. To rewrite it: <c>CORTEX_WRITE_MODELS_JSON=1 dotnet test
    /// --filter ModelsJsonDescribesTheZoo</c>, then commit tests/reference/models.json.
    /// </summary>
    [Fact]
    public void ModelsJsonDescribesTheZoo()
    {
        var actual = new JsonObject();
        foreach (string name in Zoo.Names) actual[name] = Describe(Zoo.Create(name));
        bool write = Environment.GetEnvironmentVariable("CORTEX_WRITE_MODELS_JSON") == "1";
        if (write) File.WriteAllText(SourcePath(), Format(actual));
        string path = write ? SourcePath() : Path.Combine(AppContext.BaseDirectory, "reference", "models.json");
        var expected = JsonNode.Parse(File.ReadAllText(path))!["models"]!.AsObject();
        Assert.Equal(Zoo.Names, expected.Select(p => p.Key));
        foreach (string name in Zoo.Names)
            Assert.True(JsonNode.DeepEquals(expected[name], actual[name]),
                $"models.json's '{name}' differs from Zoo's; rewrite it (see this test's summary).\nfile: {expected[name]!.ToJsonString()}\nZoo:  {actual[name]!.ToJsonString()}");
    }

    /// <summary>
    /// bench/zoo.py's PyTorch twin of a Zoo graph computes what Cortex does: tests/reference/make_zoo_twin_reference.py
    /// builds the twin from models.json, sets formula weights in Cortex's layouts through its <c>load_keras</c>, and
    /// writes its logits; here Cortex computes the same from the same formula (see the generator for it).
    /// </summary>
    [Fact]
    public void TheTorchTwinOfTheResidualGraphComputesWhatCortexDoes()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "reference", "zoo_twin.json")))!;
        foreach (var entry in file["cases"]!.AsArray())
        {
            var model = Zoo.Create((string)entry!["model"]!);
            int images = (int)entry["images"]!;
            int[] sample = [.. model.InputShape!.Skip(1)];
            model.Build([-1, .. sample]);
            model.SetWeights([.. model.Variables.Select((v, k) => Tensor.FromArray(Formula(v.Size, j => FormulaWeight(j, k)), v.Shape))]);
            var x = Tensor.FromArray(Formula(images * sample.Aggregate(1, (a, b) => a * b), j => 0.5 + 0.5 * Math.Sin(0.11 * j + 0.2)), [images, .. sample]);
            float[] expected = [.. entry["output"]!["data"]!.AsArray().Select(v => (float)v!)];
            float[] actual = model.Predict(x).ToArray();
            Assert.Equal(expected.Length, actual.Length);
            float scale = expected.Max(MathF.Abs);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-5f * scale + 1e-6f, $"{entry["model"]} logit {i}: torch {expected[i]}, Cortex {actual[i]}");
        }
    }

    /// <summary>The generator's weights: 0.2·frac(1000·sin(0.731·j + 1.3·k)) − 0.1 for element j of variable k.</summary>
    private static double FormulaWeight(int j, int k)
    {
        double s = 1000.0 * Math.Sin(0.731 * j + 1.3 * k);
        return 0.2 * (s - Math.Floor(s)) - 0.1;
    }

    private static float[] Formula(int count, Func<int, double> value) => [.. Enumerable.Range(0, count).Select(j => (float)value(j))];

    [Fact]
    public void FlatInputCnnComputesWhatTheImageOneDoes()
    {
        var images = Tensor.RandomNormal([3, 28, 28, 1], seed: 4);
        CortexRandom.SetGlobalSeed(9);
        var image = Zoo.FashionCnn();
        CortexRandom.SetGlobalSeed(9);
        var flat = Zoo.FashionCnn(flatInput: true);
        Assert.Equal(image.Predict(images).ToArray(), flat.Predict(images.Reshape(3, 784)).ToArray());
    }

    [Fact]
    public void MlpPutsThePreprocessingLayerBeforeTheFirstDense()
    {
        var norm = new Normalization();
        var model = Zoo.Mlp(2, [4], 3, activation: "tanh", preprocessing: norm);
        Assert.Equal([typeof(Input), typeof(Normalization), typeof(Dense), typeof(Dense)], model.Layers.Select(l => l.GetType()));
        Assert.Same(norm, model.Layers[1]);
        Assert.Equal(["tanh", "linear"], model.Layers.OfType<Dense>().Select(d => d.Activation.Name));
    }

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Zoo.Create("resnet50"));
        Assert.Contains("'resnet50'", e.Message);
        Assert.Contains("digits_mlp, mlp_784_128_10", e.Message);
    }

    /// <summary>A model as models.json holds it: each layer's class and <see cref="DescribedKeys"/> from its config; for a
    /// graph, as Keras's functional config, each layer's calls ("inbound_nodes": per call, the [layer, node, tensor] it
    /// reads) and the model's "inputs" and "outputs", layers named by their position.</summary>
    private static JsonObject Describe(Model model)
    {
        var layers = new JsonArray();
        foreach (var layer in model.Layers)
        {
            var config = layer.GetConfig();
            var described = new JsonObject { ["class_name"] = layer.GetType().Name };
            foreach (string key in DescribedKeys)
                if (config.TryGetValue(key, out var v) && v != null)
                    described[key] = v switch
                    {
                        Dictionary<string, object?> initializer => JsonValue.Create((string)initializer["class_name"]!),
                        float f => JsonValue.Create(double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)),
                        _ => JsonSerializer.SerializeToNode(v),
                    };
            if (model is Functional graph && layer is not Input)
                described["inbound_nodes"] = new JsonArray([.. graph.NodesOf(layer).Select(node => new JsonArray([.. node.Inputs.Select(t => TensorRef(graph, t))]))]);
            layers.Add(described);
        }
        var description = new JsonObject
        {
            ["params"] = model.Variables.Sum(v => v.Size),
            ["trainable_params"] = model.TrainableVariables.Sum(v => v.Size),
        };
        if (model is Functional g)
        {
            description["inputs"] = new JsonArray([.. g.Inputs.Select(t => TensorRef(g, t))]);
            description["outputs"] = new JsonArray([.. g.Outputs.Select(t => TensorRef(g, t))]);
        }
        description["layers"] = layers;
        return description;
    }

    /// <summary>A graph's tensor as Keras's functional config names it, [layer, node, tensor], with the layer given by
    /// its position in "layers" rather than its name (auto-generated names depend on what was created before).</summary>
    private static JsonNode TensorRef(Functional graph, SymbolicTensor t)
    {
        var (layer, node, tensor) = graph.History(t);
        int index = graph.Layers.Select((l, i) => (l, i)).First(p => p.l.Name == layer).i;
        return new JsonArray(index, node, tensor);
    }

    /// <summary>The file's text: one line per layer, so that a change shows as a one-line diff.</summary>
    private static string Format(JsonObject models)
    {
        var text = new System.Text.StringBuilder();
        text.Append("{\n  \"comment\": \"Written from Cortex.Models.Zoo by ZooTests.ModelsJsonDescribesTheZoo (CORTEX_WRITE_MODELS_JSON=1); bench/zoo.py builds the PyTorch networks from it.\",\n  \"models\": {");
        string modelSeparator = "\n";
        foreach (var (name, model) in models)
        {
            text.Append($"{modelSeparator}    \"{name}\": {{\"params\": {model!["params"]}, \"trainable_params\": {model["trainable_params"]}, ");
            if (model["inputs"] is { } inputs) text.Append($"\"inputs\": {inputs.ToJsonString()}, \"outputs\": {model["outputs"]!.ToJsonString()}, ");
            text.Append("\"layers\": [");
            text.AppendJoin(",", model["layers"]!.AsArray().Select(l => "\n      " + l!.ToJsonString()));
            text.Append("\n    ]}");
            modelSeparator = ",\n";
        }
        return text.Append("\n  }\n}\n").ToString();
    }

    private static string SourcePath([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "reference", "models.json"));
}
