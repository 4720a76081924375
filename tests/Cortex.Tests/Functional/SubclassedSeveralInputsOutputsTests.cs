using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.FunctionalApi;

/// <summary>Two inputs (4 and 3 features) → one tower each → joined → a trunk → a 3-class head and a regression head:
/// the subclassed twin of <see cref="SubclassedSeveralInputsOutputsTests.TwinGraph"/>.</summary>
internal sealed class TwoTowers : Model
{
    private readonly Dense towerA, towerB, trunk, cls, reg;
    private readonly Concatenate join;

    public TwoTowers(IReadOnlyList<string>? outputNames = null) : base(inputs: 2, outputs: 2, outputNames: outputNames)
    {
        towerA = Track(new Dense(8, "relu"));
        towerB = Track(new Dense(8, "relu"));
        join = Track(new Concatenate());
        trunk = Track(new Dense(16, "relu"));
        cls = Track(new Dense(3));
        reg = Track(new Dense(1));
    }

    protected override Tensor[] CallCore(Tensor[] inputs, bool training)
    {
        var h = trunk.Call(join.Call([towerA.Call(inputs[0], training), towerB.Call(inputs[1], training)], training), training);
        return [cls.Call(h, training), reg.Call(h, training)];
    }
}

/// <summary>A subclass declaring two outputs that forgot the array forward pass.</summary>
internal sealed class NoArrayForward : Model
{
    public NoArrayForward() : base(inputs: 1, outputs: 2) { }

    protected override Tensor CallCore(Tensor x, bool training) => x;
}

/// <summary>A subclass whose forward pass returns fewer tensors than it declares.</summary>
internal sealed class ShortForward : Model
{
    private readonly Dense dense;

    public ShortForward() : base(inputs: 1, outputs: 2) => dense = Track(new Dense(1));

    protected override Tensor[] CallCore(Tensor[] inputs, bool training) => [dense.Call(inputs[0], training)];
}

/// <summary>Subclassed models with several inputs and outputs: arrays in Call, Predict, Evaluate and Fit; per-output
/// losses, weights and metrics as a <see cref="Functional"/> has them; <c>output_1</c>, … log names (tf.keras's).</summary>
public class SubclassedSeveralInputsOutputsTests
{
    /// <summary>The same graph as <see cref="TwoTowers"/>, as a Functional: its weights in the same order.</summary>
    internal static Functional TwinGraph()
    {
        var a = new Input([4]);
        var b = new Input([3]);
        var towerA = new Dense(8, "relu").Call(a);
        var towerB = new Dense(8, "relu").Call(b);
        var trunk = new Dense(16, "relu").Call(new Concatenate().Call(towerA, towerB));
        return new Functional([a, b], [new Dense(3).Call(trunk), new Dense(1).Call(trunk)]);
    }

    /// <summary>Each step's running loss, as the progress bar shows it.</summary>
    private sealed class StepLosses(List<float> into) : Callbacks.Callback
    {
        public override void OnTrainBatchEnd(int batch, IReadOnlyDictionary<string, float> logs) => into.Add(logs["loss"]);
    }

    private static (Tensor[] X, Tensor[] Y) Data(int n, int seed)
    {
        var xa = Tensor.RandomNormal([n, 4], seed: seed);
        var xb = Tensor.RandomNormal([n, 3], seed: seed + 100);
        var cls = Tensor.Minimum(xa.ArgMax(1).Reshape(n), 2f);
        var reg = (xb.Sum(1, keepDims: true) * 0.5f) + xa.Slice(0, 1, axis: 1);
        return ([xa, xb], [cls, reg]);
    }

    private static void Compile(Model model) =>
        model.Compile(new Adam(0.01f), loss: [new SparseCategoricalCrossentropy(fromLogits: true), new MeanSquaredError()], lossWeights: [1f, 0.5f],
            metrics: ["accuracy"]);

    [Fact]
    public void TrainsStepForStepAsTheFunctionalTwin()
    {
        CortexRandom.SetGlobalSeed(11);
        var (x, y) = Data(96, seed: 4);
        var sub = new TwoTowers();
        var graph = TwinGraph();
        sub.Call(x); // the first forward builds the layers
        graph.SetWeights(sub.GetWeights());
        Compile(sub);
        Compile(graph);

        List<float> subSteps = [], graphSteps = [];
        CortexRandom.SetGlobalSeed(3); // the same shuffles
        var hs = sub.Fit(x, y, epochs: 6, batchSize: 16, verbose: 0, callbacks: [new StepLosses(subSteps)]);
        CortexRandom.SetGlobalSeed(3);
        var hg = graph.Fit(x, y, epochs: 6, batchSize: 16, verbose: 0, callbacks: [new StepLosses(graphSteps)]);

        Assert.Equal(36, subSteps.Count);
        Assert.Equal(graphSteps, subSteps); // every step's running loss, bit for bit

        Assert.Equal(["loss", "output_1_loss", "output_1_accuracy", "output_2_loss", "output_2_accuracy"], hs.Values.Keys.ToArray());
        string[] graphKeys = [.. hg.Values.Keys];
        for (int k = 0; k < graphKeys.Length; k++) Assert.Equal(hg[graphKeys[k]], hs[hs.Values.Keys.ElementAt(k)]); // bit for bit, every epoch
        Assert.True(hs["loss"][^1] < hs["loss"][0] / 2, string.Join(", ", hs["loss"]));
        Assert.Equal("tape: the model is subclassed (its own CallCore)", sub.TrainingPath);
        var ws = sub.GetWeights();
        var wg = graph.GetWeights();
        for (int i = 0; i < ws.Length; i++) Assert.Equal(wg[i].ToArray(), ws[i].ToArray());
    }

    [Fact]
    public void EvaluatePredictAndCallTakeAndGiveArrays()
    {
        CortexRandom.SetGlobalSeed(5);
        var model = new TwoTowers();
        Compile(model);
        var (x, y) = Data(50, seed: 8);
        model.Fit(x, y, epochs: 2, batchSize: 10, verbose: 0);

        var logs = model.Evaluate(x, y, batchSize: 50);
        Assert.Equal(["loss", "output_1_loss", "output_1_accuracy", "output_2_loss", "output_2_accuracy"], logs.Keys.ToArray());
        Assert.Equal(logs["output_1_loss"] + 0.5f * logs["output_2_loss"], logs["loss"], 5);
        var p = model.Predict(x, batchSize: 16); // four batches, stacked
        Assert.Equal([50, 3], p[0].Shape);
        Assert.Equal([50, 1], p[1].Shape);
        var whole = model.Call(x);
        Assert.Equal(whole[0].ToArray(), p[0].ToArray());
        Assert.Equal(whole[1].ToArray(), p[1].ToArray());
        // The losses Evaluate reports are the losses of the predictions.
        float ce = new SparseCategoricalCrossentropy(fromLogits: true).Call(y[0], whole[0]).Item();
        Assert.Equal(ce, logs["output_1_loss"], 5);
        Assert.Equal([-1, 3], model.OutputShape());
    }

    [Fact]
    public void OutputNamesNameTheLogs()
    {
        CortexRandom.SetGlobalSeed(6);
        var model = new TwoTowers(outputNames: ["species", "weight"]);
        Compile(model);
        var (x, y) = Data(20, seed: 2);
        var history = model.Fit(x, y, epochs: 1, verbose: 0, validationData: (x, y));
        Assert.Equal(["loss", "species_loss", "species_accuracy", "weight_loss", "weight_accuracy", "val_loss", "val_species_loss", "val_species_accuracy", "val_weight_loss", "val_weight_accuracy"],
            history.Values.Keys.ToArray());
    }

    [Fact]
    public void BuildTakesOneShapePerInput()
    {
        var model = new TwoTowers();
        var e = Assert.Throws<ArgumentException>(() => model.Build([[-1, 4]]));
        Assert.Contains("takes 2 input(s): expected one shape for each. Received: 1 shapes", e.Message);
        model.Build([[-1, 4], [-1, 3]]);
        Assert.True(model.Built);
        Assert.Equal([-1, 4], model.InputShape!);
        Assert.Equal([-1, 3], model.OutputShape());
        Assert.Equal(8 * 4 + 8 + 8 * 3 + 8 + 16 * 16 + 16 + 16 * 3 + 3 + 16 + 1, model.Variables.Sum(v => v.Size));
        Assert.Contains("Total params: 412 ", model.SummaryString());
        var graph = TwinGraph();
        graph.Build([[-1, 4], [-1, 3]]); // built when made: the shapes are checked
        Assert.Throws<ArgumentException>(() => graph.Build([[-1, 3], [-1, 4]]));
    }

    [Fact]
    public void LoadWeightsFillsAFreshInstanceBitForBit()
    {
        CortexRandom.SetGlobalSeed(8);
        var model = new TwoTowers();
        Compile(model);
        var (x, y) = Data(24, seed: 3);
        model.Fit(x, y, epochs: 1, verbose: 0);
        using var dir = new TempDir();
        string path = dir.File("towers.cortex");
        model.Save(path);
        var fresh = new TwoTowers();
        fresh.LoadWeights(path);
        var expected = model.Predict(x);
        var actual = fresh.Predict(x);
        Assert.Equal(expected[0].ToArray(), actual[0].ToArray());
        Assert.Equal(expected[1].ToArray(), actual[1].ToArray());
    }

    [Fact]
    public void CountsThatDoNotFitAreRefusedClearly()
    {
        var model = new TwoTowers();
        var (x, y) = Data(8, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => model.Compile(new Adam(), loss: [new MeanSquaredError(), new MeanSquaredError(), new MeanSquaredError()]));
        Assert.Contains("has 2 outputs: expected 1 loss or 2. Received: 3", e.Message);
        Compile(model);
        e = Assert.Throws<ArgumentException>(() => model.Fit([x[0]], y, verbose: 0));
        Assert.Contains("takes 2 input tensor(s) and 2 label tensor(s), one per output. Received: 1 and 2", e.Message);
        Assert.False(model.Built);
        var single = Assert.Throws<InvalidOperationException>(() => model.Predict(x[0]));
        Assert.Contains("has 2 inputs and 2 outputs: pass one tensor per input, as an array", single.Message);

        var missing = Assert.Throws<InvalidOperationException>(() => new NoArrayForward());
        Assert.Contains("override CallCore(Tensor[] inputs, bool training)", missing.Message);
        var shortModel = new ShortForward();
        var shortCall = Assert.Throws<InvalidOperationException>(() => shortModel.Call([x[0]]));
        Assert.Contains("CallCore must return 2 tensor(s), one per output. Received: 1 tensors", shortCall.Message);
        Assert.Throws<ArgumentException>(() => new TwoTowers(outputNames: ["same", "same"]));
    }
}
