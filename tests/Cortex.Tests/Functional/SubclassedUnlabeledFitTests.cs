using Cortex.Layers;
using Cortex.Losses;
using Mean = Cortex.Metrics.Mean;
using Metric = Cortex.Metrics.Metric;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.FunctionalApi;

/// <summary>An autoencoder with its own TrainStep: it reconstructs x and never reads y (Keras's fit(x) case).</summary>
internal sealed class TinyAutoencoder : Model
{
    private readonly Dense encoder, decoder;
    private readonly Mean lossTracker = new("loss");

    public TinyAutoencoder()
    {
        encoder = Track(new Dense(2, "tanh"));
        decoder = Track(new Dense(4));
    }

    protected override Tensor CallCore(Tensor x, bool training) => decoder.Call(encoder.Call(x, training), training);

    protected override IEnumerable<Metric> Metrics => [lossTracker];

    /// <summary>The reconstruction loss of <paramref name="x"/> and its gradients, on a tape (the test's reference too).</summary>
    public (Tensor Loss, Tensor[] Gradients) LossAndGradients(Tensor x)
    {
        using var tape = new GradientTape();
        var loss = new MeanSquaredError().Call(x, Call(x, training: true));
        return (loss, tape.Gradient(loss, [.. TrainableVariables]));
    }

    protected override IReadOnlyDictionary<string, float> TrainStep(Tensor[] x, Tensor[] y, Tensor? sampleWeight)
    {
        Assert.Empty(y); // Fit(x): no labels
        var (loss, grads) = LossAndGradients(x[0]);
        Optimizer!.ApplyGradients(grads, TrainableVariables);
        lossTracker.UpdateState(loss.Item(), x[0].Shape[0]);
        return new Dictionary<string, float> { ["loss"] = lossTracker.Result() };
    }
}

/// <summary>Fit without labels: allowed for a model with its own TrainStep, refused up front for the others.</summary>
public class SubclassedUnlabeledFitTests
{
    /// <summary>Four features that lie on a plane: an autoencoder with a code of 2 can learn them.</summary>
    private static Tensor Unlabeled(int n)
    {
        var code = Tensor.RandomNormal([n, 2], seed: 21);
        var mix = Tensor.FromArray(new float[] { 1f, 0.5f, -0.3f, 0.2f, -0.4f, 0.8f, 0.6f, 0.1f }).Reshape(2, 4);
        return code.MatMul(mix);
    }

    [Fact]
    public void AnAutoencoderFitsOnInputsAloneStepForStepAsTheTape()
    {
        CortexRandom.SetGlobalSeed(4);
        var x = Unlabeled(64);
        var model = new TinyAutoencoder();
        var reference = new TinyAutoencoder();
        model.Call(x);
        reference.Call(x);
        reference.SetWeights(model.GetWeights());
        model.Compile(new SGD(0.1f)); // no loss: the TrainStep has its own

        var history = model.Fit(x, epochs: 30, batchSize: 64, shuffle: false, verbose: 0);

        // The reference: the same tape steps by hand, plain SGD (w - 0.1·g); every epoch is one batch.
        var expected = new List<float>();
        for (int epoch = 0; epoch < 30; epoch++)
        {
            var (loss, grads) = reference.LossAndGradients(x);
            expected.Add(loss.Item());
            var vars = reference.TrainableVariables;
            for (int i = 0; i < vars.Count; i++) vars[i].Assign(vars[i].Value() - grads[i] * 0.1f);
        }
        Assert.Equal(["loss"], history.Values.Keys.ToArray());
        Assert.Equal(expected, history["loss"]);
        Assert.True(history["loss"][^1] < history["loss"][0] / 2, string.Join(", ", history["loss"]));
        var got = model.GetWeights();
        var want = reference.GetWeights();
        for (int i = 0; i < got.Length; i++) Assert.Equal(want[i].ToArray(), got[i].ToArray());
        Assert.Equal("tape: the model overrides TrainStep", model.TrainingPath);
    }

    [Fact]
    public void AGanStepFitsUnlabeledDataAsItFitsWithLabelsItIgnores()
    {
        var real = Tensor.RandomNormal([64, 2], seed: 3) * 0.3f + 2f;
        History Run(bool labels)
        {
            CortexRandom.SetGlobalSeed(5);
            var gan = new TinyGan(); // the labelled case is SubclassedModelTests's: its TrainStep never reads y
            gan.Compile(new Adam(0.01f));
            return labels ? gan.Fit([real], [Tensor.Ones([64, 1])], epochs: 4, batchSize: 16, verbose: 0)
                : gan.Fit(real, epochs: 4, batchSize: 16, verbose: 0);
        }
        var unlabeled = Run(labels: false);
        var labeled = Run(labels: true);
        Assert.Equal(["d_loss", "g_loss"], unlabeled.Values.Keys.Order());
        Assert.Equal(labeled["d_loss"], unlabeled["d_loss"]); // bit for bit, every epoch
        Assert.Equal(labeled["g_loss"], unlabeled["g_loss"]);
        Assert.All(unlabeled["d_loss"], v => Assert.True(float.IsFinite(v) && v > 0));
    }

    [Fact]
    public void FitWithoutLabelsNeedsAnOverriddenTrainStep()
    {
        var x = Unlabeled(8);
        var model = new Sequential(new Dense(4));
        model.Compile(new SGD(), new MeanSquaredError());
        var e = Assert.Throws<InvalidOperationException>(() => model.Fit(x, epochs: 1, verbose: 0));
        Assert.Contains("needs labels y unless TrainStep is overridden", e.Message);
        Assert.False(model.Built); // refused before any work

        var subclass = new ResidualMlp();
        subclass.Compile(new SGD(), new MeanSquaredError());
        Assert.Throws<InvalidOperationException>(() => subclass.Fit(x, verbose: 0));
        Assert.False(subclass.Built);
    }

    [Fact]
    public void ALossIsNeededWhereTheStandardStepRuns()
    {
        var x = Unlabeled(8);
        // The base TrainStep computes the compiled loss from y: without labels it says so.
        var callsBase = new PenalisedMlp(callBase: true);
        callsBase.Compile(new SGD(), new MeanSquaredError());
        var e = Assert.Throws<InvalidOperationException>(() => callsBase.Fit(x, verbose: 0));
        Assert.Contains("the base TrainStep needs labels y", e.Message);

        // A model without its own TrainStep compiled with an optimizer alone: Fit and Evaluate ask for a loss.
        var plain = new Sequential(new Dense(4));
        plain.Compile(new SGD());
        e = Assert.Throws<InvalidOperationException>(() => plain.Fit(x, x, verbose: 0));
        Assert.Contains("was compiled without a loss, which Fit() needs unless the model overrides TrainStep", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => plain.Evaluate(x, x));
        Assert.Contains("was compiled without a loss, which Evaluate() needs", e.Message);
    }
}
