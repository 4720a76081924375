using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Metrics;
using MeanSquaredError = Cortex.Losses.MeanSquaredError;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Training;

/// <summary>
/// What can only break training is refused where it is given: optimizer and schedule arguments out of range, binary
/// labels outside [0, 1], and a first batch whose loss is already NaN or infinite.
/// </summary>
public class TrainingGuardTests
{
    private const float NaN = float.NaN, Inf = float.PositiveInfinity;

    private static readonly Dictionary<string, (Func<object> Create, string Argument, string Received)> BadArguments = new()
    {
        ["Adam lr NaN"] = (() => new Adam(learningRate: NaN), "learningRate", "NaN"),
        ["Adam lr +inf"] = (() => new Adam(learningRate: Inf), "learningRate", "Infinity"),
        ["SGD lr -1"] = (() => new SGD(learningRate: -1), "learningRate", "-1"),
        ["RMSprop lr -inf"] = (() => new RMSprop(learningRate: -Inf), "learningRate", "-Infinity"),
        ["AdamW lr NaN"] = (() => new AdamW(learningRate: NaN), "learningRate", "NaN"),
        ["Adam beta1 1"] = (() => new Adam(beta1: 1), "beta1", "=1"),
        ["Adam beta1 -0.1"] = (() => new Adam(beta1: -0.1f), "beta1", "-0.1"),
        ["Adam beta2 1.5"] = (() => new Adam(beta2: 1.5f), "beta2", "1.5"),
        ["AdamW beta2 NaN"] = (() => new AdamW(beta2: NaN), "beta2", "NaN"),
        ["Adam epsilon 0"] = (() => new Adam(epsilon: 0), "epsilon", "=0"),
        ["RMSprop epsilon -1e-7"] = (() => new RMSprop(epsilon: -1e-7f), "epsilon", "-1E-07"),
        ["RMSprop rho 1"] = (() => new RMSprop(rho: 1), "rho", "=1"),
        ["RMSprop rho NaN"] = (() => new RMSprop(rho: NaN), "rho", "NaN"),
        ["RMSprop momentum 2"] = (() => new RMSprop(momentum: 2), "momentum", "=2"),
        ["SGD momentum 1.5"] = (() => new SGD(momentum: 1.5f), "momentum", "1.5"),
        ["SGD momentum NaN"] = (() => new SGD(momentum: NaN), "momentum", "NaN"),
        ["AdamW weightDecay -1"] = (() => new AdamW(weightDecay: -1), "weightDecay", "-1"),
        ["SGD clipNorm +inf"] = (() => new SGD(clipNorm: Inf), "clipNorm", "Infinity"),
        ["Adam clipValue 0"] = (() => new Adam(clipValue: 0), "clipValue", "=0"),
        ["Adam globalClipNorm NaN"] = (() => new Adam(globalClipNorm: NaN), "globalClipNorm", "NaN"),
        ["ExponentialDecay initial NaN"] = (() => new ExponentialDecay(NaN, 10, 0.9f), "initialLearningRate", "NaN"),
        ["ExponentialDecay initial -0.1"] = (() => new ExponentialDecay(-0.1f, 10, 0.9f), "initialLearningRate", "-0.1"),
        ["ExponentialDecay rate 0"] = (() => new ExponentialDecay(0.1f, 10, 0), "decayRate", "=0"),
        ["ExponentialDecay rate +inf"] = (() => new ExponentialDecay(0.1f, 10, Inf), "decayRate", "Infinity"),
        ["ExponentialDecay steps 0"] = (() => new ExponentialDecay(0.1f, 0, 0.9f), "decaySteps", "=0"),
    };

    public static TheoryData<string> BadArgumentCases => [.. BadArguments.Keys];

    [Theory]
    [MemberData(nameof(BadArgumentCases))]
    public void OutOfRangeArgumentIsRefusedNamingOwnerArgumentAndValue(string name)
    {
        var (create, argument, received) = BadArguments[name];
        var e = Assert.Throws<ArgumentException>(create);
        Assert.StartsWith(name.Split(' ')[0] + ":", e.Message);
        Assert.Contains($"argument {argument}: expected", e.Message);
        Assert.Contains($"Received: {argument}", e.Message);
        Assert.Contains(received, e.Message);
    }

    [Fact]
    public void RangeEndsThatTrainAreAccepted()
    {
        Assert.Equal(1f, new SGD(momentum: 1).Momentum);
        Assert.Equal(0f, new Adam(beta1: 0, beta2: 0).Beta1);
        Assert.Equal(0f, new RMSprop(rho: 0, momentum: 1).Rho);
        Assert.Equal(0f, new AdamW(weightDecay: 0).WeightDecay);
        // Zero freezes the weights (PyTorch allows it too). Keras takes any rate; a huge one is not refused here but
        // shows up as divergence (Fit, the CLI).
        Assert.Equal(0f, new SGD(learningRate: 0).LearningRate);
        Assert.Equal(1e30f, new SGD(learningRate: 1e30f).LearningRate);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(-0.01f)]
    public void SettingABadLearningRateThrowsAndKeepsTheRateAndSchedule(float rate)
    {
        var opt = new SGD(0.1f) { Schedule = new ExponentialDecay(0.5f, 10, 0.5f) };
        var e = Assert.Throws<ArgumentException>(() => opt.LearningRate = rate);
        Assert.StartsWith("SGD: invalid value for argument LearningRate", e.Message);
        Assert.NotNull(opt.Schedule);
        Assert.Equal(0.5f, opt.LearningRate);
    }

    [Theory]
    [InlineData(false, 2f, 1)]
    [InlineData(false, -1f, 2)]
    [InlineData(true, 2f, 1)]
    [InlineData(true, float.NaN, 0)]
    public void BinaryCrossentropyRefusesLabelsOutsideZeroOne(bool fromLogits, float bad, int row)
    {
        var labels = new float[] { 0, 1, 0 };
        labels[row] = bad;
        var e = Assert.Throws<ArgumentException>(() =>
            new BinaryCrossentropy(fromLogits).Call(Tensor.FromArray(labels), Tensor.Full([3, 1], 0.5f)));
        Assert.Equal($"BinaryCrossentropy: label {(float.IsNaN(bad) ? "NaN" : bad.ToString(System.Globalization.CultureInfo.InvariantCulture))} in row {row} is not a binary label: expected 0, 1 or a probability in [0, 1].", e.Message);
    }

    [Fact]
    public void BinaryCrossentropyTakesProbabilitiesAsLabels()
    {
        float loss = new BinaryCrossentropy().Call(Tensor.FromArray(new float[] { 0.3f, 1 }), Tensor.FromArray(new float[] { 0.3f, 1 })).Item();
        Assert.InRange(loss, 0.3f, 0.31f); // the entropy of 0.3, halved: ½·(−0.3·ln 0.3 − 0.7·ln 0.7) ≈ 0.3054
    }

    [Fact]
    public void AccuracyMetricsCountOddLabelsAsMissesAsKerasDoes()
    {
        // Metrics run inside a training step, after the update: refusing a label there would break "a failed Fit
        // leaves the model as it was". Keras's metrics accept any label; a 2 never equals a thresholded prediction.
        var binary = new BinaryAccuracy();
        binary.UpdateState(Tensor.FromArray(new float[,] { { 0 }, { 2 } }), Tensor.FromArray(new float[,] { { 0.2f }, { 0.9f } }));
        Assert.Equal(0.5f, binary.Result());
        var categorical = new CategoricalAccuracy();
        categorical.UpdateState(Tensor.FromArray(new float[,] { { 0, 1 }, { -1, 0 } }), Tensor.FromArray(new float[,] { { 0.2f, 0.8f }, { 0.6f, 0.4f } }));
        Assert.Equal(0.5f, categorical.Result());
    }

    [Fact]
    public void RegressionWithAnAccuracyMetricTrainsAsInKeras()
    {
        // Mean squared error with "accuracy" on targets outside [0, 1]: meaningless but legal in Keras.
        var model = new Sequential(new Input([2]), new Dense(1));
        model.Compile(new SGD(0.01f), new MeanSquaredError(), ["accuracy"]);
        var before = model.GetWeights()[0].ToArray();
        var history = model.Fit(Tensor.Ones(8, 2), Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5, 6, 7 }), batchSize: 4, verbose: 0);
        Assert.True(float.IsFinite(history["accuracy"][0]));
        Assert.NotEqual(before, model.GetWeights()[0].ToArray());
    }

    [Fact]
    public void FitRefusesBinaryLabelsOutsideZeroOneBeforeAnyUpdate()
    {
        var model = new Sequential(new Input([2]), new Dense(1, "sigmoid"));
        model.Compile(new SGD(0.1f), new BinaryCrossentropy(), ["accuracy"]);
        var before = model.GetWeights();
        var y = Tensor.FromArray(new float[] { 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 2 });
        var e = Assert.Throws<ArgumentException>(() => model.Fit(Tensor.Ones(34, 2), y, batchSize: 4, verbose: 0));
        Assert.Contains("Fit: label 2 in row 33", e.Message);
        AssertSameWeights(before, model.GetWeights());
        Assert.Contains("label 2 in row 33", Assert.Throws<ArgumentException>(() => model.Evaluate(Tensor.Ones(34, 2), y)).Message);
    }

    [Fact]
    public void FitThrowsWhenTheFirstBatchLossIsNotFiniteAndLeavesTheModelAsItWas()
    {
        // Finite inputs so large that x·W overflows: the squared error is infinite before anything is learned.
        var model = new Sequential(new Input([2]), new Dense(1));
        model.Compile(new SGD(0.01f), new MeanSquaredError());
        var before = model.GetWeights();
        var e = Assert.Throws<NotFiniteNumberException>(() => model.Fit(Tensor.Full([8, 2], 1e30f), Tensor.Zeros(8), batchSize: 4, verbose: 0));
        Assert.False(Trainer.LastFitFused);
        Assert.StartsWith("Fit: the loss is Infinity at epoch 1, batch 1, before any update; the inputs and labels are finite", e.Message);
        Assert.Contains("scale the inputs", e.Message);
        AssertSameWeights(before, model.GetWeights());
        Assert.Equal(0, model.Optimizer!.Iterations);
    }

    [Fact]
    public void FusedStepThrowsTooWhenTheFirstBatchLossIsNotFinite()
    {
        var model = new Sequential(new Input([4]), new Dense(3));
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.SetWeights([Tensor.Ones(4, 3), Tensor.Zeros(3)]); // logits 4·MaxValue = ∞ in every class: ∞ − ∞ = NaN
        var before = model.GetWeights();
        var e = Assert.Throws<NotFiniteNumberException>(() =>
            model.Fit(Tensor.Full([8, 4], float.MaxValue), Tensor.FromArray(new float[] { 0, 1, 2, 0, 1, 2, 0, 1 }), batchSize: 4, verbose: 0));
        Assert.True(Trainer.LastFitFused);
        Assert.StartsWith("Fit: the loss is NaN at epoch 1, batch 1, before any update", e.Message);
        AssertSameWeights(before, model.GetWeights());
    }

    [Fact]
    public void FitOnWeightsADivergedRunLeftNamesTheBrokenWeight()
    {
        var model = new Sequential(new Input([2]), new Dense(1, name: "out"));
        model.Compile(new SGD(0.01f), new MeanSquaredError());
        model.SetWeights([Tensor.Full([2, 1], float.NaN), Tensor.Zeros(1)]);
        var e = Assert.Throws<NotFiniteNumberException>(() => model.Fit(Tensor.Ones(8, 2), Tensor.Zeros(8), verbose: 0));
        Assert.Contains("the weight 'out/kernel' is not finite", e.Message);
        Assert.Contains("lower the learning rate", e.Message);
    }

    [Theory]
    [InlineData(false, -0.5f, 1)]
    [InlineData(false, 1.5f, 2)]
    [InlineData(true, 2f, 0)]
    [InlineData(true, float.NaN, 2)]
    public void CategoricalCrossentropyRefusesLabelsOutsideZeroOne(bool fromLogits, float bad, int row)
    {
        var labels = new float[,] { { 1, 0 }, { 0, 1 }, { 0.3f, 0.7f } };
        labels[row, 1] = bad;
        var e = Assert.Throws<ArgumentException>(() =>
            new CategoricalCrossentropy(fromLogits).Call(Tensor.FromArray(labels), Tensor.Full([3, 2], 0.5f)));
        Assert.Equal($"CategoricalCrossentropy: label {bad.ToString(System.Globalization.CultureInfo.InvariantCulture)} in row {row} (column 1) is not a class probability: expected one-hot labels or probabilities in [0, 1].", e.Message);
    }

    [Fact]
    public void CategoricalCrossentropyTakesSoftLabels()
    {
        // Keras takes any probabilities as labels, summing to 1 or not; only values outside [0, 1] are refused.
        var soft = Tensor.FromArray(new float[,] { { 0.3f, 0.7f }, { 0.5f, 0.25f } });
        float loss = new CategoricalCrossentropy().Call(soft, Tensor.FromArray(new float[,] { { 0.3f, 0.7f }, { 0.5f, 0.5f } })).Item();
        Assert.InRange(loss, 0.565f, 0.566f); // ½·((−0.3·ln 0.3 − 0.7·ln 0.7) + 0.75·ln 2) ≈ ½·(0.6109 + 0.5199)
    }

    [Fact]
    public void FitRefusesCategoricalLabelsOutsideZeroOneBeforeAnyUpdate()
    {
        // Softmax cross-entropy from logits runs on the fused step, which reads the labels without Call's check.
        var model = new Sequential(new Input([2]), new Dense(3));
        model.Compile(new SGD(0.1f), new CategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var before = model.GetWeights();
        var y = Tensor.OneHot(Tensor.FromArray(Enumerable.Range(0, 34).Select(i => (float)(i % 3)).ToArray()), 3);
        y.Span[^2] = 2; // row 33, column 1
        var e = Assert.Throws<ArgumentException>(() => model.Fit(Tensor.Ones(34, 2), y, batchSize: 4, verbose: 0));
        Assert.Contains("Fit: label 2 in row 33 (column 1)", e.Message);
        AssertSameWeights(before, model.GetWeights());
        Assert.Contains("label 2 in row 33", Assert.Throws<ArgumentException>(() => model.Evaluate(Tensor.Ones(34, 2), y)).Message);
    }

    private static void AssertSameWeights(Tensor[] expected, Tensor[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i].ToArray(), actual[i].ToArray());
    }
}
