using System.Text.Json;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Onnx.Tests;

/// <summary>
/// Models exported by PyTorch (tests/reference/make_onnx_reference.py) import to Cortex models whose Predict equals
/// PyTorch's output within 1e-5 relative and that keep training; Cortex's own exports import back to the same bits.
/// </summary>
public class ImportTests
{
    private static readonly Dictionary<string, JsonElement> Cases = TorchFixtures.Cases("onnx_import.json");

    private static Tensor ToTensor(JsonElement e) => TorchFixtures.ToTensor(e);

    public static TheoryData<string> PyTorchModels => [.. Cases.Keys];

    private static string PathOf(string name) => TorchFixtures.PathOf(name);

    [Theory]
    [MemberData(nameof(PyTorchModels))]
    public void PyTorchExportsPredictWhatPyTorchComputed(string name)
    {
        var model = OnnxImporter.Load(PathOf(name));
        var c = Cases[name];
        var expected = ToTensor(c.GetProperty("output")).ToArray();
        var actual = model.Predict(ToTensor(c.GetProperty("input"))).ToArray();
        ExportTests.AssertClose(expected, actual, name);
    }

    [Theory]
    [MemberData(nameof(PyTorchModels))]
    public void AnImportedModelKeepsTraining(string name)
    {
        var model = OnnxImporter.Load(PathOf(name));
        var x = ToTensor(Cases[name].GetProperty("input"));
        int classes = model.OutputShape()[^1];
        var y = Tensor.FromArray([.. Enumerable.Range(0, x.Shape[0]).Select(i => (float)(i % classes))]);
        bool probabilities = model.Layers[^1] is Dense { Activation.Name: "softmax" } || model.Layers[^1] is Activation;
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: !probabilities));
        float before = model.Evaluate(x, y)["loss"];
        model.Fit(x, y, epochs: 5, batchSize: 5, verbose: 0);
        float after = model.Evaluate(x, y)["loss"];
        Assert.True(after < before, $"{name}: loss {before} → {after} after 5 steps");
    }

    [Fact]
    public void APyTorchCnnTakesNchwImagesAndFlattensInPyTorchsOrder()
    {
        var model = OnnxImporter.Load(PathOf("cnn"));
        Assert.Equal([-1, 1, 28, 28], model.InputShape!);
        Assert.IsType<Permute>(model.Layers[1]);
        Assert.Equal([2, 3, 1], ((Permute)model.Layers[1]).Dims);
        var flatten = model.Layers.ToList().FindIndex(l => l is Flatten);
        Assert.Equal([3, 1, 2], Assert.IsType<Permute>(model.Layers[flatten - 1]).Dims);
        Assert.Equal("relu", Assert.IsType<Conv2D>(model.Layers[2]).Activation.Name); // Conv + Relu folded
        Assert.Contains("Total params: 34,826", model.SummaryString());
    }

    public static TheoryData<string> CortexModels => ["digits_mlp", "fashion_cnn", "fashion_cnn_bn", "coffee", "activations", "activations_keras", "relu_layers", "channels_first", "channels_first_1d", "channels_first_variants", "softmax_axes", "normalization_axes", "normalization_inverted_all", "conv_same_strided_dilated",
        "conv_softmax_channels", "pool_same", "gap", "gap_keepdims", "reshape_conv", "embedding", "no_bias", "permute",
        "simple_rnn", "simple_rnn_relu_sequences_backwards", "lstm", "lstm_sequences_backwards", "lstm_hard_gates", "gru", "gru_reset_before_sequences", "gru_backwards_no_bias",
        "bidirectional_lstm", "bidirectional_gru_sum_sequences", "bidirectional_rnn_mul", "bidirectional_lstm_ave_sequences",
        "conv1d_pools", "conv1d_causal_gap", "conv1d_same_global_max_keepdims", "time_distributed_permute", "masking",
        "image_shapes", "image_shapes_channels_last", "layer_norm", "layer_norm_image", "noise_layers",
        "grouped_depthwise", "conv_variants", "conv_transpose_valid"];

    [Theory]
    [MemberData(nameof(CortexModels))]
    public void CortexToOnnxToCortexPredictsTheSameBits(string name)
    {
        var (model, sample) = ExportTests.Build(name);
        ExportTests.Randomize(model, 13);
        var back = OnnxImporter.Load(OnnxExporter.ToBytes(model), name);
        var x = name == "embedding"
            ? Tensor.FromArray([.. Enumerable.Range(0, 32).Select(i => (float)((i * 3) % 10))], [8, 4])
            : Tensor.RandomUniform([8, .. sample], seed: 2);
        Assert.Equal(model.Predict(x).ToArray(), back.Predict(x).ToArray());
        Assert.Equal(model.Variables.Sum(v => v.Size), back.Variables.Sum(v => v.Size));
    }

    [Fact]
    public void AnUnsupportedOpIsRefusedNamingTheNodeAndOpset()
    {
        var proto = OnnxExporter.ToProto(ExportTests.Build("digits_mlp").Model, 17);
        proto.Graph.Node[1].OpType = "Erf";
        var e = Assert.Throws<NotSupportedException>(() => OnnxImporter.Load(Google.Protobuf.MessageExtensions.ToByteArray(proto), "bad.onnx"));
        Assert.Matches(@"ONNX import \(bad\.onnx\): node '.*' \(Erf, opset 17\) has no Cortex layer\.", e.Message);
    }

    [Fact]
    public void PyTorchsLastStepBecomesAnLstmThatReturnsItsLastState()
    {
        var model = OnnxImporter.Load(PathOf("lstm_last"));
        Assert.Equal([-1, 6, 3], model.InputShape!);
        var lstm = Assert.IsType<LSTM>(model.Layers[1]);
        Assert.False(lstm.ReturnSequences);
        Assert.Equal(5, lstm.Units);
        Assert.IsType<Dense>(model.Layers[2]);
    }

    [Fact]
    public void ARecurrentOpCortexCannotRunIsRefusedNamingTheNode()
    {
        var proto = OnnxExporter.ToProto(ExportTests.Build("lstm").Model, 17);
        var lstm = proto.Graph.Node.Single(n => n.OpType == "LSTM");
        lstm.Attribute.Add(new Proto.AttributeProto { Name = "clip", Type = Proto.AttributeProto.Types.AttributeType.Float, F = 3 });
        var e = Assert.Throws<NotSupportedException>(() => OnnxImporter.Load(Google.Protobuf.MessageExtensions.ToByteArray(proto), "clip.onnx"));
        Assert.Equal($"ONNX import (clip.onnx): node '{lstm.Name}' (LSTM, opset 17) has clip, activation_alpha/beta or input_forget, which Keras's layers do not.", e.Message);
    }

    [Fact]
    public void MaskingImportsAsMaskingAndAMaskedRecurrentOpIsRefused()
    {
        var back = OnnxImporter.Load(OnnxExporter.ToBytes(ExportTests.Build("masking").Model), "masking.onnx");
        Assert.Equal(0.25f, Assert.IsType<Masking>(back.Layers[1]).MaskValue);
        // ONNX's LSTM after a Masking sees every step; Cortex's LSTM would skip the masked ones.
        var proto = OnnxExporter.ToProto(new Sequential(new Input([7, 3]), new Masking(), new Dense(4)), 17);
        var lstm = OnnxExporter.ToProto(ExportTests.Build("lstm").Model, 17);
        var e = Record.Exception(() => OnnxImporter.Load(Google.Protobuf.MessageExtensions.ToByteArray(Spliced(proto, lstm)), "masked.onnx"));
        Assert.Contains("(LSTM, opset 17) reads a sequence after a Masking", Assert.IsType<NotSupportedException>(e).Message);
    }

    /// <summary>The graph of <paramref name="a"/> (its output node dropped) followed by <paramref name="b"/>'s nodes from its input.</summary>
    private static Proto.ModelProto Spliced(Proto.ModelProto a, Proto.ModelProto b)
    {
        var g = a.Graph;
        string tail = g.Node[^1].Input[0];
        g.Node.RemoveAt(g.Node.Count - 1);
        g.Output.Clear();
        string Rename(string v) => v == "input" ? tail : v is "output" or "" ? v : $"b/{v}";
        foreach (var n in b.Graph.Node)
        {
            for (int i = 0; i < n.Input.Count; i++) n.Input[i] = Rename(n.Input[i]);
            for (int i = 0; i < n.Output.Count; i++) n.Output[i] = Rename(n.Output[i]);
            g.Node.Add(n);
        }
        foreach (var t in b.Graph.Initializer) t.Name = Rename(t.Name);
        g.Initializer.AddRange(b.Graph.Initializer);
        g.Output.AddRange(b.Graph.Output);
        return a;
    }

    /// <summary>Two inputs (an image, a vector), a shared Sequential block, five merges and two outputs.</summary>
    internal static (Functional Model, Sequential Encoder) TwoHeads()
    {
        CortexRandom.SetGlobalSeed(6);
        var pixels = new Input([6, 6, 1], name: "pixels");
        var extra = new Input([5], name: "extra");
        var encoder = new Sequential(new Dense(4, "relu"), new Dense(4));
        SymbolicTensor img = new Flatten().Call(new MaxPooling2D(2).Call(new Conv2D(2, 3, activation: "relu").Call(pixels)));
        SymbolicTensor a = encoder.Call(new Dense(5).Call(img)), b = encoder.Call(extra);
        SymbolicTensor merged = new Concatenate().Call(new Add().Call(a, b), new Subtract().Call(a, b), new Multiply().Call(a, b),
            new Maximum().Call(a, b), new Minimum().Call(a, b, a), new Average().Call(a, b, a));
        var model = new Functional([pixels, extra], [new Dense(3, "softmax", name: "scores").Call(merged), new Dense(2, name: "aux").Call(a)], name: "two_heads");
        ExportTests.Randomize(model, 5);
        return (model, encoder);
    }

    [Fact]
    public void ReluLayersImportBackWithTheirArguments()
    {
        var back = OnnxImporter.Load(OnnxExporter.ToBytes(ExportTests.Build("relu_layers").Model), "relu.onnx");
        var relus = back.Layers.OfType<ReLU>().Select(r => (r.MaxValue, r.NegativeSlope, r.Threshold)).ToList();
        Assert.Equal([(null, 0.3f, 0.1f), (0.5f, 0f, 0f), (0.4f, 0.1f, 0.05f)], relus);   // Where and Clip(0, max) forms
        Assert.Equal(["relu", "leaky_relu", "relu6"], back.Layers.OfType<Dense>().Select(d => d.Activation.Name).Where(n => n != "linear"));
    }

    [Fact]
    public void DotImportsBackAsDot()
    {
        CortexRandom.SetGlobalSeed(6);
        var left = new Input([4], name: "left");
        var right = new Input([4], name: "right");
        SymbolicTensor a = new Dense(3, "tanh").Call(left), b = new Dense(3).Call(right);
        var model = new Functional([left, right], [new Dense(2).Call(new Concatenate().Call(new Dot([1, 1]).Call(a, b), new Multiply().Call(a, b)))]);
        ExportTests.Randomize(model, 3);
        var back = Assert.IsType<Functional>(OnnxImporter.LoadModel(OnnxExporter.ToBytes(model), "dot.onnx"));
        Assert.Single(back.Nodes, n => n.Layer is Dot { Axes: [1, 1] });
        Assert.Single(back.Nodes, n => n.Layer is Multiply);   // a Mul that nothing sums stays a Multiply
        var x = new[] { Tensor.RandomUniform([6, 4], seed: 1), Tensor.RandomUniform([6, 4], seed: 2) };
        Assert.Equal(model.Predict(x)[0].ToArray(), back.Predict(x)[0].ToArray());
    }

    [Fact]
    public void AFunctionalGraphImportsBackToAFunctionalThatPredictsTheSameBits()
    {
        var (model, encoder) = TwoHeads();
        var back = Assert.IsType<Functional>(OnnxImporter.LoadModel(OnnxExporter.ToBytes(model), "graph.onnx"));
        var x = new[] { Tensor.RandomUniform([7, 6, 6, 1], seed: 1), Tensor.RandomUniform([7, 5], seed: 2) };
        var expected = model.Predict(x);
        var actual = back.Predict(x);
        for (int k = 0; k < 2; k++) Assert.Equal(expected[k].ToArray(), actual[k].ToArray());
        // ONNX holds the shared encoder's weights once per call: it comes back as two encoders with equal weights.
        Assert.Equal(model.Variables.Sum(v => v.Size) + encoder.Variables.Sum(v => v.Size), back.Variables.Sum(v => v.Size));
        Assert.IsType<Sequential>(OnnxImporter.LoadModel(OnnxExporter.ToBytes(ExportTests.Build("lstm").Model)));
        Assert.IsType<Sequential>(OnnxImporter.LoadModel(PathOf("activations")));          // silu's x · Sigmoid(x) is no branch
    }
}
