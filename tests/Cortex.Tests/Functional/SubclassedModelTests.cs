using Cortex.Layers;
using Cortex.Losses;
using Cortex.Metrics;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.FunctionalApi;

/// <summary>A residual MLP written as a subclass: layers tracked explicitly, its own forward pass.</summary>
internal sealed class ResidualMlp : Model
{
    private readonly Dense inner, hidden, head;
    private readonly Add add = new();

    public ResidualMlp(int width = 16, string? name = null) : base(name)
    {
        inner = Track(new Dense(width, "relu"));
        hidden = Track(new Dense(width, "relu"));
        Track(add);
        head = Track(new Dense(2));
    }

    protected override Tensor CallCore(Tensor x, bool training)
    {
        var h = inner.Call(x, training);
        return head.Call(add.Call([hidden.Call(h, training), h], training), training);
    }
}

/// <summary>A model that forgets to track one of its layers.</summary>
internal sealed class ForgetfulModel : Model
{
    private readonly Dense tracked, untracked = new(2, name: "forgotten");

    public ForgetfulModel() => tracked = Track(new Dense(4));

    protected override Tensor CallCore(Tensor x, bool training) => untracked.Call(tracked.Call(x, training), training);
}

/// <summary>Keras's "custom loss in train_step": the compiled loss plus a penalty on the logits' size, with a Mean
/// tracker reset every epoch; or, with <c>callBase</c>, the standard step.</summary>
internal sealed class PenalisedMlp : Model
{
    private readonly Dense hidden, head;
    private readonly Mean lossTracker = new("loss");
    private readonly bool callBase;
    public float Penalty { get; init; } = 0.1f;

    public PenalisedMlp(bool callBase = false)
    {
        this.callBase = callBase;
        hidden = Track(new Dense(8, "tanh"));
        head = Track(new Dense(2));
    }

    protected override Tensor CallCore(Tensor x, bool training) => head.Call(hidden.Call(x, training), training);

    protected override IEnumerable<Metric> Metrics => [lossTracker];

    protected override IReadOnlyDictionary<string, float> TrainStep(Tensor[] x, Tensor[] y, Tensor? sampleWeight)
    {
        if (callBase) return base.TrainStep(x, y, sampleWeight);
        Tensor loss;
        Tensor[] grads;
        using (var tape = new GradientTape())
        {
            var pred = Call(x[0], training: true);
            loss = ComputeLoss(y, [pred], sampleWeight) + pred.Square().Mean() * Penalty;
            grads = tape.Gradient(loss, [.. TrainableVariables]);
        }
        Optimizer!.ApplyGradients(grads, TrainableVariables);
        lossTracker.UpdateState(loss.Item(), x[0].Shape[0]);
        return new Dictionary<string, float> { ["loss"] = lossTracker.Result(), ["last_batch_loss"] = loss.Item() };
    }
}

/// <summary>The README's example, verbatim: it must compile and train.</summary>
internal sealed class Penalised : Model
{
    private readonly Dense hidden, head;
    public Penalised() { hidden = Track(new Dense(64, "relu")); head = Track(new Dense(10)); }
    protected override Tensor CallCore(Tensor x, bool training) => head.Call(hidden.Call(x, training), training);
    protected override IReadOnlyDictionary<string, float> TrainStep(Tensor[] x, Tensor[] y, Tensor? sampleWeight)
    {
        using var tape = new GradientTape();
        var pred = Call(x[0], training: true);
        var loss = ComputeLoss(y, [pred], sampleWeight) + pred.Square().Mean() * 0.01f;  // compiled loss + a penalty
        Optimizer!.ApplyGradients(tape.Gradient(loss, [.. TrainableVariables]), TrainableVariables);
        return new Dictionary<string, float> { ["loss"] = loss.Item() };
    }
}

/// <summary>A GAN-like model: two tracked sub-models and two optimizers, updated in turn in one TrainStep.</summary>
internal sealed class TinyGan : Model
{
    public Sequential Generator { get; }
    public Sequential Discriminator { get; }
    private readonly Optimizer generatorOptimizer = new Adam(0.01f);
    private readonly BinaryCrossentropy bce = new(fromLogits: true);

    public TinyGan()
    {
        Generator = TrackModel(new Sequential(new Dense(8, "relu", name: "g_hidden"), new Dense(2, name: "g_out")));
        Discriminator = TrackModel(new Sequential(new Dense(8, "relu", name: "d_hidden"), new Dense(1, name: "d_out")));
    }

    /// <summary>The discriminator's logit for real samples (the model's forward pass, so Predict works).</summary>
    protected override Tensor CallCore(Tensor x, bool training) => Discriminator.Call(x, training);

    protected override IReadOnlyDictionary<string, float> TrainStep(Tensor[] x, Tensor[] y, Tensor? sampleWeight)
    {
        int n = x[0].Shape[0];
        var noise = Tensor.RandomNormal([n, 3], seed: 7);
        Tensor ones = Tensor.Ones([n, 1]), zeros = Tensor.Zeros([n, 1]);
        Tensor dLoss, gLoss;
        Tensor[] grads;
        var dVars = Discriminator.TrainableVariables;
        using (var tape = new GradientTape())
        {
            var fake = Generator.Call(noise, training: true);
            dLoss = bce.Call(ones, Discriminator.Call(x[0], training: true)) + bce.Call(zeros, Discriminator.Call(fake, training: true));
            grads = tape.Gradient(dLoss, [.. dVars]);
        }
        Optimizer!.ApplyGradients(grads, dVars);
        var gVars = Generator.TrainableVariables;
        using (var tape = new GradientTape())
        {
            gLoss = bce.Call(ones, Discriminator.Call(Generator.Call(noise, training: true), training: true));
            grads = tape.Gradient(gLoss, [.. gVars]);
        }
        generatorOptimizer.ApplyGradients(grads, gVars);
        return new Dictionary<string, float> { ["d_loss"] = dLoss.Item(), ["g_loss"] = gLoss.Item() };
    }
}

/// <summary>Subclassed models (a class deriving from <see cref="Model"/> with its own forward pass): tracking, Fit,
/// Evaluate, Predict, the summary, a custom TrainStep, and saving the weights.</summary>
public class SubclassedModelTests
{
    private sealed class BatchLogs(List<Dictionary<string, float>> into) : Callbacks.Callback
    {
        public override void OnTrainBatchEnd(int batch, IReadOnlyDictionary<string, float> logs) => into.Add(new(logs));
    }

    [Fact]
    public void ASubclassedModelTracksItsLayersAndLearnsCircles()
    {
        CortexRandom.SetGlobalSeed(3);
        var model = new ResidualMlp(32);
        Assert.StartsWith("residual_mlp", model.Name);
        Assert.Equal(4, model.Layers.Count);
        Assert.False(model.Built);
        FunctionalTests.AssertLearnsCircles(model, "tape: the model is subclassed (its own CallCore)");
        Assert.Equal(6, model.TrainableVariables.Count); // three Dense layers' kernels and biases
        Assert.Equal([-1, 2], model.InputShape!);
        Assert.Equal([-1, 2], model.OutputShape());
    }

    [Fact]
    public void ASubclassedModelTrainsAsTheFunctionalOfTheSameLayersBitForBit()
    {
        var (x, y) = FunctionalTests.Circles(203, seed: 4);
        var subclass = new ResidualMlp(8);
        subclass.Build([-1, 2]);
        var inputs = new Input([2]);
        SymbolicTensor h = new Dense(8, "relu").Call(inputs);
        var graph = new Functional(inputs, new Dense(2).Call(new Add().Call(new Dense(8, "relu").Call(h), h)));
        graph.SetWeights(subclass.GetWeights());
        foreach (var m in new Model[] { subclass, graph })
        {
            m.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
            m.Fit(x, y, epochs: 2, batchSize: 32, shuffle: false, verbose: 0);
        }
        var a = subclass.GetWeights();
        var b = graph.GetWeights();
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i].ToArray(), a[i].ToArray());
        Assert.Equal(graph.Evaluate(x, y), subclass.Evaluate(x, y));
    }

    [Fact]
    public void TheSummaryListsTheTrackedLayersAndTheirParameters()
    {
        var model = new ResidualMlp(4, name: "res");
        string before = model.SummaryString();
        Assert.Contains("0 (unbuilt)", before);
        model.Build([-1, 3]);
        string summary = model.SummaryString();
        Assert.Contains("Model: \"res\"", summary);
        foreach (var layer in model.Layers) Assert.Contains($"{layer.Name} ({layer.GetType().Name})", summary);
        Assert.Contains("(None, 4)", summary);
        Assert.Contains("(None, 2)", summary);
        Assert.Contains("Total params: 46", summary); // (3·4 + 4) + (4·4 + 4) + (4·2 + 2)
        Assert.DoesNotContain("Connected to", summary);
    }

    [Fact]
    public void FitRefusesALayerThatIsNotTrackedAndTrackRefusesDuplicates()
    {
        var model = new ForgetfulModel();
        model.Compile(new SGD(), new Losses.MeanSquaredError());
        var e = Assert.Throws<InvalidOperationException>(() => model.Fit(Tensor.Zeros([4, 3]), Tensor.Zeros([4, 2]), verbose: 0));
        Assert.Contains("field 'untracked' holds Dense 'forgotten'", e.Message);
        Assert.Contains("Track(", e.Message);
        Assert.False(model.Built); // refused before anything was built
    }

    private sealed class Duplicate : Model
    {
        public Duplicate(bool sameLayer)
        {
            var d = Track(new Dense(2, name: "twin"));
            if (sameLayer) Track(d);
            else Track(new Dense(2, name: "twin"));
        }
        protected override Tensor CallCore(Tensor x, bool training) => x;
    }

    [Fact]
    public void TrackingALayerTwiceOrTwoLayersOfOneNameIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new Duplicate(sameLayer: true));
        Assert.Contains("layer 'twin' is already tracked", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Duplicate(sameLayer: false));
        Assert.Contains("the name \"twin\" is used by two tracked layers", e.Message);
    }

    [Fact]
    public void ACustomTrainStepGetsTheBatchesAndItsLogsReachHistoryAndCallbacks()
    {
        var (x, y) = FunctionalTests.Circles(100, seed: 5);
        CortexRandom.SetGlobalSeed(11);
        var model = new PenalisedMlp();
        model.Build([-1, 2]);
        var initial = model.GetWeights();
        model.Compile(new SGD(0.1f), new SparseCategoricalCrossentropy(fromLogits: true));
        var batchLogs = new List<Dictionary<string, float>>();
        var history = model.Fit(x, y, epochs: 2, batchSize: 32, shuffle: false, verbose: 0,
            callbacks: [new BatchLogs(batchLogs)]);
        Assert.Equal("tape: the model overrides TrainStep", model.TrainingPath);
        Assert.Equal(8, batchLogs.Count); // 4 batches per epoch

        // The same steps by hand: the compiled loss plus the penalty, SGD on every trainable weight.
        var twin = new PenalisedMlp();
        twin.Build([-1, 2]);
        twin.SetWeights(initial);
        var optimizer = new SGD(0.1f);
        var loss = new SparseCategoricalCrossentropy(fromLogits: true);
        var expectedBatchLosses = new List<float>();
        for (int epoch = 0; epoch < 2; epoch++)
            for (int start = 0; start < 100; start += 32)
            {
                int len = Math.Min(32, 100 - start);
                Tensor xb = x.Slice(start, len), yb = y.Slice(start, len);
                Tensor value;
                Tensor[] grads;
                using (var tape = new GradientTape())
                {
                    var pred = twin.Call(xb, training: true);
                    value = loss.Call(yb, pred) + pred.Square().Mean() * 0.1f;
                    grads = tape.Gradient(value, [.. twin.TrainableVariables]);
                }
                optimizer.ApplyGradients(grads, twin.TrainableVariables);
                expectedBatchLosses.Add(value.Item());
            }
        var a = model.GetWeights();
        var b = twin.GetWeights();
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i].ToArray(), a[i].ToArray());
        Assert.Equal(expectedBatchLosses, batchLogs.Select(l => l["last_batch_loss"]));
        // The Mean tracker is reset each epoch: the epoch's "loss" is the mean of its batches' losses, weighted by rows.
        float epoch2 = (expectedBatchLosses[4] * 32 + expectedBatchLosses[5] * 32 + expectedBatchLosses[6] * 32 + expectedBatchLosses[7] * 4) / 100f;
        Assert.Equal(epoch2, history["loss"][1], 5);
        Assert.Equal(expectedBatchLosses[7], history["last_batch_loss"][1]);
    }

    [Fact]
    public void TheReadmeExampleTrains()
    {
        CortexRandom.SetGlobalSeed(2);
        var x = Tensor.RandomNormal([128, 5], seed: 1);
        var y = x.ArgMax(1);                                       // the largest feature's index: 5 of 10 classes
        var model = new Penalised();
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true));
        var history = model.Fit(x, y, epochs: 10, verbose: 0);
        Assert.True(history["loss"][^1] < history["loss"][0] / 2, $"{history["loss"][0]} → {history["loss"][^1]}");
    }

    [Fact]
    public void ATrainStepThatCallsTheBaseOneTrainsAsTheStandardStep()
    {
        var (x, y) = FunctionalTests.Circles(90, seed: 6);
        var custom = new PenalisedMlp(callBase: true);
        var plain = new PenalisedMlp(callBase: true) { Penalty = 0 };
        custom.Build([-1, 2]);
        plain.Build([-1, 2]);
        plain.SetWeights(custom.GetWeights());
        custom.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var h1 = custom.Fit(x, y, epochs: 2, shuffle: false, verbose: 0);
        // The same model through Fit's own tape step: a Functional-free reference is a Sequential of the same layers.
        var sequential = new Sequential(new Dense(8, "tanh"), new Dense(2));
        sequential.Build([-1, 2]);
        sequential.SetWeights(plain.GetWeights());
        sequential.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        Trainer.ForceTapePath = true;
        History h2;
        try { h2 = sequential.Fit(x, y, epochs: 2, shuffle: false, verbose: 0); }
        finally { Trainer.ForceTapePath = false; }
        Assert.Equal(h2["loss"], h1["loss"]);
        Assert.Equal(h2["accuracy"], h1["accuracy"]);
        var a = custom.GetWeights();
        var b = sequential.GetWeights();
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i].ToArray(), a[i].ToArray());
    }

    [Fact]
    public void AGanLikeStepUpdatesItsTwoSubModelsInTurnWithTwoOptimizers()
    {
        CortexRandom.SetGlobalSeed(5);
        var real = Tensor.RandomNormal([64, 2], seed: 3) * 0.3f + 2f; // a blob around (2, 2)
        var gan = new TinyGan();
        gan.Generator.Build([-1, 3]);
        gan.Discriminator.Build([-1, 2]);
        Assert.Equal(8, gan.TrainableVariables.Count); // both sub-models' weights are the GAN's
        var g0 = gan.Generator.GetWeights();
        var d0 = gan.Discriminator.GetWeights();
        gan.Compile(new Adam(0.01f), new BinaryCrossentropy(fromLogits: true));
        var history = gan.Fit(real, Tensor.Ones([64, 1]), epochs: 3, batchSize: 16, verbose: 0);
        Assert.Equal(["d_loss", "g_loss"], history.Values.Keys.Order());
        Assert.Equal(3, history["d_loss"].Count);
        Assert.All(history["d_loss"].Concat(history["g_loss"]), v => Assert.True(float.IsFinite(v) && v > 0));
        Assert.NotEqual(g0[0].ToArray(), gan.Generator.GetWeights()[0].ToArray());
        Assert.NotEqual(d0[0].ToArray(), gan.Discriminator.GetWeights()[0].ToArray());
        Assert.Equal(12, gan.Optimizer!.Iterations); // the discriminator's optimizer: one step per batch
    }

    [Fact]
    public void LoadRefusesASubclassedModelsFileAndLoadWeightsFillsAFreshInstance()
    {
        var (x, y) = FunctionalTests.Circles(64, seed: 8);
        var model = new ResidualMlp(8);
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, verbose: 0);
        string path = Path.Combine(Path.GetTempPath(), $"subclass-{Guid.NewGuid():N}.cortex");
        try
        {
            model.Save(path);
            var e = Assert.Throws<InvalidDataException>(() => Model.Load(path));
            Assert.StartsWith($"Cannot load model '{path}': it was saved from the subclassed model class", e.Message);
            Assert.Contains("subclassed model class 'Cortex.Tests.FunctionalApi.ResidualMlp'", e.Message);
            Assert.Contains("new ResidualMlp(…)", e.Message);
            Assert.Contains("LoadWeights", e.Message);

            var fresh = new ResidualMlp(8);
            Assert.False(fresh.Built);
            fresh.LoadWeights(path); // built from the shapes the file records
            Assert.True(fresh.Built);
            Assert.Equal(model.Predict(x).ToArray(), fresh.Predict(x).ToArray());

            var wider = new ResidualMlp(9);
            var mismatch = Assert.Throws<InvalidDataException>(() => wider.LoadWeights(path));
            Assert.Contains("shape", mismatch.Message);
            Assert.False(wider.Built); // left as it was
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void LoadWeightsFillsASequentialFromItsTwinsFile()
    {
        var a = new Sequential(new Dense(3, "relu"), new Dense(2));
        a.Build([-1, 4]);
        var b = new Sequential(new Dense(3, "relu"), new Dense(2));
        b.Build([-1, 4]);
        string path = Path.Combine(Path.GetTempPath(), $"twin-{Guid.NewGuid():N}.cortex");
        try
        {
            a.Save(path);
            b.LoadWeights(path);
            var x = Tensor.RandomNormal([5, 4], seed: 1);
            Assert.Equal(a.Predict(x).ToArray(), b.Predict(x).ToArray());
            var c = new Sequential(new Dense(3, "relu"), new Dense(5));
            c.Build([-1, 4]);
            var before = c.GetWeights();
            var e = Assert.Throws<InvalidDataException>(() => c.LoadWeights(path));
            Assert.Contains("has shape (3, 5) in model", e.Message);
            var after = c.GetWeights();
            for (int i = 0; i < before.Length; i++) Assert.Equal(before[i].ToArray(), after[i].ToArray()); // nothing changed
        }
        finally { File.Delete(path); }
    }
}
