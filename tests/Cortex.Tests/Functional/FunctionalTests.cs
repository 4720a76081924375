using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.FunctionalApi;

/// <summary>Models as graphs of layers: symbolic tensors, the graph's order, training on the tape, equality with a
/// Sequential of the same layers, shared layers, the summary and the errors.</summary>
public class FunctionalTests
{
    internal static (Tensor X, Tensor Y) Circles(int n, int seed)
    {
        var x = Tensor.RandomNormal([n, 2], seed: seed);
        var y = (x.Square().Sum(1) > 1.4f).Reshape(n); // inside or outside a circle: about half each
        return (x, y);
    }

    [Fact]
    public void SymbolicTensorsCarryShapesNamesAndTheNodeThatMadeThem()
    {
        var inputs = new Input([784], name: "pixels");
        var dense = new Dense(64, "relu", name: "hidden");
        SymbolicTensor x = dense.Call(inputs);
        Assert.Equal([-1, 784], ((SymbolicTensor)inputs).Shape);
        Assert.Equal("pixels", ((SymbolicTensor)inputs).Name);
        Assert.Equal([-1, 64], x.Shape);
        Assert.Equal("hidden", x.Name);
        Assert.Same(dense, x.Layer);
        Assert.Same(inputs.Output, Assert.Single(x.Node.Inputs));
        Assert.True(dense.Built);
        Assert.Equal("hidden_1", dense.Call(inputs).Name); // a second call: a second node, the same weights
        Assert.Equal("<SymbolicTensor shape=(None, 64), name=hidden>", x.ToString());
    }

    [Fact]
    public void AResidualMlpLearnsCircles()
    {
        CortexRandom.SetGlobalSeed(3);
        var inputs = new Input([2]);
        SymbolicTensor h = new Dense(32, "relu").Call(inputs);
        var skip = h;
        h = new Dense(32, "relu").Call(h);
        h = new Add().Call(h, skip);
        var model = new Functional(inputs, new Dense(2).Call(h), name: "residual");
        AssertLearnsCircles(model, "fused");
    }

    /// <summary>Trains <paramref name="model"/> (2 features → 2 logits) on 600 points for 40 epochs and checks it
    /// separates the circles' inside from their outside on 400 others, training on the path named.</summary>
    internal static void AssertLearnsCircles(Model model, string trainingPath)
    {
        var (x, y) = Circles(600, seed: 1);
        model.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var history = model.Fit(x, y, epochs: 40, verbose: 0);
        Assert.Equal(trainingPath, model.TrainingPath);
        var (xt, yt) = Circles(400, seed: 2);
        float accuracy = model.Evaluate(xt, yt)["accuracy"];
        Assert.True(accuracy > 0.95f, $"test accuracy {accuracy}");
        Assert.True(history["loss"][^1] < history["loss"][0] / 4);
        Assert.Equal([400, 2], model.Predict(xt, batchSize: 64).Shape);
    }

    [Fact]
    public void AChainAsAGraphPredictsAndTrainsAsTheSequentialOfTheSameLayers()
    {
        var (x, y) = Circles(203, seed: 4);
        Dense[] Layers() => [new Dense(8, "tanh"), new Dense(6, "relu"), new Dense(2)];
        var seqLayers = Layers();
        var sequential = new Sequential([new Input([2]), .. seqLayers], null);
        var graphLayers = Layers();
        var inputs = new Input([2]);
        SymbolicTensor t = inputs;
        foreach (var l in graphLayers) t = l.Call(t);
        var functional = new Functional(inputs, t);
        functional.SetWeights(sequential.GetWeights());
        Assert.Equal(sequential.Predict(x).ToArray(), functional.Predict(x).ToArray());

        float[] Train(Model m, bool forceTape)
        {
            CortexRandom.SetGlobalSeed(11);
            m.Compile(new Adam(0.01f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
            Trainer.ForceTapePath = forceTape;
            try
            {
                var h = m.Fit(x, y, epochs: 3, batchSize: 16, verbose: 0);
                Assert.Equal(!forceTape, Trainer.LastFitFused);
                return [.. m.GetWeights().SelectMany(w => w.ToArray()), .. h["loss"], .. h["accuracy"]];
            }
            finally { Trainer.ForceTapePath = false; }
        }
        Assert.Equal(Train(sequential, forceTape: true), Train(functional, forceTape: false));
        Assert.Equal(sequential.Evaluate(x, y), functional.Evaluate(x, y));
    }

    [Fact]
    public void ASharedLayerHasOneSetOfWeightsAndTheTapeAddsItsGradients()
    {
        var a = new Input([3], "a");
        var b = new Input([3], "b");
        var shared = new Dense(2, name: "shared");
        var add = new Add();
        var model = new Functional([a, b], [add.Call(shared.Call(a), shared.Call(b))]);
        Assert.Equal<Layer>([a, b, shared, add], model.Layers);
        Assert.Equal(5, model.Nodes.Count);
        Assert.Equal(2, model.TrainableVariables.Count);

        // Called eagerly: shared(xa) + shared(xb) = (xa + xb)·W + 2b, so dL/dW = (xa + xb)ᵀ·U and dL/db = 2·Σ U.
        var xa = Tensor.RandomNormal([4, 3], seed: 1);
        var xb = Tensor.RandomNormal([4, 3], seed: 2);
        var u = Tensor.RandomNormal([4, 2], seed: 3);
        Tensor?[] grads;
        using (var tape = new GradientTape())
        {
            var sum = add.Call(shared.Call(xa), shared.Call(xb));
            grads = tape.Gradient(sum, [shared.Kernel!, shared.Bias!], u, UnconnectedGradients.None);
        }
        AssertClose(Tensor.MatMul((xa + xb).Transpose(), u), grads[0]!);
        AssertClose(u.Sum(0) * 2f, grads[1]!);
    }

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray();
        var a = actual.ToArray();
        for (int i = 0; i < e.Length; i++) Assert.True(MathF.Abs(e[i] - a[i]) <= 1e-5f + 1e-5f * MathF.Abs(e[i]), $"[{i}]: {e[i]} vs {a[i]}");
    }

    [Fact]
    public void TheSummaryHasKerasColumnsWithConnections()
    {
        var inputs = new Input([4], "features");
        var h = new Dense(3, name: "h1").Call(inputs);
        var g = new Dense(3, name: "h2").Call(h);
        var model = new Functional(inputs, new Add(name: "sum").Call(g, h), name: "graph");
        string s = model.SummaryString();
        Assert.Contains("Model: \"graph\"", s);
        Assert.Contains("Connected to", s);
        string[] lines = s.Split(Environment.NewLine);
        Assert.Contains(lines, l => l.Contains("features (Input)") && l.Contains("(None, 4)") && l.Contains("│ -"));
        Assert.Contains(lines, l => l.Contains("h2 (Dense)") && l.Contains("12 │") && l.Contains("h1[0][0]"));
        int sum = Array.FindIndex(lines, l => l.Contains("sum (Add)"));
        Assert.Contains("h2[0][0],", lines[sum]);
        Assert.Contains("h1[0][0]", lines[sum + 1]);
        Assert.Contains(" Total params: 27", s);
        Assert.Equal("h2", model.GetLayer("h2").Name);
        var e = Assert.Throws<ArgumentException>(() => model.GetLayer("h3"));
        Assert.StartsWith("No such layer: h3. Existing layers are: [features, h1, h2, sum].", e.Message);
        Assert.All(lines.Skip(1).SkipLast(3), l => Assert.Equal(lines[1].Length, l.Length));
    }

    [Fact]
    public void AnOutputThatNeedsAnInputNotGivenIsAGraphDisconnected()
    {
        var a = new Input([3], "in_a");
        var b = new Input([3], "in_b");
        var sum = new Add().Call(new Dense(2).Call(a), new Dense(2).Call(b));
        var e = Assert.Throws<ArgumentException>(() => new Functional(a, sum));
        Assert.Contains("graph disconnected", e.Message);
        Assert.Contains("Input 'in_b'", e.Message);
    }

    [Fact]
    public void AnInputNoOutputUsesIsRefused()
    {
        var a = new Input([3], "used");
        var b = new Input([3], "unused");
        var e = Assert.Throws<ArgumentException>(() => new Functional([a, b], [new Dense(2).Call(a)]));
        Assert.Contains("unused", e.Message);
        Assert.Contains("not connected to any output", e.Message);
    }

    [Fact]
    public void AnInputMustBeAnInputsTensor()
    {
        var a = new Input([3]);
        var h = new Dense(2).Call(a);
        var e = Assert.Throws<ArgumentException>(() => new Functional(h, new Dense(2).Call(h)));
        Assert.Contains("every input must be an Input's tensor", e.Message);
    }

    [Fact]
    public void TwoLayersWithOneNameAreRefused()
    {
        var a = new Input([3]);
        var h = new Dense(2, name: "twin").Call(new Dense(2, name: "twin").Call(a));
        var e = Assert.Throws<ArgumentException>(() => new Functional(a, h));
        Assert.Contains("the name \"twin\" is used 2 times in the model", e.Message);
    }

    [Fact]
    public void ALayerCalledOnTheWrongShapeGivesItsOwnMessageAndAnUnbuiltLayerStaysUnbuilt()
    {
        var a = new Input([3]);
        var dense = new Dense(2, name: "d");
        var h = dense.Call(a);
        var e = Assert.Throws<ArgumentException>(() => dense.Call(new Input([5])));
        Assert.StartsWith("Dense 'd' expects input with 3 features. Received: shape (None, 5). Dense 'd' was called on: (None, 5) from Input 'input", e.Message);

        var conv = new Conv2D(2, 3);
        Assert.Throws<ArgumentException>(() => conv.Call(h)); // rank 2 for an image layer
        Assert.False(conv.Built);

        var model = new Functional(a, h);
        var wrong = Assert.Throws<ArgumentException>(() => model.Predict(Tensor.Zeros([2, 4])));
        Assert.Contains("expects shape (None, 3)", wrong.Message);
        Assert.Throws<InvalidOperationException>(() => new Input([3]).Call(a));
    }

    [Fact]
    public void DefiningAGraphAllocatesNothingForItsSamples()
    {
        var images = new Input([30_000, 30_000]); // 3.6 GB a sample: the symbolic checks must not make one
        long before = GC.GetAllocatedBytesForCurrentThread();
        var y = new Embedding(10, 2).Call(new Activation("relu").Call(images));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Equal([-1, 30_000, 30_000, 2], y.Shape);
    }

    [Fact]
    public void TheGraphIsOrderedSoEachNodeFollowsItsInputs()
    {
        var a = new Input([3]);
        var left = new Dense(4).Call(a);
        var right = new Dense(4).Call(new Dense(4).Call(a));
        var joined = new Concatenate().Call(left, right);
        var model = new Functional(a, new Dense(1).Call(joined));
        var seen = new HashSet<SymbolicTensor>();
        foreach (var node in model.Nodes)
        {
            Assert.All(node.Inputs, t => Assert.Contains(t, seen));
            seen.Add(node.Output);
        }
        Assert.Equal(6, model.Nodes.Count);
        Assert.Equal([-1, 1], model.OutputShape());
        Assert.Equal([5, 1], model.Call(Tensor.Zeros([5, 3])).Shape);
    }
}
