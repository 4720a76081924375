using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Sequence;

/// <summary>dropout and recurrentDropout on SimpleRNN, LSTM and GRU, as Keras: one mask per sequence for the input and
/// one for the state, drawn per call in training only, the same at every step; seeded, both paths bit for bit, and the
/// gradient through fixed masks matches finite differences.</summary>
public class RecurrentDropoutTests
{
    private static readonly Tensor X = Tensor.RandomNormal([3, 5, 4], seed: 11);

    public static TheoryData<string> Kinds => ["simple_rnn", "lstm", "gru", "gru_reset_before"];

    private static RecurrentLayer Make(string kind, float dropout, float recurrentDropout, bool sequences = true) => kind switch
    {
        "simple_rnn" => new SimpleRNN(3, dropout: dropout, recurrentDropout: recurrentDropout, seed: 4, returnSequences: sequences),
        "lstm" => new LSTM(3, dropout: dropout, recurrentDropout: recurrentDropout, seed: 4, returnSequences: sequences),
        "gru" => new GRU(3, dropout: dropout, recurrentDropout: recurrentDropout, seed: 4, returnSequences: sequences),
        _ => new GRU(3, dropout: dropout, recurrentDropout: recurrentDropout, seed: 4, returnSequences: sequences, resetAfter: false),
    };

    private static (RecurrentLayer Plain, RecurrentLayer Dropped) Pair(string kind)
    {
        var plain = Make(kind, 0f, 0f);
        plain.Call(X);
        var dropped = Make(kind, 0.4f, 0.3f);
        dropped.Call(X);
        dropped.SetWeights(plain.GetWeights());
        return (plain, dropped);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void InferenceIsUnchangedAndTrainingIsSeeded(string kind)
    {
        var (plain, dropped) = Pair(kind);
        Assert.Equal(plain.Call(X).ToArray(), dropped.Call(X).ToArray());
        var again = Make(kind, 0.4f, 0.3f); // the same seed and weights: the same masks
        again.Call(X);
        again.SetWeights(dropped.GetWeights());
        float[] first = dropped.Call(X, training: true).ToArray();
        Assert.Equal(first, again.Call(X, training: true).ToArray());
        Assert.NotEqual(plain.Call(X).ToArray(), first);
        Assert.NotEqual(first, dropped.Call(X, training: true).ToArray()); // a new mask per call
    }

    /// <summary>The masks the layer draws with seed 4: the input's (rows, features), then the state's (rows, units).</summary>
    private static (float[] Input, float[] State) Masks(float dropout, float recurrent)
    {
        var rng = new CortexRandom(4);
        float[] input = new float[3 * 4], state = new float[3 * 3];
        if (dropout > 0) rng.FillKeepMask(input, dropout, 1f / (1f - dropout));
        if (recurrent > 0) rng.FillKeepMask(state, recurrent, 1f / (1f - recurrent));
        return (input, state);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void InputDropoutIsOneMaskPerSequenceOnTheInput(string kind)
    {
        var plain = Make(kind, 0f, 0f);
        plain.Call(X);
        var dropped = Make(kind, 0.5f, 0f);
        dropped.Call(X);
        dropped.SetWeights(plain.GetWeights());
        var keep = Masks(0.5f, 0f).Input;
        var x = X.ToArray();
        for (int i = 0; i < x.Length; i++) x[i] *= keep[i / 20 * 4 + i % 4]; // row i / (5·4), feature i % 4
        ReferenceData.AssertClose(plain.Call(Tensor.FromArray(x, [3, 5, 4])), dropped.Call(X, training: true), kind);
    }

    [Fact]
    public void SimpleRnnRecurrentDropoutMasksTheStateBeforeTheRecurrentKernel()
    {
        // h_t = tanh(x_t·W + (h_{t−1} ⊙ k)·U + b), written out.
        var layer = Make("simple_rnn", 0f, 0.5f);
        layer.Call(X);
        var k = Masks(0f, 0.5f).State;
        float[] w = layer.Kernel!.ToArray(), u = layer.RecurrentKernel!.ToArray(), b = layer.Bias!.ToArray(), x = X.ToArray();
        var expected = new float[3 * 5 * 3];
        for (int n = 0; n < 3; n++)
        {
            var h = new float[3];
            for (int t = 0; t < 5; t++)
            {
                var next = new float[3];
                for (int j = 0; j < 3; j++)
                {
                    double z = b[j];
                    for (int f = 0; f < 4; f++) z += x[(n * 5 + t) * 4 + f] * w[f * 3 + j];
                    for (int i = 0; i < 3; i++) z += h[i] * k[n * 3 + i] * u[i * 3 + j];
                    next[j] = (float)Math.Tanh(z);
                }
                h = next;
                h.CopyTo(expected, (n * 5 + t) * 3);
            }
        }
        ReferenceData.AssertClose(Tensor.FromArray(expected, [3, 5, 3]), layer.Call(X, training: true), "simple_rnn recurrent dropout");
    }

    [Fact]
    public void GruRecurrentDropoutMasksTheCandidateAsKeras3()
    {
        // Keras 3's GRUCell: hh = tanh(x·W_h + b_h + r ⊙ (h·U_h + b_hh)); hh ⊙= k; h = z ⊙ h_{t−1} + (1 − z) ⊙ hh.
        var layer = Make("gru", 0f, 0.5f);
        layer.Call(X);
        layer.Bias!.Assign(Tensor.RandomNormal([2, 9], seed: 14));
        var k = Masks(0f, 0.5f).State;
        float[] w = layer.Kernel!.ToArray(), u = layer.RecurrentKernel!.ToArray(), b = layer.Bias.ToArray(), x = X.ToArray();
        static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
        var expected = new float[3 * 5 * 3];
        for (int n = 0; n < 3; n++)
        {
            var h = new double[3];
            for (int t = 0; t < 5; t++)
            {
                var xw = new double[9];
                var hu = new double[9];
                for (int j = 0; j < 9; j++)
                {
                    xw[j] = b[j];
                    hu[j] = b[9 + j];
                    for (int f = 0; f < 4; f++) xw[j] += x[(n * 5 + t) * 4 + f] * w[f * 9 + j];
                    for (int i = 0; i < 3; i++) hu[j] += h[i] * u[i * 9 + j];
                }
                var next = new double[3];
                for (int j = 0; j < 3; j++)
                {
                    double z = Sigmoid(xw[j] + hu[j]), r = Sigmoid(xw[3 + j] + hu[3 + j]);
                    double hh = Math.Tanh(xw[6 + j] + r * hu[6 + j]) * k[n * 3 + j];
                    next[j] = z * h[j] + (1 - z) * hh;
                }
                h = next;
                for (int j = 0; j < 3; j++) expected[(n * 5 + t) * 3 + j] = (float)h[j];
            }
        }
        ReferenceData.AssertClose(Tensor.FromArray(expected, [3, 5, 3]), layer.Call(X, training: true), "gru recurrent dropout", 1e-4f, 1e-5f);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void GradientThroughFixedMasksMatchesFiniteDifferences(string kind)
    {
        foreach (var (dropout, recurrent) in new[] { (0.4f, 0f), (0f, 0.4f), (0.3f, 0.3f) })
        {
            var layer = Make(kind, dropout, recurrent);
            layer.Call(X);
            var fixedMasks = new FixedMasks(layer);
            var x = Tensor.RandomNormal([3, 5, 4], seed: 12);
            Tensor[] sources = [x, .. layer.TrainableWeights];
            var upstream = Tensor.RandomNormal([3, 5, 3], seed: 13);
            var grads = ReferenceData.LayerGradients(fixedMasks, x, sources, upstream);
            ReferenceData.AssertFiniteDifferences($"{kind} dropout {dropout} recurrent {recurrent}", fixedMasks, x, sources, grads, upstream);
        }
    }

    /// <summary>The layer in training mode, its generator put back before every call: the same masks each time.</summary>
    private sealed class FixedMasks(RecurrentLayer inner) : Layer(inner.Name + "_fixed")
    {
        private readonly uint[] state = inner.Generator!.State;

        protected override Tensor CallCore(Tensor inputs, bool training)
        {
            inner.Generator!.State = state;
            return inner.Call(inputs, training: true);
        }

        public override int[] ComputeOutputShape(int[] inputShape) => inner.ComputeOutputShape(inputShape);
    }

    public static TheoryData<string> Stacks => ["lstm_gru", "simple_rnn_masked", "bidirectional"];

    private static Sequential Stack(string name) => name switch
    {
        "lstm_gru" => new(new Input([6, 3]), new LSTM(5, dropout: 0.2f, recurrentDropout: 0.3f, seed: 1, returnSequences: true),
            new GRU(4, dropout: 0.1f, recurrentDropout: 0.2f, seed: 2, resetAfter: false), new Dense(2)),
        "simple_rnn_masked" => new(new Input([6, 3]), new Masking(), new SimpleRNN(4, dropout: 0.3f, recurrentDropout: 0.3f, seed: 3),
            new Dense(2)),
        "bidirectional" => new(new Input([6, 3]), new Bidirectional(new GRU(3, dropout: 0.2f, recurrentDropout: 0.2f, seed: 5)), new Dense(2)),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TrainsFusedWithTheTapesBits(string stack)
    {
        var x = Tensor.RandomNormal([96, 6, 3], seed: 2);
        for (int n = 0; n < 96; n += 3) x.Span.Slice(n * 18 + 15, 3).Clear(); // some padded last steps
        var y = x.Sum(1).Sum(1) > 0f;
        BothPaths.AssertFusedEqualsTape(() => Stack(stack), x, y, epochs: 2, rate: 0.01f, seed: 7);
    }

    [Fact]
    public void SavesAndLoadsTheMasksStream()
    {
        var x = Tensor.RandomNormal([64, 6, 3], seed: 3);
        var loaded = BothPaths.FitSaveLoad(Stack("bidirectional"), x, x.Sum(1).Sum(1) > 0f);
        var bi = Assert.IsType<Bidirectional>(loaded.Layers[1]);
        Assert.Equal(0.2f, bi.Forward.Dropout);
        Assert.Equal(5, bi.Forward.Seed);
        Assert.Same(bi.Forward.Generator, bi.Backward.Generator);
    }

    [Fact]
    public void RatesOutsideZeroToOneAreRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LSTM(2, dropout: 1f));
        Assert.StartsWith("LSTM: dropout must be in [0, 1). Received: dropout=1", e.Message);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => new GRU(2, recurrentDropout: -0.1f));
        Assert.StartsWith("GRU: recurrentDropout must be in [0, 1). Received: recurrentDropout=-0.1", r.Message);
    }
}
