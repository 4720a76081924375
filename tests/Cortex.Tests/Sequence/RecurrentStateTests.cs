using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Models;

namespace Cortex.Tests.Sequence;

/// <summary>
/// Keras's <c>initial_state</c> and <c>return_state</c>: what a call returns (eagerly and in a graph), the errors for
/// states that do not fit, and Keras's sequence-to-sequence model (an encoder's states start a decoder) trained, saved
/// and loaded. The values and gradients against PyTorch are in <see cref="SequenceReferenceTests"/> (the
/// <c>*_initial_*</c> and <c>*_return_state*</c> cases).
/// </summary>
public class RecurrentStateTests
{
    private static Tensor Sequence(int batch, int steps, int features, int seed) => Tensor.RandomNormal([batch, steps, features], seed: seed);

    [Fact]
    public void ReturnStateGivesKerasOutputsAndCallGivesTheOutputAlone()
    {
        var x = Sequence(2, 5, 3, 1);
        var lstm = new LSTM(4, returnState: true, seed: 1);
        Tensor[] outs = lstm.CallWithState(x);
        Assert.Equal(3, outs.Length);
        Assert.All(outs, o => Assert.Equal([2, 4], o.Shape));
        Assert.Equal(outs[0].ToArray(), outs[1].ToArray());          // the last output is h
        Assert.NotEqual(outs[1].ToArray(), outs[2].ToArray());       // c is not
        Assert.Equal(outs[0].ToArray(), lstm.Call(x).ToArray());     // Call: the output alone

        var gru = new GRU(3, returnSequences: true, returnState: true);
        Tensor[] g = gru.CallWithState(x);
        Assert.Equal(2, g.Length);
        Assert.Equal([2, 5, 3], g[0].Shape);
        Assert.Equal(g[0].Slice(4, 1, axis: 1).Reshape(2, 3).ToArray(), g[1].ToArray());   // h is the last step's output

        Assert.Single(new SimpleRNN(3).CallWithState(x));            // without returnState: [output]
        Assert.Equal(5, new Bidirectional(new LSTM(2, returnState: true)).CallWithState(x).Length);   // output, h, c both ways
    }

    [Fact]
    public void ZeroInitialStatesGiveTheSameBitsAsNone()
    {
        var x = Sequence(3, 4, 2, 2);
        foreach (RecurrentLayer layer in new RecurrentLayer[] { new SimpleRNN(3, returnSequences: true), new LSTM(3, goBackwards: true), new GRU(3, resetAfter: false) })
        {
            var zeros = Enumerable.Range(0, layer is LSTM ? 2 : 1).Select(_ => Tensor.Zeros([3, 3])).ToArray();
            Assert.Equal(layer.Call(x).ToArray(), layer.CallWithState(x, zeros)[0].ToArray());
        }
    }

    [Fact]
    public void GivenStatesChangeTheOutputAndTakeGradients()
    {
        var x = Sequence(2, 3, 2, 3);
        var lstm = new LSTM(3);
        var h0 = new Variable(Tensor.RandomNormal([2, 3], seed: 4), "h0");
        var c0 = new Variable(Tensor.RandomNormal([2, 3], seed: 5), "c0");
        Assert.NotEqual(lstm.Call(x).ToArray(), lstm.CallWithState(x, [h0, c0])[0].ToArray());
        using var tape = new GradientTape();
        var y = lstm.CallWithState(x, [h0, c0])[0];
        var grads = tape.Gradient(y.Sum(), h0, c0);
        Assert.All(grads, g => Assert.Contains(g.ToArray(), v => v != 0f));
    }

    [Fact]
    public void AFullyMaskedRowKeepsItsInitialStates()
    {
        var x = Sequence(2, 3, 2, 6);
        var mask = Tensor.FromArray(new float[,] { { 1, 1, 0 }, { 0, 0, 0 } });
        var h0 = Tensor.RandomNormal([2, 4], seed: 7);
        var c0 = Tensor.RandomNormal([2, 4], seed: 8);
        var outs = new LSTM(4, returnState: true).CallWithState(x, [h0, c0], mask: mask);
        Assert.Equal(h0.Slice(1, 1).ToArray(), outs[1].Slice(1, 1).ToArray());
        Assert.Equal(c0.Slice(1, 1).ToArray(), outs[2].Slice(1, 1).ToArray());
        Assert.NotEqual(h0.Slice(0, 1).ToArray(), outs[1].Slice(0, 1).ToArray());
    }

    [Fact]
    public void StatesThatDoNotFitAreRefusedNamingTheLayerAndTheExpectedShapes()
    {
        var x = Sequence(2, 3, 2, 9);
        var lstm = new LSTM(4, name: "enc");
        var e = Assert.Throws<ArgumentException>(() => lstm.CallWithState(x, [Tensor.Zeros([2, 4])]));
        Assert.Equal("LSTM 'enc' expects 2 initial state(s): h (2, 4), c (2, 4). Received: 1 initial state(s) of shapes (2, 4)", e.Message);
        e = Assert.Throws<ArgumentException>(() => lstm.CallWithState(x, [Tensor.Zeros([2, 4]), Tensor.Zeros([2, 5])]));
        Assert.Equal("LSTM 'enc': initial state 1 (c) must have shape (2, 4) (batch, units). Received: shape (2, 5)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new GRU(3, name: "g").CallWithState(x, [Tensor.Zeros([3, 3])]));
        Assert.Equal("GRU 'g': initial state 0 (h) must have shape (2, 3) (batch, units). Received: shape (3, 3)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Bidirectional(new SimpleRNN(2), name: "bi").CallWithState(x, [Tensor.Zeros([2, 2])]));
        Assert.Equal("Bidirectional 'bi' expects 2 initial state(s): forward h (2, 2), backward h (2, 2). Received: 1 initial state(s) of shapes (2, 2)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Dense(3, name: "d").CallWithState(x, [Tensor.Zeros([2, 3])]));
        Assert.Equal("Dense 'd' takes no initial states: only the recurrent layers (SimpleRNN, LSTM, GRU) and Bidirectional carry states. Received: 1 initial state(s)", e.Message);

        // In a graph: the same messages, with where the inputs came from.
        var seq = new Input([3, 2], "seq");
        var h = new Input([5], "h");
        e = Assert.Throws<ArgumentException>(() => new SimpleRNN(4, name: "rnn").CallWithState(seq, [h]));
        Assert.StartsWith("SimpleRNN 'rnn': initial state 0 (h) must have shape (batch, 4) (batch, units). Received: shape (None, 5)", e.Message);
        Assert.Throws<ArgumentException>(() => new Dense(2, name: "d2").CallWithState(seq, [h]));
    }

    [Fact]
    public void ASequentialRefusesALayerThatReturnsItsStates()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sequential(new Input([3, 2]), new LSTM(4, returnState: true, name: "lstm_rs")));
        Assert.StartsWith("Sequential 'sequential", e.Message);
        Assert.Contains("LSTM 'lstm_rs' has returnState=true, so it returns its output and its final states; all layers in a Sequential model should have a single output tensor.", e.Message);
        Assert.Throws<ArgumentException>(() => new Sequential(new Input([3, 2]), new Bidirectional(new GRU(4, returnState: true))));
    }

    [Fact]
    public void ReturnStateIsInTheConfigAndBidirectionalPassesItOn()
    {
        Assert.Equal(true, new LSTM(2, returnState: true).GetConfig()["return_state"]);
        Assert.Equal(false, new GRU(2).GetConfig()["return_state"]);
        var bi = new Bidirectional(new SimpleRNN(2, returnState: true));
        Assert.True(bi.Forward.ReturnState);
        Assert.True(bi.Backward.ReturnState);
        var e = Assert.Throws<ArgumentException>(() => new Bidirectional(new GRU(2, returnState: true, name: "f"), backwardLayer: new GRU(2, goBackwards: true)));
        Assert.StartsWith("Bidirectional: backwardLayer must have returnState=True as layer 'f'. Received: returnState=False", e.Message);
    }

    // Keras's sequence-to-sequence pattern: the encoder's final states start the decoder, whose outputs are the model's.
    private static Functional EncoderDecoder()
    {
        var source = new Input([6, 3], "source");
        var target = new Input([4, 2], "target");
        SymbolicTensor[] encoded = new LSTM(5, returnState: true, name: "encoder").CallWithState(source);
        SymbolicTensor decoded = new LSTM(5, returnSequences: true, name: "decoder").CallWithState(target, encoded[1..])[0];
        return new Functional([source, target], [new Dense(2, name: "readout").Call(decoded)], name: "seq2seq");
    }

    [Fact]
    public void AnEncoderDecoderBuildsTrainsThroughTheStatesAndLoadsBackToTheSameBits()
    {
        CortexRandom.SetGlobalSeed(11);
        var model = EncoderDecoder();
        var encoderOut = model.Nodes.Single(n => n.Layer.Name == "encoder");
        Assert.Equal(3, encoderOut.Outputs.Count);
        Assert.Equal([1, 2], model.Nodes.Single(n => n.Layer.Name == "decoder").Inputs.Skip(1).Select(t => t.Index));

        string summary = model.SummaryString();
        Assert.Contains("│ encoder (LSTM)                  │ [(None, 5), (None, 5), │           180 │ source[0][0]           │", summary);
        Assert.Contains("│                                 │ (None, 5)]             │               │                        │", summary);
        Assert.Contains("encoder[0][1]", summary);
        Assert.Contains("encoder[0][2]", summary);
        Assert.Contains("target[0][0]", summary);

        var source = Sequence(32, 6, 3, 12);
        var target = Sequence(32, 4, 2, 13);
        var y = target * 0.5f + source.Slice(0, 4, axis: 1).Slice(0, 2, axis: 2);   // needs the source: only the states carry it
        model.Compile(new Adam(0.02f), new MeanSquaredError());
        float[] encoderBefore = model.Layers.Single(l => l.Name == "encoder").Weights[0].ToArray();
        var history = model.Fit([source, target], [y], epochs: 5, batchSize: 8, verbose: 0);
        Assert.True(history.Values["loss"][^1] < history.Values["loss"][0], $"loss {history.Values["loss"][0]} → {history.Values["loss"][^1]}");
        Assert.NotEqual(encoderBefore, model.Layers.Single(l => l.Name == "encoder").Weights[0].ToArray());   // reached through the states

        var loaded = Assert.IsType<Functional>(SaveLoadCheck.RoundTrip(model));
        Assert.Equal(model.Predict([source, target])[0].ToArray(), loaded.Predict([source, target])[0].ToArray());
        Assert.Equal(summary, loaded.SummaryString());
    }

    [Fact]
    public void AModelMayOutputStatesAndNestAsABlock()
    {
        var x = new Input([4, 2], "x");
        SymbolicTensor[] outs = new GRU(3, returnState: true, name: "gru").CallWithState(x);
        var model = new Functional(x, outs[1], name: "last_state");
        var data = Sequence(2, 4, 2, 14);
        Assert.Equal(model.Layers.Single(l => l.Name == "gru").Call(data).ToArray(), model.Predict(data).ToArray());
        var loaded = SaveLoadCheck.RoundTrip(model);
        Assert.Equal(model.Predict(data).ToArray(), loaded.Predict(data).ToArray());
        var inner = new Input([4, 2]);
        var outer = new Functional(inner, model.Call(inner));
        Assert.Equal([-1, 3], outer.OutputShape());
    }
}
