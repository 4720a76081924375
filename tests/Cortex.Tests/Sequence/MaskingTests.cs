using Cortex.Layers;
using Cortex.Models;

namespace Cortex.Tests.Sequence;

/// <summary>Masks as Keras passes them (Masking, Embedding(maskZero) → layers that keep the time axis → the recurrent
/// layers and GlobalAveragePooling1D), beyond the PyTorch values in sequence.json: padding is ignored, both training
/// paths give the same bits, errors name the layer.</summary>
public class MaskingTests
{
    /// <summary>Right-padded token sequences of lengths 1–8 in 10 steps (tokens 1–9, padding 0); the label is whether
    /// the last real token is at least 5 — which a model reading the padding as data would have to carry through it.</summary>
    private static (Tensor X, Tensor Y) LastToken(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * 10];
        var y = new float[rows];
        for (int n = 0; n < rows; n++)
        {
            int length = rng.Next(1, 9);
            for (int t = 0; t < length; t++) x[n * 10 + t] = rng.Next(1, 10);
            y[n] = x[n * 10 + length - 1] >= 5 ? 1 : 0;
        }
        return (Tensor.FromArray(x, [rows, 10]), Tensor.FromArray(y, [rows]));
    }

    private static Sequential EmbeddingLstm() =>
        new(new Input([10]), new Embedding(10, 8, maskZero: true), new LSTM(12), new Dense(2));

    [Fact]
    public void EmbeddingMaskZeroThenLstmLearnsAcrossPaddingOnBothPathsWithTheSameBits()
    {
        var (x, y) = LastToken(640, 1);
        float accuracy = BothPaths.AssertFusedEqualsTape(EmbeddingLstm, x, y, epochs: 12, rate: 0.02f, seed: 7);
        Assert.True(accuracy > 0.95f, $"accuracy {accuracy}");
    }

    public static TheoryData<string> Stacks => ["masking_gru_dropout_gap", "embedding_lstm_sequences_td_simple_rnn", "embedding_gru_backwards_gap"];

    private static Sequential Stack(string name) => name switch
    {
        "masking_gru_dropout_gap" => new(new Input([10, 1]), new Masking(), new GRU(6, returnSequences: true), new Dropout(0.2f, seed: 3),
            new Activation("tanh"), new GlobalAveragePooling1D(), new Dense(2)),
        "embedding_lstm_sequences_td_simple_rnn" => new(new Input([10]), new Embedding(10, 4, maskZero: true),
            new LSTM(5, returnSequences: true), new TimeDistributed(new Dense(3, "relu")), new SimpleRNN(4, goBackwards: true), new Dense(2)),
        "embedding_gru_backwards_gap" => new(new Input([10]), new Embedding(10, 4, maskZero: true),
            new GRU(5, resetAfter: false, goBackwards: true, returnSequences: true), new GlobalAveragePooling1D(), new Dense(2)),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Stacks))]
    public void MaskedStacksTrainFusedWithTheTapesBits(string stack)
    {
        var (x, y) = LastToken(96, 2);
        if (stack.StartsWith("masking")) x = x.Reshape([96, 10, 1]);
        BothPaths.AssertFusedEqualsTape(() => Stack(stack), x, y, epochs: 2, rate: 0.01f, seed: 7);
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("simple_rnn")]
    public void RightPaddingMaskedIsTheShorterSequence(string kind)
    {
        // A masked recurrent layer on a padded sequence ends where the unpadded one ends; its returned sequence carries
        // the last state over the padding (Keras's zero_output_for_mask=False).
        RecurrentLayer Make(bool sequences) => kind switch
        {
            "lstm" => new LSTM(4, returnSequences: sequences),
            "gru" => new GRU(4, returnSequences: sequences),
            _ => new SimpleRNN(4, returnSequences: sequences),
        };
        var x = Tensor.RandomNormal([1, 6, 3], seed: 4);
        var mask = Tensor.FromArray(new float[,] { { 1, 1, 1, 1, 0, 0 } });
        var layer = Make(true);
        layer.Call(x);
        var padded = layer.Call(x, mask: mask).ToArray();
        var shorter = layer.Call(Tensor.FromArray(x.ToArray()[..12], [1, 4, 3])).ToArray();
        Assert.Equal(shorter, padded[..16]);
        Assert.Equal(shorter[12..], padded[16..20]);
        Assert.Equal(shorter[12..], padded[20..]);
        var last = Make(false);
        last.Call(x);
        last.SetWeights(layer.GetWeights());
        Assert.Equal(shorter[12..], last.Call(x, mask: mask).ToArray());
    }

    [Fact]
    public void MaskingPassesDataStepsAndMarksPadding()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 0, 0, 0, 3, 7, 7, 7, 7, 1, 7 }, [2, 3, 2]);
        Assert.Equal([1, 0, 1, 1, 1, 1], new Masking().ComputeMask(x, null)!.ToArray());
        Assert.Equal([1, 1, 1, 0, 0, 1], new Masking(7f).ComputeMask(x, null)!.ToArray());
        Assert.Equal([1, 2, 0, 0, 0, 3, 0, 0, 0, 0, 1, 7], new Masking(7f).Call(x).ToArray());
        Assert.Equal(0f, new Masking().MaskValue);
        Assert.Equal([1, 0, 1], new Embedding(5, 2, maskZero: true).ComputeMask(Tensor.FromArray(new float[,] { { 3, 0, 1 } }), null)!.ToArray());
        // Passed on by layers that keep the time axis, ended by a recurrent layer returning its last state.
        var m = Tensor.Ones([2, 3]);
        Assert.Same(m, new Dropout(0.5f).ComputeMask(x, m));
        Assert.Same(m, new LSTM(2, returnSequences: true).ComputeMask(x, m));
        Assert.Null(new LSTM(2).ComputeMask(x, m));
        Assert.Null(new Flatten().ComputeMask(x, m));
    }

    [Fact]
    public void AMaskOfTheWrongShapeNamesTheLayer()
    {
        var lstm = new LSTM(2, name: "enc");
        var e = Assert.Throws<ArgumentException>(() => lstm.Call(Tensor.Zeros(2, 5, 3), mask: Tensor.Ones([2, 4])));
        Assert.Equal("LSTM 'enc' expects a mask of shape (2, 5) (the input's shape without its last axis) for input of shape (2, 5, 3). Received: mask of shape (2, 4)", e.Message);
        // An Embedding(maskZero) on (batch, positions, k) indices makes a (batch, positions, k) mask; the layers after
        // it that keep those axes take it.
        var model = new Sequential(new Input([3, 2]), new Embedding(5, 4, maskZero: true), new Dense(2), new Flatten(), new Dense(1));
        Assert.Equal([2, 1], model.Predict(Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 0, 1, 1, 0, 0, 2, 2 }, [2, 3, 2])).Shape);
        var m = Assert.Throws<ArgumentException>(() => new Masking(name: "pad").Call(Tensor.Zeros(2, 5)));
        Assert.Equal("Masking 'pad' expects input of rank 3 (batch, timesteps, features). Received: shape (2, 5)", m.Message);
    }

    [Fact]
    public void SavesAndLoads()
    {
        var (x, y) = LastToken(64, 3);
        var loaded = BothPaths.FitSaveLoad(Stack("masking_gru_dropout_gap"), x.Reshape([64, 10, 1]), y);
        Assert.IsType<Masking>(loaded.Layers[1]);
    }
}
