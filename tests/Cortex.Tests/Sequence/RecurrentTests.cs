using Cortex.Activations;
using Cortex.Data;
using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Sequence;

/// <summary>SimpleRNN, LSTM and GRU beyond the PyTorch values: Keras's shapes, names and defaults, errors, both
/// training paths bit for bit, learning, saving, and no allocation per step.</summary>
public class RecurrentTests
{
    private static readonly Tensor X = Tensor.RandomNormal([2, 5, 3], seed: 1);

    public static TheoryData<string, int[], int[], int[]> Weights => new()
    {
        { "simple_rnn", [3, 4], [4, 4], [4] },
        { "lstm", [3, 16], [4, 16], [16] },
        { "gru", [3, 12], [4, 12], [2, 12] },
        { "gru_reset_before", [3, 12], [4, 12], [12] },
    };

    private static RecurrentLayer Make(string kind, int units, bool returnSequences = false, string? name = null) => kind switch
    {
        "simple_rnn" => new SimpleRNN(units, returnSequences: returnSequences, name: name),
        "lstm" => new LSTM(units, returnSequences: returnSequences, name: name),
        "gru" => new GRU(units, returnSequences: returnSequences, name: name),
        "gru_reset_before" => new GRU(units, returnSequences: returnSequences, resetAfter: false, name: name),
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [MemberData(nameof(Weights))]
    public void ShapesAndWeightsFollowKeras(string kind, int[] kernel, int[] recurrent, int[] bias)
    {
        var layer = Make(kind, 4, name: "rec");
        Assert.Equal([2, 4], layer.Call(X).Shape);
        Assert.Equal(["rec/kernel", "rec/recurrent_kernel", "rec/bias"], layer.Weights.Select(w => w.Name));
        Assert.Equal([kernel, recurrent, bias], layer.Weights.Select(w => w.Shape));
        Assert.Equal([-1, 4], layer.ComputeOutputShape([-1, 5, 3]));
        var sequences = Make(kind, 4, returnSequences: true);
        Assert.Equal([2, 5, 4], sequences.Call(X).Shape);
        Assert.Equal([-1, 5, 4], sequences.ComputeOutputShape([-1, 5, 3]));
        Assert.StartsWith(kind == "gru_reset_before" ? "gru" : kind, Make(kind, 1).Name);
        Assert.Equal(kernel.Aggregate(1, (a, b) => a * b) + recurrent.Aggregate(1, (a, b) => a * b) + bias.Aggregate(1, (a, b) => a * b), layer.CountParams());
    }

    [Fact]
    public void DefaultsAreKeras()
    {
        var lstm = new LSTM(3);
        lstm.Call(X);
        Assert.Equal("tanh", lstm.Activation.Name);
        Assert.Equal("sigmoid", lstm.RecurrentActivation.Name);
        Assert.True(lstm.UseBias && lstm.UnitForgetBias && !lstm.ReturnSequences && !lstm.GoBackwards);
        Assert.IsType<GlorotUniform>(lstm.KernelInitializer);
        Assert.IsType<Orthogonal>(lstm.RecurrentInitializer);
        Assert.IsType<Zeros>(lstm.BiasInitializer);
        Assert.True(new GRU(2).ResetAfter);
        // unit_forget_bias: the forget gate's quarter (i, f, c, o) starts at 1, the rest at the initializer's values.
        Assert.Equal([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0], lstm.Bias!.ToArray());
        var noForget = new LSTM(2, unitForgetBias: false, biasInitializer: new Constant(0.5f));
        noForget.Call(X);
        Assert.All(noForget.Bias!.ToArray(), v => Assert.Equal(0.5f, v));
        // The recurrent kernel (u, 4u) has orthonormal rows.
        var u = lstm.RecurrentKernel!.AsSpan();
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < 3; q++)
            {
                double dot = 0;
                for (int k = 0; k < 12; k++) dot += (double)u[p * 12 + k] * u[q * 12 + k];
                Assert.Equal(p == q ? 1 : 0, dot, 5);
            }
    }

    [Fact]
    public void ErrorsNameTheLayerTheExpectedAndTheReceived()
    {
        Assert.Contains("LSTM: units must be a positive integer. Received: units=0", Assert.Throws<ArgumentOutOfRangeException>(() => new LSTM(0)).Message);
        Assert.Contains("GRU: units must be a positive integer. Received: units=-1", Assert.Throws<ArgumentOutOfRangeException>(() => new GRU(-1)).Message);
        var e = Assert.Throws<ArgumentException>(() => new LSTM(2, activation: "softplus"));
        Assert.Contains("LSTM: activation must have a derivative computable from its output", e.Message);
        Assert.Contains("Received: activation='softplus'", e.Message);
        Assert.Contains("recurrentActivation='silu'", Assert.Throws<ArgumentException>(() => new GRU(2, recurrentActivation: "silu")).Message);
        Assert.Contains("activation='leaky_relu' (alpha -0.5)",
            Assert.Throws<ArgumentException>(() => new SimpleRNN(2, Activations.ActivationFunction.LeakyRelu(-0.5f))).Message);
        var layer = new LSTM(2, name: "lstm_e");
        var rank = Assert.Throws<ArgumentException>(() => layer.Call(Tensor.Zeros([2, 3]))).Message;
        Assert.Contains("LSTM 'lstm_e' expects input of rank 3 (batch, timesteps, features). Received: shape (-1, 3)", rank);   // the batch is not part of the build shape
        layer.Call(X);
        Assert.Contains("LSTM 'lstm_e' expects input of shape (batch, timesteps, 3). Received: shape (2, 5, 4)",
            Assert.Throws<ArgumentException>(() => layer.Call(Tensor.Zeros([2, 5, 4]))).Message);
        Assert.Contains("expects at least one timestep. Received: shape (2, 0, 3)",
            Assert.Throws<ArgumentException>(() => layer.Call(Tensor.Zeros([2, 0, 3]))).Message);
    }

    [Theory]
    [InlineData("simple_rnn")]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("gru_reset_before")]
    public void GoBackwardsIsTheReversedSequence(string kind)
    {
        var reversed = X.ToArray();
        for (int n = 0; n < 2; n++)
            for (int t = 0; t < 5; t++)
                X.AsSpan().Slice((n * 5 + 4 - t) * 3, 3).CopyTo(reversed.AsSpan((n * 5 + t) * 3, 3));
        var xr = Tensor.FromArray(reversed, [2, 5, 3]);
        var forward = Make(kind, 3, returnSequences: true);
        var backward = kind switch
        {
            "simple_rnn" => (RecurrentLayer)new SimpleRNN(3, returnSequences: true, goBackwards: true),
            "lstm" => new LSTM(3, returnSequences: true, goBackwards: true),
            _ => new GRU(3, returnSequences: true, goBackwards: true, resetAfter: kind == "gru"),
        };
        forward.Call(xr);
        backward.EnsureBuilt(X.Shape);
        backward.SetWeights(forward.GetWeights());
        // Keras returns the outputs in processing order: the same as the forward layer on the reversed input.
        Assert.Equal(forward.Call(xr).ToArray(), backward.Call(X).ToArray());
    }

    /// <summary>Sequences of 8 steps of 2 features; the class is whether the first feature sums to more than zero.</summary>
    private static (Tensor X, Tensor Y) SumSign(int rows, int seed)
    {
        var x = Tensor.RandomNormal([rows, 8, 2], seed: seed);
        var y = new float[rows];
        var d = x.AsSpan();
        for (int i = 0; i < rows; i++)
        {
            float s = 0;
            for (int t = 0; t < 8; t++) s += d[(i * 8 + t) * 2];
            y[i] = s > 0 ? 1 : 0;
        }
        return (x, Tensor.FromArray(y));
    }

    private static (float[] Weights, string Path, float Accuracy) Train(Func<Sequential> make, Tensor x, Tensor y, int epochs, float rate = 0.01f) =>
        BothPaths.Train(make, tape: false, x, y, epochs, rate, seed: 7);

    public static TheoryData<string> Stacks => ["lstm", "gru_sequences_simple_rnn", "gru_reset_before_backwards"];

    private static Sequential Stack(string stack) => stack switch
    {
        "lstm" => new(new Input([8, 2]), new LSTM(8), new Dense(2)),
        "gru_sequences_simple_rnn" => new(new Input([8, 2]), new GRU(6, returnSequences: true), new SimpleRNN(5, goBackwards: true), new Dense(2)),
        _ => new(new Input([8, 2]), new GRU(6, resetAfter: false, goBackwards: true, returnSequences: true), new Flatten(), new Dense(2)),
    };

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TrainsOnTheFusedPathWithTheTapesBits(string stack)
    {
        var (x, y) = SumSign(200, 1);
        BothPaths.AssertFusedEqualsTape(() => Stack(stack), x, y, epochs: 3, rate: 0.01f, seed: 7);
    }

    [Fact]
    public void LstmLearnsTheSignOfASum()
    {
        var (x, y) = SumSign(1000, 2);
        var result = Train(() => Stack("lstm"), x, y, epochs: 15, rate: 0.02f);
        Assert.Equal("fused", result.Path);
        Assert.True(result.Accuracy > 0.95f, $"accuracy {result.Accuracy}");
    }

    [Fact]
    public void LstmReadsDigitsRowByRow()
    {
        var (xTrain, yTrain, xTest, yTest) = Datasets.Digits.Load();
        Tensor Rows(Tensor t, int count) => t.Slice(0, count).Reshape(count, 28, 28);
        CortexRandom.SetGlobalSeed(3);
        var model = new Sequential(new Input([28, 28]), new LSTM(32), new Dense(10));
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        model.Fit(Rows(xTrain, 5000), yTrain.Slice(0, 5000), epochs: 5, batchSize: 32, verbose: 0);
        Assert.Equal("fused", model.TrainingPath);
        var accuracy = model.Evaluate(Rows(xTest, 1000), yTest.Slice(0, 1000), verbose: 0)["accuracy"];
        Assert.True(accuracy > 0.9f, $"test accuracy {accuracy}");   // 0.917 at this seed
    }

    /// <summary>Embedding's token task (the class: whether tokens below 8 are the majority): the table and the LSTM both learn.</summary>
    private static Sequential EmbeddingLstm() => new(new Input([6]), new Embedding(20, 4), new LSTM(8), new Dense(2));

    [Fact]
    public void EmbeddingThenLstmTrainsFusedWithTheTapesBits()
    {
        var (x, y) = EmbeddingTests.Tokens(400, 1);
        float accuracy = BothPaths.AssertFusedEqualsTape(EmbeddingLstm, x, y, epochs: 15, rate: 0.02f, seed: 7);
        Assert.True(accuracy > 0.9f, $"accuracy {accuracy}");
    }

    [Fact]
    public void SavesAndLoads()
    {
        var (x, y) = SumSign(64, 3);
        var loaded = BothPaths.FitSaveLoad(Stack("gru_sequences_simple_rnn"), x, y);
        Assert.IsType<GRU>(loaded.Layers[1]);
        Assert.True(((SimpleRNN)loaded.Layers[2]).GoBackwards);
    }

    [Fact]
    public void ARegularizedLayerTrainsOnTheTapeAndSaysWhy()
    {
        var (x, y) = SumSign(64, 4);
        var model = new Sequential(new Input([8, 2]), new LSTM(4, recurrentRegularizer: new Cortex.Regularizers.L2(0.01f), name: "reg_lstm"), new Dense(2));
        Assert.Equal("tape: LSTM 'reg_lstm' has a regularizer", BothPaths.PathOf(model, x, y));
    }

    [Fact]
    public void AFrozenLayerStillPassesTheGradientOn()
    {
        var (x, y) = SumSign(200, 5);
        Sequential Make()
        {
            var model = new Sequential(new Input([8, 2]), new GRU(3, returnSequences: true), new LSTM(4, name: "frozen_lstm"), new Dense(2));
            model.Layers[2].Trainable = false;
            return model;
        }
        BothPaths.AssertFusedEqualsTape(Make, x, y, epochs: 2, rate: 0.01f, seed: 7);
    }

    public static TheoryData<string, string> CellActivations => new()
    {
        { "softmax", "sigmoid" },      // not element-wise: the cells run span by span
        { "relu", "hard_sigmoid" },    // element-wise: the one-pass cell, compiled for these two operators
        { "softsign", "sigmoid" },
    };

    /// <summary>An LSTM with other activations than tanh and sigmoid — an element-wise pair runs the one-pass cell
    /// compiled for them, softmax (not element-wise) runs span by span — computes Keras's recurrence, written out with
    /// tensor ops step by step (units 20: a vector and a tail).</summary>
    [Theory]
    [MemberData(nameof(CellActivations))]
    public void AnLstmWithOtherActivationsComputesKerasRecurrence(string activation, string recurrentActivation)
    {
        CortexRandom.SetGlobalSeed(4);
        var act = ActivationFunction.Get(activation);
        var gate = ActivationFunction.Get(recurrentActivation);
        int u = 20;
        var lstm = new LSTM(u, activation: act, recurrentActivation: gate);
        var x = Tensor.RandomNormal([3, 5, 3], seed: 2);
        var output = lstm.Call(x);
        var w = lstm.Kernel!.Value();
        var r = lstm.RecurrentKernel!.Value();
        var b = lstm.Bias!.Value();
        Tensor h = Tensor.Zeros([3, u]), c = Tensor.Zeros([3, u]);
        for (int t = 0; t < 5; t++)
        {
            var z = x.Slice(t, 1, axis: 1).Reshape(3, 3).MatMul(w) + h.MatMul(r) + b;
            Tensor Gate(int k) => z.Slice(k * u, u, axis: 1);
            var i = gate.Apply(Gate(0));
            var f = gate.Apply(Gate(1));
            var g = act.Apply(Gate(2));
            var o = gate.Apply(Gate(3));
            c = f * c + i * g;
            h = o * act.Apply(c);
        }
        var expected = h.ToArray();
        var actual = output.ToArray();
        for (int k = 0; k < expected.Length; k++)
            Assert.True(MathF.Abs(expected[k] - actual[k]) <= 2e-6f, $"element {k}: {actual[k]} vs {expected[k]}");
    }
}
