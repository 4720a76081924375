using Cortex.Layers;
using Cortex.Models;

namespace Cortex.Tests.Sequence;

/// <summary>Bidirectional beyond the PyTorch values in sequence.json: Keras's names, shapes and parameter counts, both
/// training paths bit for bit (with and without a mask), saving, errors.</summary>
public class BidirectionalTests
{
    [Fact]
    public void NamesShapesAndParametersFollowKeras()
    {
        var bi = new Bidirectional(new LSTM(64, name: "lstm_enc"));
        Assert.Equal("forward_lstm_enc", bi.Forward.Name);
        Assert.Equal("backward_lstm_enc", bi.Backward.Name);
        Assert.True(bi.Backward.GoBackwards && !bi.Forward.GoBackwards);
        Assert.Equal("concat", bi.MergeMode);
        var model = new Sequential(new Input([28, 28]), bi, new Dense(10));
        Assert.Equal(2 * 23_808, bi.CountParams());
        Assert.Equal(["forward_lstm_enc/kernel", "forward_lstm_enc/recurrent_kernel", "forward_lstm_enc/bias",
            "backward_lstm_enc/kernel", "backward_lstm_enc/recurrent_kernel", "backward_lstm_enc/bias"], bi.Weights.Select(w => w.Name));
        string summary = model.SummaryString();
        Assert.Contains("(None, 128)", summary);
        Assert.Contains("47,616", summary);
        var lstm = new Sequential(new Input([28, 28]), new LSTM(64));
        Assert.Contains("23,808", lstm.SummaryString());
        Assert.Equal([-1, 28, 64], new Bidirectional(new GRU(64, returnSequences: true), "sum").ComputeOutputShape([-1, 28, 5]));
    }

    [Fact]
    public void ErrorsNameTheArgumentAndTheReceivedValue()
    {
        var e = Assert.Throws<ArgumentException>(() => new Bidirectional(new LSTM(2), "max"));
        Assert.StartsWith("Bidirectional: mergeMode must be one of \"concat\", \"sum\", \"mul\", \"ave\". Received: mergeMode=\"max\"", e.Message);
        var b = Assert.Throws<ArgumentException>(() => new Bidirectional(new LSTM(2, name: "f"), backwardLayer: new LSTM(2)));
        Assert.StartsWith("Bidirectional: backwardLayer must have goBackwards=True and returnSequences=False (the other direction of layer 'f'). Received: goBackwards=False, returnSequences=False", b.Message);
        var x = Assert.Throws<ArgumentException>(() => new Bidirectional(new LSTM(2)).Call(Tensor.Zeros(2, 3)));
        Assert.Contains("expects input of rank 3 (batch, timesteps, features)", x.Message);
    }

    public static TheoryData<string> Stacks => ["concat_last", "sum_sequences_masked", "ave_custom_backward"];

    private static Sequential Stack(string name) => name switch
    {
        "concat_last" => new(new Input([6, 3]), new Bidirectional(new LSTM(4)), new Dense(2)),
        "sum_sequences_masked" => new(new Input([10]), new Embedding(10, 4, maskZero: true),
            new Bidirectional(new GRU(4, returnSequences: true), "sum"), new GlobalAveragePooling1D(), new Dense(2)),
        "ave_custom_backward" => new(new Input([6, 3]), new Bidirectional(new SimpleRNN(4, returnSequences: true), "ave",
            new SimpleRNN(4, returnSequences: true, goBackwards: true)), new Flatten(), new Dense(2)),
        _ => throw new ArgumentException(name),
    };

    private static (Tensor X, Tensor Y) Data(string stack)
    {
        if (stack.Contains("masked"))
        {
            var rng = new Random(5);
            var tokens = new float[96 * 10];
            for (int n = 0; n < 96; n++)
                for (int t = 0; t < 1 + n % 9; t++) tokens[n * 10 + t] = rng.Next(1, 10);
            var xt = Tensor.FromArray(tokens, [96, 10]);
            return (xt, xt.Sum(1) > 20f);
        }
        var x = Tensor.RandomNormal([96, 6, 3], seed: 2);
        return (x, x.Sum(1).Sum(1) > 0f);
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TrainsFusedWithTheTapesBits(string stack)
    {
        var (x, y) = Data(stack);
        BothPaths.AssertFusedEqualsTape(() => Stack(stack), x, y, epochs: 2, rate: 0.01f, seed: 7);
    }

    [Fact]
    public void SavesAndLoads()
    {
        var (x, y) = Data("ave_custom_backward");
        var loaded = BothPaths.FitSaveLoad(Stack("ave_custom_backward"), x, y);
        var bi = Assert.IsType<Bidirectional>(loaded.Layers[1]);
        Assert.Equal("ave", bi.MergeMode);
        Assert.NotNull(bi.BackwardLayer);
        var (xm, ym) = Data("sum_sequences_masked");
        BothPaths.FitSaveLoad(Stack("sum_sequences_masked"), xm, ym);
    }
}
