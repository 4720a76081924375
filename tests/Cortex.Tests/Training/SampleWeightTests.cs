using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Training;

/// <summary>Fit's and Evaluate's <c>sampleWeight</c> and <c>classWeight</c>, as Keras's.</summary>
public class SampleWeightTests
{
    private static (Tensor X, Tensor Y, Tensor W) Regression()
    {
        var x = Tensor.RandomNormal([8, 3], seed: 4);
        var y = Tensor.RandomNormal([8, 1], seed: 5);
        var w = Tensor.FromArray([0.5f, 2f, 0f, 1f, 3f, 0.25f, 1f, 1.5f]);
        return (x, y, w);
    }

    /// <summary>x·W + b on 3 features, compiled with mean squared error.</summary>
    private static Sequential Linear(int seed, Optimizer optimizer)
    {
        CortexRandom.SetGlobalSeed(seed);
        var model = new Sequential(new Input([3]), new Dense(1));
        model.Compile(optimizer, new MeanSquaredError());
        return model;
    }

    [Fact]
    public void OneStepWithSampleWeightIsTheWeightedSumOverTheBatchSize()
    {
        var (x, y, w) = Regression();
        const float rate = 0.1f;
        var model = Linear(1, new SGD(rate));
        float[] kernel = model.GetWeights()[0].ToArray(), bias = model.GetWeights()[1].ToArray();
        // By hand: pred = x·W + b, loss = Σ wᵢ eᵢ² / N (Keras's sum_over_batch_size), dW = 2/N Σ wᵢ eᵢ xᵢ.
        float[] xs = x.ToArray(), ys = y.ToArray(), ws = w.ToArray();
        int n = 8;
        double loss = 0, gb = 0;
        var gw = new double[3];
        for (int i = 0; i < n; i++)
        {
            double e = bias[0] - ys[i];
            for (int j = 0; j < 3; j++) e += xs[i * 3 + j] * kernel[j];
            loss += ws[i] * e * e / n;
            for (int j = 0; j < 3; j++) gw[j] += 2 * ws[i] * e * xs[i * 3 + j] / n;
            gb += 2 * ws[i] * e / n;
        }
        var history = model.Fit(x, y, epochs: 1, batchSize: n, shuffle: false, verbose: 0, sampleWeight: w);
        Assert.Equal(loss, history["loss"][0], 5);
        float[] after = model.GetWeights()[0].ToArray();
        for (int j = 0; j < 3; j++) Assert.Equal(kernel[j] - rate * gw[j], after[j], 5);
        Assert.Equal(bias[0] - rate * gb, model.GetWeights()[1].ToArray()[0], 5);
        Assert.Contains("sample weights", model.TrainingPath);
    }

    [Fact]
    public void EvaluateWeighsTheLossAndTheValidationSplitKeepsItsRowsWeights()
    {
        var (x, y, w) = Regression();
        var model = Linear(2, new SGD(0f));
        var e = model.Predict(x) - y;
        float expected = (e * e * w.Reshape(8, 1)).Sum().Item() / 8;
        Assert.Equal(expected, model.Evaluate(x, y, batchSize: 8, sampleWeight: w)["loss"], 5);
        var history = model.Fit(x, y, verbose: 0, validationSplit: 0.5f, sampleWeight: w);
        Assert.Equal(model.Evaluate(x.Slice(4, 4), y.Slice(4, 4), sampleWeight: w.Slice(4, 4))["loss"], history["val_loss"][0], 6);
    }

    [Fact]
    public void ValidationDataTakesItsOwnSampleWeights()
    {
        // Keras's validation_data=(x, y, sample_weight): the weights weigh val_loss; without them every row weighs 1.
        var (x, y, w) = Regression();
        var model = Linear(2, new SGD(0f));
        var weighted = model.Fit(x, y, verbose: 0, validationData: (x, y), validationSampleWeight: w);
        Assert.Equal(model.Evaluate(x, y, sampleWeight: w)["loss"], weighted["val_loss"][0], 6);
        var plain = model.Fit(x, y, verbose: 0, validationData: (x, y));
        Assert.Equal(model.Evaluate(x, y)["loss"], plain["val_loss"][0], 6);
        Assert.NotEqual(plain["val_loss"][0], weighted["val_loss"][0]);
        Assert.Contains("validationSampleWeight weighs the rows of validationData, which was not given",
            Assert.Throws<ArgumentException>(() => model.Fit(x, y, verbose: 0, validationSampleWeight: w)).Message);
        Assert.Contains("Fit (validationData)", Assert.Throws<ArgumentException>(() => model.Fit(x, y, verbose: 0, validationData: (x, y), validationSampleWeight: w.Slice(0, 3))).Message);
    }

    [Fact]
    public void ZeroWeightsLeaveTheModelUnchanged()
    {
        var (x, y, _) = Regression();
        var model = Linear(3, new Adam(0.1f));
        var before = model.GetWeights();
        model.Fit(x, y, epochs: 3, batchSize: 3, verbose: 0, sampleWeight: Tensor.Zeros([8]));
        var after = model.GetWeights();
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i].ToArray(), after[i].ToArray());
    }

    public static TheoryData<string> LabelKinds => ["sparse", "onehot", "binary"];

    [Theory]
    [MemberData(nameof(LabelKinds))]
    public void ClassWeightIsTheEquivalentSampleWeightBitForBit(string kind)
    {
        var x = Tensor.RandomNormal([40, 3], seed: 6);
        float[] labels = [.. Enumerable.Range(0, 40).Select(i => (float)(kind == "binary" ? i % 2 : i % 3))];
        var classWeight = new Dictionary<int, float> { [0] = 0.5f, [1] = 4f };   // class 2 is left out: 1
        var sampleWeight = Tensor.FromArray([.. labels.Select(c => c == 0 ? 0.5f : c == 1 ? 4f : 1f)]);
        Tensor y = kind switch
        {
            "sparse" => Tensor.FromArray(labels),
            "onehot" => Tensor.OneHot(Tensor.FromArray(labels), 3),
            _ => Tensor.FromArray(labels, 40, 1),
        };
        Sequential Make()
        {
            CortexRandom.SetGlobalSeed(11);
            var m = new Sequential(new Input([3]), new Dense(4, "relu"), new Dense(kind == "binary" ? 1 : 3, kind == "binary" ? "sigmoid" : "linear"));
            Loss loss = kind switch
            {
                "sparse" => new SparseCategoricalCrossentropy(fromLogits: true),
                "onehot" => new CategoricalCrossentropy(fromLogits: true),
                _ => new BinaryCrossentropy(),
            };
            m.Compile(new Adam(0.05f), loss);
            return m;
        }
        var a = Make();
        var ha = a.Fit(x, y, epochs: 3, batchSize: 8, verbose: 0, classWeight: classWeight);
        var b = Make();
        var hb = b.Fit(x, y, epochs: 3, batchSize: 8, verbose: 0, sampleWeight: sampleWeight);
        Assert.Equal(hb["loss"], ha["loss"]);
        var wa = a.GetWeights();
        var wb = b.GetWeights();
        for (int i = 0; i < wa.Length; i++) Assert.Equal(wb[i].ToArray(), wa[i].ToArray());
    }

    [Fact]
    public void BadWeightsFailBeforeAnyUpdateNamingTheArgument()
    {
        var (x, y, w) = Regression();
        var model = Linear(4, new SGD(0.1f));
        float[] before = model.GetWeights()[0].ToArray();
        void Fails(string argument, string text, Action fit)
        {
            var e = Assert.Throws<ArgumentException>(fit);
            Assert.Equal(argument, e.ParamName);
            Assert.Contains(text, e.Message);
            Assert.Equal(before, model.GetWeights()[0].ToArray());   // a failed Fit changes nothing
        }
        Fails("sampleWeight", "Received: shape (7", () => model.Fit(x, y, verbose: 0, sampleWeight: w.Slice(0, 7)));
        Fails("sampleWeight", "Received: -1 at row 2", () => model.Fit(x, y, verbose: 0, sampleWeight: Tensor.FromArray([1f, 1, -1, 1, 1, 1, 1, 1])));
        Fails("sampleWeight", "Received: NaN at row 0", () => model.Fit(x, y, verbose: 0, sampleWeight: Tensor.FromArray([float.NaN, 1, 1, 1, 1, 1, 1, 1])));
        Fails("classWeight", "at the same time", () => model.Fit(x, y, verbose: 0, sampleWeight: w, classWeight: new Dictionary<int, float> { [0] = 1f }));

        var classifier = new Sequential(new Dense(3));
        classifier.Compile(new SGD(0.1f), new SparseCategoricalCrossentropy(fromLogits: true));
        var labels = Tensor.FromArray([0f, 1, 2, 0, 1, 2, 0, 1]);
        var e = Assert.Throws<ArgumentException>(() => classifier.Fit(x, labels, verbose: 0, classWeight: new Dictionary<int, float> { [3] = 2f }));
        Assert.Equal("classWeight", e.ParamName);
        Assert.Contains("class 3", e.Message);
        Assert.Contains("[0, 3)", e.Message);
        e = Assert.Throws<ArgumentException>(() => classifier.Fit(x, labels, verbose: 0, classWeight: new Dictionary<int, float> { [1] = -2f }));
        Assert.Contains("classWeight[1] = -2", e.Message);
        Assert.False(classifier.Built);
        Assert.Throws<ArgumentException>(() => classifier.Evaluate(x, labels, sampleWeight: w.Slice(0, 3)));
    }

    [Fact]
    public void WeightedMetricsGetTheWeightsAndPlainOnesDoNot()
    {
        var x = Tensor.RandomNormal([6, 3], seed: 12);
        var y = Tensor.FromArray([0f, 1, 2, 0, 1, 2]);
        var w = Tensor.FromArray([1f, 0, 0, 2, 1, 0]);
        CortexRandom.SetGlobalSeed(3);
        var model = new Sequential(new Input([3]), new Dense(3));
        model.Compile(new SGD(0f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"], weightedMetrics: ["accuracy"]);
        float[] predicted = model.Predict(x).ArgMax(1).ToArray(), truth = y.ToArray(), ws = w.ToArray();
        double plain = 0, weighted = 0;
        for (int i = 0; i < 6; i++)
            if (predicted[i] == truth[i]) { plain += 1.0 / 6; weighted += ws[i] / 4.0; }
        var logs = model.Evaluate(x, y, sampleWeight: w);
        Assert.Equal(plain, logs["accuracy"], 5);
        Assert.Equal(weighted, logs["weighted_accuracy"], 5);
        var history = model.Fit(x, y, verbose: 0, shuffle: false, sampleWeight: w);
        Assert.Equal(weighted, history["weighted_accuracy"][0], 5);

        string path = Path.Combine(Path.GetTempPath(), $"weighted-{Guid.NewGuid():N}.cortex");
        try
        {
            model.Save(path);
            Assert.Equal(["accuracy"], Model.Load(path).WeightedMetricNames);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void OneWeightTensorWeighsEveryOutputOfAGraph()
    {
        var x = Tensor.RandomNormal([6, 3], seed: 13);
        CortexRandom.SetGlobalSeed(4);
        var input = new Input([3]);
        var h = new Dense(4, "tanh").Call(input);
        var model = new Functional([input], [new Dense(1, name: "a").Call(h), new Dense(2, name: "b").Call(h)]);
        model.Compile(new Adam(0.1f), [new MeanSquaredError()]);
        Tensor[] y = [Tensor.RandomNormal([6, 1], seed: 14), Tensor.RandomNormal([6, 2], seed: 15)];
        var plain = model.Evaluate([x], y);
        var doubled = model.Evaluate([x], y, sampleWeight: Tensor.Full([6], 2f));
        Assert.Equal(2 * plain["a_loss"], doubled["a_loss"], 5);
        Assert.Equal(2 * plain["b_loss"], doubled["b_loss"], 5);
        var before = model.GetWeights();
        model.Fit([x], y, epochs: 2, batchSize: 4, verbose: 0, sampleWeight: Tensor.Zeros([6]));
        var after = model.GetWeights();
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i].ToArray(), after[i].ToArray());
        var e = Assert.Throws<ArgumentException>(() => model.Fit([x], y, verbose: 0, classWeight: new Dictionary<int, float> { [0] = 2f }));
        Assert.Contains("single output", e.Message);
    }

    /// <summary>The test: a digit kept at ~10% of its training rows is recalled better with classWeight.</summary>
    [Fact]
    public void ClassWeightRaisesTheRecallOfARareDigit()
    {
        const int rare = 8;
        var (xTrain, yTrain, xTest, yTest) = Datasets.Digits.Load();
        float[] labels = yTrain.ToArray();
        int seen = 0;
        int[] keep = [.. Enumerable.Range(0, labels.Length).Where(i => labels[i] != rare || seen++ % 10 == 0)];
        Tensor x = xTrain.Gather(keep), y = yTrain.Gather(keep);
        float Recall(IReadOnlyDictionary<int, float>? classWeight)
        {
            CortexRandom.SetGlobalSeed(5);
            var model = Zoo.DigitsMlp();
            model.Compile(new Adam(1e-3f), new SparseCategoricalCrossentropy(fromLogits: true));
            model.Fit(x, y, epochs: 5, verbose: 0, classWeight: classWeight);
            float[] predicted = model.Predict(xTest, batchSize: 500).ArgMax(1).ToArray(), truth = yTest.ToArray();
            int hits = 0, total = 0;
            for (int i = 0; i < truth.Length; i++)
                if (truth[i] == rare) { total++; if (predicted[i] == rare) hits++; }
            return hits / (float)total;
        }
        float plain = Recall(null), weighted = Recall(new Dictionary<int, float> { [rare] = 10f });
        // 0.54 → 0.84 at this seed
        Assert.True(weighted > plain + 0.15f, $"recall of {rare}: unweighted {plain}, classWeight {weighted}");
    }
}

/// <summary>Fit's label check with <c>ignoreClass</c>, and Compile's refusal of per-sample losses.</summary>
public class LabelCheckTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(255)]
    public void FitAcceptsTheIgnoredClassAndItsRowsCountForNothing(int ignored)
    {
        var x = Tensor.RandomNormal([12, 3], seed: 8);
        float[] labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
        for (int i = 0; i < labels.Length; i += 4) labels[i] = ignored;
        var y = Tensor.FromArray(labels);
        CortexRandom.SetGlobalSeed(2);
        var model = new Sequential(new Input([3]), new Dense(3));
        model.Compile(new SGD(0f), new SparseCategoricalCrossentropy(fromLogits: true, ignoreClass: ignored));
        var history = model.Fit(x, y, batchSize: 12, shuffle: false, verbose: 0);
        int[] real = [.. Enumerable.Range(0, 12).Where(i => i % 4 != 0)];
        var plain = new SparseCategoricalCrossentropy(fromLogits: true);
        Assert.Equal(plain.Call(y.Gather(real), model.Predict(x.Gather(real))).Item(), history["loss"][0], 5);
        var e = Assert.Throws<ArgumentException>(() => model.Fit(x, y + 1f, verbose: 0));   // the ignored class moved: 3 is out of range
        Assert.Contains("nor the ignored class", e.Message);
    }

    [Fact]
    public void CompileRefusesALossWithoutReduction()
    {
        var model = new Sequential(new Dense(1));
        var e = Assert.Throws<ArgumentException>(() => model.Compile(new SGD(), new MeanSquaredError(reduction: "none")));
        Assert.Equal("loss", e.ParamName);
        Assert.Contains("Received: reduction=\"none\"", e.Message);
        Assert.Throws<ArgumentException>(() => model.Compile(new SGD(), [new MeanSquaredError(reduction: "none")]));
        Assert.Null(model.Optimizer);
    }
}
