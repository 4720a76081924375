using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Models;
using Microsoft.ML.OnnxRuntime;

namespace Cortex.Onnx.Tests;

/// <summary>
/// Every exportable layer, the course notes' models and the Fashion CNNs: ONNX Runtime's output on the exported file
/// equals Cortex's Predict within 1e-5 relative (1e-6 absolute), on random batches of several sizes.
/// </summary>
/// <remarks>
/// The batches are pixels in [0, 1) and the kernels Glorot draws, as in use. With unit-normal inputs through 784-wide
/// layers of random weights the two runtimes' float32 sums (in different orders) differ by up to 6e-5 relative; both
/// are then within float32 rounding of the exact value, so that case says nothing about the export.
/// </remarks>
public class ExportTests
{
    /// <summary>Runs the ONNX bytes in ONNX Runtime on <paramref name="x"/>.</summary>
    internal static float[] RunOnnx(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        using var input = OrtValue.CreateTensorValueFromMemory(x.ToArray(), [.. x.Shape.Select(d => (long)d)]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, ["input"], [input], ["output"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    internal static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float tol = 1e-6f + 1e-5f * MathF.Abs(expected[i]);
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}]: Cortex {expected[i]:R} vs ONNX Runtime {actual[i]:R}");
        }
    }

    /// <summary>Random non-trivial values for the vectors a fresh model holds as zeros and ones (biases, γ, β, moving
    /// statistics, a Normalization's mean and variance), as a trained model has; kernels keep their Glorot draws.</summary>
    internal static void Randomize(Model model, int seed)
    {
        int k = 0;
        foreach (var v in model.Variables)
        {
            if (v.Rank != 1 && !v.Name.EndsWith("bias")) continue;   // a reset-after GRU's bias is (2, 3·units)
            var r = Tensor.RandomNormal(v.Shape, seed: seed + k++) * 0.3f;
            if (v.Name.EndsWith("moving_variance") || v.Name.EndsWith("/variance")) r = r.Abs() + 0.5f;
            v.Assign(r);
        }
    }

    public static TheoryData<string> Models =>
    [
        "digits_mlp", "mlp_784_128_10", "fashion_cnn", "fashion_cnn_bn", "coffee", "activations", "activations_keras", "relu_layers", "channels_first", "channels_first_1d", "channels_first_variants", "softmax_axes", "normalization_axes", "normalization_inverted_all", "conv_same_strided_dilated",
        "conv_softmax_channels", "pool_same", "gap", "gap_keepdims", "bn_dense", "reshape_conv", "embedding", "no_bias", "permute",
        "simple_rnn", "simple_rnn_relu_sequences_backwards", "lstm", "lstm_sequences_backwards", "lstm_hard_gates", "gru", "gru_reset_before_sequences",
        "gru_backwards_no_bias", "bidirectional_lstm", "bidirectional_gru_sum_sequences", "bidirectional_rnn_mul", "bidirectional_lstm_ave_sequences",
        "conv1d_pools", "conv1d_causal_gap", "conv1d_same_global_max_keepdims", "time_distributed_permute", "masking",
        "image_shapes", "image_shapes_channels_last", "layer_norm", "layer_norm_axis1", "layer_norm_image", "layer_norm_image_axes", "group_norm", "noise_layers",
        "conv_variants", "conv_transpose_valid", "grouped_depthwise",
    ];

    internal static (Model Model, int[] Sample) Build(string name)
    {
        CortexRandom.SetGlobalSeed(3);
        return name switch
        {
            "digits_mlp" or "mlp_784_128_10" or "fashion_cnn" or "fashion_cnn_bn" => (Zoo.Create(name), name.Contains("cnn") ? [28, 28, 1] : [784]),
            "coffee" => (new Sequential(new Input([2]), new Normalization(), new Dense(3, "sigmoid"), new Dense(1, "sigmoid")), [2]),
            "activations" => (new Sequential(new Input([5]), new Dense(6, "tanh"), new Dense(6, ActivationFunction.LeakyRelu(0.3f)), new Dense(6, ActivationFunction.Elu(0.7f)),
                new Dense(6, "selu"), new Dense(6, "softplus"), new Dense(6, "relu6"), new Dense(6, "silu"), new Dense(4), new Activation("softmax")), [5]),
            "activations_keras" => (new Sequential(new Input([5]), new Dense(6, "softsign"), new Dense(6, "hard_sigmoid"), new Dense(6, "hard_silu"),
                new Dense(6, "mish"), new Dense(6, "gelu"), new Dense(3)), [5]),
            "normalization_axes" => (new Sequential(new Input([3, 4, 2]), new Normalization([1, 2], [.. Enumerable.Range(0, 12).Select(i => 0.1f * i - 0.5f)],
                [.. Enumerable.Range(0, 12).Select(i => 0.2f + 0.3f * i)]), new Flatten(), new Dense(2)), [3, 4, 2]),
            "normalization_inverted_all" => (new Sequential(new Input([5]), new Normalization([], [1.5f], [4f], invert: true), new Dense(2)), [5]),
            "softmax_axes" => (new Sequential(new Input([3, 4, 2]), new Conv2D(2, 2, padding: "same"), new Softmax([1, 2]), new Softmax([1]), new Flatten(), new Dense(3)), [3, 4, 2]),
            "channels_first" => (new Sequential(new Input([2, 9, 8]), new Conv2D(3, 3, padding: "same", activation: "relu", dataFormat: "channels_first"),
                new MaxPooling2D(2, dataFormat: "channels_first"), new Conv2D(4, 2, dataFormat: "channels_first"), new AveragePooling2D(2, strides: 1, dataFormat: "channels_first"),
                new GlobalAveragePooling2D(keepDims: true, dataFormat: "channels_first"), new Flatten(), new Dense(2)), [2, 9, 8]),
            "channels_first_1d" => (new Sequential(new Input([3, 11]), new Conv1D(4, 3, padding: "same", activation: "relu", dataFormat: "channels_first"),
                new MaxPooling1D(2, padding: "same", dataFormat: "channels_first"), new Conv1D(2, 2, strides: 2, dataFormat: "channels_first"),
                new AveragePooling1D(2, 1, dataFormat: "channels_first"), new GlobalMaxPooling1D(keepDims: true, dataFormat: "channels_first"), new Flatten(), new Dense(2)), [3, 11]),
            "channels_first_variants" => (new Sequential(new Input([2, 8, 7]), new DepthwiseConv2D(3, padding: "same", depthMultiplier: 2, dataFormat: "channels_first"),
                new SeparableConv2D(3, 2, strides: 2, dataFormat: "channels_first"), new Conv2DTranspose(2, 3, strides: 2, padding: "same", dataFormat: "channels_first"),
                new Flatten(), new Dense(2)), [2, 8, 7]),
            "relu_layers" => (new Sequential(new Input([4, 4, 2]), new Conv2D(3, 2), new ReLU(negativeSlope: 0.3f, threshold: 0.1f), new Flatten(),
                new Dense(8), new ReLU(), new Dense(8), new ReLU(negativeSlope: 0.2f), new Dense(8), new ReLU(maxValue: 0.5f), new Dense(8), new ReLU(6f),
                new Dense(8), new ReLU(maxValue: 0.4f, negativeSlope: 0.1f, threshold: 0.05f), new Dense(3)), [4, 4, 2]),
            "conv_same_strided_dilated" => (new Sequential(new Input([9, 8, 2]), new Conv2D(3, (3, 2), strides: (2, 1), padding: "same"),
                new Conv2D(4, 3, padding: "same", dilationRate: 2, activation: "relu"), new Conv2D(2, (2, 3), strides: 2, activation: "sigmoid"), new Flatten(), new Dense(3)), [9, 8, 2]),
            "conv_softmax_channels" => (new Sequential(new Input([5, 5, 3]), new Conv2D(4, 3, activation: "softmax")), [5, 5, 3]),
            "pool_same" => (new Sequential(new Input([7, 6, 2]), new MaxPooling2D(3, 2, "same"), new AveragePooling2D(2, 1, "same"), new AveragePooling2D((2, 3)), new Flatten()), [7, 6, 2]),
            "gap" => (new Sequential(new Input([6, 5, 3]), new Conv2D(4, 3), new GlobalAveragePooling2D(), new Dense(2)), [6, 5, 3]),
            "gap_keepdims" => (new Sequential(new Input([6, 5, 3]), new GlobalAveragePooling2D(keepDims: true)), [6, 5, 3]),
            "bn_dense" => (new Sequential(new Input([4]), new Dense(5), new BatchNormalization(center: false), new Activation("relu"), new Dense(3),
                new Reshape([3, 1]), new BatchNormalization(axis: 1, scale: false)), [4]),
            "reshape_conv" => (new Sequential(new Input([36]), new Reshape([6, 6, 1]), new Conv2D(2, 3), new BatchNormalization(), new Activation("elu"),
                new MaxPooling2D(2), new Dropout(0.5f), new Reshape([-1]), new Dense(2)), [36]),
            "embedding" => (new Sequential(new Input([4]), new Embedding(10, 3), new Flatten(), new Dense(2)), [4]),
            "no_bias" => (new Sequential(new Input([4, 4, 1]), new Conv2D(2, 2, useBias: false), new Flatten(), new Dense(2, useBias: false)), [4, 4, 1]),
            "permute" => (new Sequential(new Input([2, 5, 5]), new Permute([2, 3, 1]), new Conv2D(3, 2), new Permute([3, 1, 2]), new Flatten(), new Dense(2)), [2, 5, 5]),
            "simple_rnn" => (new Sequential(new Input([6, 3]), new SimpleRNN(5), new Dense(2)), [6, 3]),
            "simple_rnn_relu_sequences_backwards" => (new Sequential(new Input([6, 3]), new SimpleRNN(4, "relu", returnSequences: true, goBackwards: true), new SimpleRNN(3)), [6, 3]),
            "lstm" => (new Sequential(new Input([7, 4]), new LSTM(5), new Dense(2)), [7, 4]),
            "lstm_sequences_backwards" => (new Sequential(new Input([7, 4]), new LSTM(5, returnSequences: true, goBackwards: true), new Dense(2)), [7, 4]),
            "lstm_hard_gates" => (new Sequential(new Input([5, 3]), new LSTM(4, activation: "relu", recurrentActivation: "tanh", returnSequences: true), new LSTM(3)), [5, 3]),
            "gru" => (new Sequential(new Input([7, 4]), new GRU(5), new Dense(2)), [7, 4]),
            "gru_reset_before_sequences" => (new Sequential(new Input([7, 4]), new GRU(5, resetAfter: false, returnSequences: true), new GRU(3)), [7, 4]),
            "gru_backwards_no_bias" => (new Sequential(new Input([7, 4]), new GRU(5, useBias: false, goBackwards: true)), [7, 4]),
            "bidirectional_lstm" => (new Sequential(new Input([6, 3]), new Bidirectional(new LSTM(4)), new Dense(2)), [6, 3]),
            "bidirectional_gru_sum_sequences" => (new Sequential(new Input([6, 3]), new Bidirectional(new GRU(4, returnSequences: true), "sum"), new GRU(2)), [6, 3]),
            "bidirectional_rnn_mul" => (new Sequential(new Input([6, 3]), new Bidirectional(new SimpleRNN(4), "mul")), [6, 3]),
            "bidirectional_lstm_ave_sequences" => (new Sequential(new Input([6, 3]), new Bidirectional(new LSTM(4, returnSequences: true), "ave")), [6, 3]),
            "conv1d_pools" => (new Sequential(new Input([11, 3]), new Conv1D(4, 3, strides: 2, padding: "same", activation: "relu"), new MaxPooling1D(2, 1, "same"),
                new AveragePooling1D(2, padding: "same"), new Conv1D(2, 2, dilationRate: 2), new Flatten(), new Dense(2)), [11, 3]),
            "conv1d_causal_gap" => (new Sequential(new Input([9, 2]), new Conv1D(3, 3, padding: "causal", dilationRate: 2, activation: "softmax"), new GlobalAveragePooling1D()), [9, 2]),
            "conv1d_same_global_max_keepdims" => (new Sequential(new Input([8, 3]), new Conv1D(3, 4, padding: "same", useBias: false), new AveragePooling1D(3, 2),
                new GlobalMaxPooling1D(keepDims: true), new Dense(2)), [8, 3]),
            "time_distributed_permute" => (new Sequential(new Input([5, 4]), new TimeDistributed(new Dense(3, "tanh")), new Permute([2, 1]), new Conv1D(2, 2), new LSTM(3)), [5, 4]),
            "masking" => (new Sequential(new Input([6, 3]), new Masking(0.25f), new Conv1D(2, 1), new Flatten()), [6, 3]),
            "image_shapes" => (new Sequential(new Input([6, 5, 2]), new Conv2D(3, 2), new ZeroPadding2D(((1, 0), (2, 1))), new Cropping2D(((0, 1), (1, 0))),
                new UpSampling2D(2), new Conv2D(2, 3), new UpSampling2D((1, 2), "bilinear"), new Flatten(), new Dense(2)), [6, 5, 2]),
            "image_shapes_channels_last" => (new Sequential(new Input([4, 5, 2]), new ZeroPadding2D(1), new Cropping2D(((1, 2), (0, 1))),
                new UpSampling2D((2, 3), "bilinear"), new Flatten(), new Dense(2)), [4, 5, 2]),
            "layer_norm" => (new Sequential(new Input([5, 6]), new Dense(4), new LayerNormalization(), new LayerNormalization(epsilon: 1e-5f, center: false),
                new Flatten(), new Dense(2)), [5, 6]),
            "layer_norm_axis1" => (new Sequential(new Input([5, 6]), new LayerNormalization(axis: [1]), new Conv1D(2, 2), new LayerNormalization(scale: false), new Flatten(), new Dense(2)), [5, 6]),
            "layer_norm_image" => (new Sequential(new Input([4, 4, 2]), new Conv2D(3, 2), new LayerNormalization(axis: [1, 2, 3]), new Flatten(), new Dense(2)), [4, 4, 2]),
            "layer_norm_image_axes" => (new Sequential(new Input([4, 4, 2]), new Conv2D(3, 2), new LayerNormalization(axis: [2, 1]), new LayerNormalization(axis: [1, 3]),
                new Flatten(), new Dense(2)), [4, 4, 2]),
            "group_norm" => (new Sequential(new Input([5, 5, 2]), new Conv2D(4, 2), new GroupNormalization(groups: 2), new Activation("relu"), new Flatten(),
                new Dense(6), new GroupNormalization(groups: 3, center: false), new Dense(3)), [5, 5, 2]),
            "noise_layers" => (new Sequential(new Input([4, 4, 2]), new GaussianNoise(0.1f), new Conv2D(3, 2), new SpatialDropout2D(0.2f),
                new Dropout(0.3f, [-1, 1, 1, -1]), new Flatten(), new Dense(2)), [4, 4, 2]),
            "conv_variants" => (new Sequential(new Input([9, 8, 4]), new DepthwiseConv2D(3, padding: "same", depthMultiplier: 2, activation: "relu"),
                new Conv2D(6, 3, strides: 2, groups: 2, activation: "tanh"), new Conv2DTranspose(4, 3, strides: 2, padding: "same"),
                new SeparableConv2D(3, (2, 3), depthMultiplier: 2, activation: "relu"), new DepthwiseConv2D(2, strides: 2, dilationRate: 1, useBias: false),
                new Flatten(), new Dense(3)), [9, 8, 4]),
            "conv_transpose_valid" => (new Sequential(new Input([4, 5, 2]), new Conv2DTranspose(3, 2, strides: 3, useBias: false),
                new Conv2DTranspose(2, 3, strides: 2, outputPadding: (1, 0), activation: "sigmoid"), new Conv2DTranspose(2, (2, 3), dilationRate: 2, padding: "same"),
                new SeparableConv2D(2, 3, strides: 2, padding: "same", useBias: false), new Flatten(), new Dense(2)), [4, 5, 2]),
            "grouped_depthwise" => (new Sequential(new Input([7, 6, 4]), new DepthwiseConv2D(3, padding: "same", depthMultiplier: 2, activation: "relu"),
                new Conv2D(6, (2, 3), strides: 2, padding: "same", groups: 2), new DepthwiseConv2D(2, dilationRate: 2, useBias: false), new Conv2D(3, 1, groups: 3, activation: "tanh"),
                new Flatten(), new Dense(3)), [7, 6, 4]),
            _ => throw new ArgumentException(name),
        };
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void OnnxRuntimeComputesWhatCortexPredicts(string name)
    {
        var (model, sample) = Build(name);
        Randomize(model, 11);
        if (model.Layers.OfType<Embedding>().FirstOrDefault() is { } emb)
            emb.Embeddings!.Assign(Tensor.RandomNormal(emb.Embeddings.Shape, seed: 5));
        byte[] onnx = OnnxExporter.ToBytes(model);
        foreach (int batch in new[] { 1, 7, 32 })
        {
            var x = name == "embedding"
                ? Tensor.FromArray([.. Enumerable.Range(0, batch * 4).Select(i => (float)((i * 7) % 10))], [batch, 4])
                : Tensor.RandomUniform([batch, .. sample], seed: batch);   // pixels in [0, 1), as the data sets give them
            AssertClose(model.Predict(x).ToArray(), RunOnnx(onnx, x), $"{name} batch {batch}");
        }
    }

    [Theory]
    [InlineData("layer_norm", 13)]
    [InlineData("layer_norm_axis1", 18)]
    [InlineData("layer_norm_image", 13)]
    [InlineData("layer_norm_image_axes", 18)]
    [InlineData("group_norm", 13)]
    [InlineData("group_norm", 18)]
    public void NormalizationsRunAtOpsetsBeforeAndAfterLayerNormalizationAndReduceMeansAxesInput(string name, int opset)
    {
        var (model, sample) = Build(name);
        Randomize(model, 11);
        byte[] onnx = OnnxExporter.ToBytes(model, opset);
        var x = Tensor.RandomUniform([5, .. sample], seed: 3);
        AssertClose(model.Predict(x).ToArray(), RunOnnx(onnx, x), $"{name} opset {opset}");
    }

    [Fact]
    public void GroupNormalizationOverAnotherAxisIsRefusedNamingIt()
    {
        var model = new Sequential(new Input([4, 6]), new GroupNormalization(groups: 2, axis: 1, name: "gn_axis1"));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(model));
        Assert.Equal("ONNX export: GroupNormalization 'gn_axis1' groups axis 1 of a rank-3 input; its ONNX form groups the last (channel) axis.", e.Message);
    }

    [Theory]
    [InlineData("bidirectional_lstm_ave_sequences", 13)]
    [InlineData("bidirectional_rnn_mul", 18)]
    [InlineData("bidirectional_lstm_ave_sequences", 18)]
    public void BidirectionalMergesRunAtTheOpsetsWhereReduceTakesItsAxesEitherWay(string name, int opset)
    {
        var (model, sample) = Build(name);
        Randomize(model, 11);
        var x = Tensor.RandomUniform([5, .. sample], seed: 5);
        AssertClose(model.Predict(x).ToArray(), RunOnnx(OnnxExporter.ToBytes(model, opset), x), $"{name} opset {opset}");
    }

    [Theory]
    [InlineData(13)]
    [InlineData(18)]
    [InlineData(20)]
    public void ActivationsTakeTheirOwnOpsWhereTheOpsetHasThem(int opset)
    {
        // Opset 13: x·HardSigmoid(x) for hard_silu; 18: Mish; 20: Gelu, with the tanh approximation too.
        var (model, sample) = Build("activations_keras");
        if (opset >= 20) model = new Sequential(new Input([5]), new Dense(6, "gelu"), new Dense(6, ActivationFunction.Gelu(approximate: true)), new Dense(6, "hard_silu"), new Dense(3));
        Randomize(model, 11);
        var x = Tensor.RandomNormal([9, .. sample], seed: 4) * 2f;   // past hard_sigmoid's corners at ±3
        byte[] onnx = OnnxExporter.ToBytes(model, opset);
        AssertClose(model.Predict(x).ToArray(), RunOnnx(onnx, x), $"opset {opset}");
        Assert.Equal(model.Predict(x).ToArray(), OnnxImporter.Load(onnx, $"opset{opset}.onnx").Predict(x).ToArray());
    }

    public static TheoryData<string> UnknownSizes => ["sequence", "fcn", "text"];

    [Theory]
    [MemberData(nameof(UnknownSizes))]
    public void AxesKnownOnlyWhenCalledStayOpenInOnnx(string kind)
    {
        CortexRandom.SetGlobalSeed(5);
        Model model = kind switch
        {
            "sequence" => new Sequential(new Input([-1, 3]), new Conv1D(3, 2, padding: "same"), new LSTM(4), new Dense(2)),
            "fcn" => new Sequential(new Input([-1, -1, 1]), new Conv2D(4, 3, strides: 2, padding: "same", activation: "relu"), new MaxPooling2D(2, padding: "same"),
                new Conv2D(4, 3, activation: "relu"), new GlobalAveragePooling2D(), new Dense(2)),
            _ => new Sequential(new Input([-1]), new Embedding(20, 4), new Bidirectional(new GRU(3, returnSequences: true)), new TimeDistributed(new Dense(2)),
                new GlobalMaxPooling1D(), new Dense(2)),
        };
        Randomize(model, 3);
        byte[] onnx = OnnxExporter.ToBytes(model);
        using (var session = new InferenceSession(onnx))
            Assert.All(session.InputMetadata["input"].Dimensions.Skip(1).Take(kind == "sequence" ? 1 : kind == "fcn" ? 2 : 1), d => Assert.Equal(-1, d));
        var back = OnnxImporter.Load(onnx, $"{kind}.onnx");
        foreach (int size in new[] { 9, 14 })
        {
            int[] shape = kind switch { "sequence" => [3, size, 3], "fcn" => [3, size, size + 3, 1], _ => [3, size] };
            var x = kind == "text" ? Tensor.FromArray([.. Enumerable.Range(0, 3 * size).Select(i => (float)(i * 7 % 20))], shape) : Tensor.RandomUniform(shape, seed: size);
            AssertClose(model.Predict(x).ToArray(), RunOnnx(onnx, x), $"{kind} size {size}");
            Assert.Equal(model.Predict(x).ToArray(), back.Predict(x).ToArray());
        }
    }

    [Fact]
    public void TheTanhApproximationOfGeluAsksForOpset20()
    {
        var model = new Sequential(new Input([3]), new Dense(2, ActivationFunction.Gelu(approximate: true), name: "d_gelu"));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(model));
        Assert.Equal("ONNX export: Dense 'd_gelu' has the activation gelu(approximate: true), whose ONNX form (Gelu with approximate=\"tanh\") needs opset 20 or later. Received: opset=17", e.Message);
    }

    [Fact]
    public void MaskingZeroesThePaddedStepsInOnnxRuntimeToo()
    {
        var (model, _) = Build("masking");
        var x = Tensor.RandomUniform([4, 6, 3], seed: 8).ToArray();
        foreach (int step in new[] { 1, 5, 8, 15, 23 }) x.AsSpan(step * 3, 3).Fill(0.25f);   // padding steps
        x[10 * 3] = 0.25f;                                                                      // one feature only: kept
        var input = Tensor.FromArray(x, [4, 6, 3]);
        AssertClose(model.Predict(input).ToArray(), RunOnnx(OnnxExporter.ToBytes(model), input), "masking");
        AssertClose(model.Predict(input).ToArray(), RunOnnx(OnnxExporter.ToBytes(model, 18), input), "masking opset 18");
    }

    [Fact]
    public void AFunctionalGraphRunsInOnnxRuntimeWithItsInputAndOutputNames()
    {
        CortexRandom.SetGlobalSeed(4);
        var pixels = new Input([6, 6, 1], name: "pixels");
        var extra = new Input([5], name: "extra");
        var encoder = new Sequential(new Dense(4, "relu"), new Dense(4));
        SymbolicTensor img = new Flatten().Call(new MaxPooling2D(2).Call(new Conv2D(2, 3, activation: "relu").Call(pixels)));   // (N, 8)
        SymbolicTensor a = encoder.Call(new Dense(5).Call(img)), b = encoder.Call(extra);
        SymbolicTensor merged = new Concatenate().Call(new Add().Call(a, b), new Subtract().Call(a, b), new Multiply().Call(a, b),
            new Average().Call(a, b, a), new Maximum().Call(a, b), new Minimum().Call(a, b), new Dot([1, 1]).Call(a, b));
        var scores = new Dense(3, "softmax", name: "scores").Call(merged);
        var model = new Functional([pixels, extra], [scores, new Dense(2, name: "aux").Call(a)], name: "two_heads");
        Randomize(model, 5);
        byte[] onnx = OnnxExporter.ToBytes(model);
        using var session = new InferenceSession(onnx);
        Assert.Equal(["pixels", "extra"], session.InputMetadata.Keys);
        Assert.Equal(["scores", "aux"], session.OutputMetadata.Keys);
        var x1 = Tensor.RandomUniform([7, 6, 6, 1], seed: 1);
        var x2 = Tensor.RandomUniform([7, 5], seed: 2);
        using var v1 = OrtValue.CreateTensorValueFromMemory(x1.ToArray(), [7, 6, 6, 1]);
        using var v2 = OrtValue.CreateTensorValueFromMemory(x2.ToArray(), [7, 5]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, ["pixels", "extra"], [v1, v2], ["scores", "aux"]);
        var expected = model.Predict([x1, x2]);
        for (int k = 0; k < 2; k++) AssertClose(expected[k].ToArray(), outputs[k].GetTensorDataAsSpan<float>().ToArray(), $"output {k}");
    }

    [Fact]
    public void SaveWritesTheFileAndTheExtensionMethodToo()
    {
        var (model, _) = Build("digits_mlp");
        string dir = Directory.CreateTempSubdirectory("cortex-onnx").FullName;
        try
        {
            string a = Path.Combine(dir, "a.onnx"), b = Path.Combine(dir, "b.onnx");
            OnnxExporter.Save(model, a);
            model.SaveOnnx(b);
            Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
            Assert.Equal(OnnxExporter.ToBytes(model), File.ReadAllBytes(a));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ALayerWithoutAnOnnxFormIsRefusedNamingIt()
    {
        var model = new Sequential(new Input([5, 3]), new TimeDistributed(new Activation("relu"), name: "td_x"), new Dense(2));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(model));
        Assert.Equal("ONNX export: TimeDistributed 'td_x' has no ONNX form yet.", e.Message);
    }

    [Fact]
    public void ARecurrentLayerWithInitialOrReturnedStatesIsRefusedNamingTheLayer()
    {
        var x = new Input([5, 3], "x");
        var h0 = new Input([4], "h0");
        var started = new Functional([x, h0], [new GRU(4, name: "gru_s").CallWithState(x, [h0])[0]]);
        Assert.StartsWith("ONNX export: GRU 'gru_s' starts from 1 initial state(s), which export does not write yet",
            Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(started)).Message);
        var states = new LSTM(4, returnState: true, name: "lstm_s").CallWithState(x);
        var returning = new Functional(x, new Add().Call(states[1], states[2]));
        Assert.StartsWith("ONNX export: LSTM 'lstm_s' returns its final state(s) (returnState: 3 outputs), which export does not write yet",
            Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(returning)).Message);
    }

    [Fact]
    public void AMaskedRecurrentLayerAndAnActivationOnnxLacksAreRefusedNamingTheLayer()
    {
        var masked = new Sequential(new Input([5]), new Embedding(10, 3, maskZero: true), new LSTM(4, name: "lstm_m"));
        Assert.Equal("ONNX export: LSTM 'lstm_m' reads a masked sequence (Embedding with maskZero or Masking before it); ONNX's recurrent ops have no mask.",
            Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(masked)).Message);
        var pooled = new Sequential(new Input([5, 2]), new Masking(), new GlobalAveragePooling1D(name: "gap_m"));
        Assert.StartsWith("ONNX export: GlobalAveragePooling1D 'gap_m' averages the unmasked steps", Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(pooled)).Message);
        var elu = new Sequential(new Input([5, 2]), new SimpleRNN(3, "elu", name: "rnn_e"));
        Assert.Contains("SimpleRNN 'rnn_e' has the activation 'elu', which ONNX's RNN op does not take",
            Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(elu)).Message);
    }

    [Fact]
    public void AnUnbuiltModelAndAnOldOpsetAreRefused()
    {
        Assert.Contains("is not built yet", Assert.Throws<InvalidOperationException>(() => OnnxExporter.ToBytes(new Sequential(new Dense(2)))).Message);
        var (model, _) = Build("digits_mlp");
        Assert.Contains("opset must be 13 or later. Received: opset=11", Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExporter.ToBytes(model, opset: 11)).Message);
    }

    [Fact]
    public void TheGraphDeclaresCortexsLayoutWithADynamicBatch()
    {
        var (model, _) = Build("fashion_cnn");
        using var session = new InferenceSession(OnnxExporter.ToBytes(model));
        var input = session.InputMetadata["input"];
        Assert.Equal([-1, 28, 28, 1], input.Dimensions);
        Assert.Equal([-1, 10], session.OutputMetadata["output"].Dimensions);
    }

    private sealed class Subclassed : Model
    {
        private readonly Dense dense;
        public Subclassed() => dense = Track(new Dense(2));
        protected override Tensor CallCore(Tensor x, bool training) => dense.Call(x, training) * 2f;
    }

    [Fact]
    public void ASubclassedModelIsRefusedRatherThanExportedAsAChainOfItsLayers()
    {
        var model = new Subclassed();
        model.Build([-1, 3]);
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(model));
        Assert.Contains("is a subclassed model (Subclassed)", e.Message);
    }
}
