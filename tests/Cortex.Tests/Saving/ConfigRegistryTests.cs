using Cortex.Constraints;
using System.Text.Json;
using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Metrics;
using Cortex.Optimizers;
using Cortex.Regularizers;
using Cortex.Saving;

// A registration outside Cortex's assembly: the registry must never see it (see TypesRegisteredOutsideCortexAreNeverCreated).
[assembly: Registered(typeof(Cortex.Tests.Saving.Intruder))]

namespace Cortex.Tests.Saving;

/// <summary>A layer registered by another assembly; loading must refuse its name.</summary>
public sealed class Intruder(string? name = null) : Layer(name)
{
    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => inputs;
}

/// <summary>
/// The one configuration mechanism: every registered class's configuration round-trips (constructor → GetConfig →
/// from config → the same GetConfig; for layers, the same outputs once weights are copied), every argument is
/// actually read back (the cases set each one away from its default), and only Cortex's registered classes are ever
/// created.
/// </summary>
public class ConfigRegistryTests
{
    private static Layer Frozen(Layer layer)
    {
        layer.Trainable = false;   // trainable is saved too: away from its default like every argument
        return layer;
    }

    // One instance of every registered class, each argument away from its default; for a layer, an input shape; and
    // the keys that cannot leave their defaults (an optimizer takes one clipping option at a time).
    private static readonly Dictionary<string, (Func<object> Make, int[]? Input, string[] Same)> Cases = new()
    {
        ["Dense"] = (() => Frozen(new Dense(4, ActivationFunction.LeakyRelu(0.3f), useBias: false, kernelInitializer: new HeNormal(seed: 3),
            biasInitializer: new Constant(0.5f), kernelRegularizer: new L2(0.02f), biasRegularizer: new L1(0.03f),
            kernelConstraint: new MaxNorm(3f), biasConstraint: new NonNeg(), name: "d")), [2, 3], []),
        ["Conv2D"] = (() => Frozen(new Conv2D(4, (2, 3), strides: (2, 1), padding: "same", activation: ActivationFunction.Elu(0.7f), useBias: false, dilationRate: (1, 2), groups: 2,
            kernelInitializer: new RandomNormal(0.1f, 0.2f, seed: 4), biasInitializer: new Ones(), kernelRegularizer: new L1L2(0.01f, 0.02f),
            biasRegularizer: new L2(0.5f), kernelConstraint: new MaxNorm(2f, [0, 1, 2]), biasConstraint: new UnitNorm(), name: "c", dataFormat: "channels_first")), [2, 2, 6, 7], []),
        ["DepthwiseConv2D"] = (() => Frozen(new DepthwiseConv2D((2, 3), strides: (2, 1), padding: "same", depthMultiplier: 2, activation: ActivationFunction.Elu(0.7f),
            useBias: false, dilationRate: (1, 2), depthwiseInitializer: new RandomNormal(0.1f, 0.2f, seed: 4), biasInitializer: new Ones(),
            depthwiseRegularizer: new L1L2(0.01f, 0.02f), biasRegularizer: new L2(0.5f), depthwiseConstraint: new MaxNorm(2f, [0, 1, 2]),
            biasConstraint: new UnitNorm(), name: "dw", dataFormat: "channels_first")), [2, 2, 6, 7], []),
        ["SeparableConv2D"] = (() => Frozen(new SeparableConv2D(3, (2, 3), strides: (2, 1), padding: "same", dilationRate: (1, 2), depthMultiplier: 2,
            activation: ActivationFunction.Elu(0.7f), useBias: false, depthwiseInitializer: new RandomNormal(0.1f, 0.2f, seed: 4),
            pointwiseInitializer: new HeNormal(seed: 5), biasInitializer: new Ones(), depthwiseRegularizer: new L1L2(0.01f, 0.02f),
            pointwiseRegularizer: new L1(0.03f), biasRegularizer: new L2(0.5f), depthwiseConstraint: new MaxNorm(2f, [0, 1, 2]),
            pointwiseConstraint: new NonNeg(), biasConstraint: new UnitNorm(), name: "sep", dataFormat: "channels_first")), [2, 2, 6, 7], []),
        ["Conv2DTranspose"] = (() => Frozen(new Conv2DTranspose(3, (2, 3), strides: (2, 3), padding: "same", outputPadding: (1, 2), dilationRate: (1, 2),
            activation: ActivationFunction.Elu(0.7f), useBias: false, kernelInitializer: new RandomNormal(0.1f, 0.2f, seed: 4), biasInitializer: new Ones(),
            kernelRegularizer: new L1L2(0.01f, 0.02f), biasRegularizer: new L2(0.5f), kernelConstraint: new MaxNorm(2f, [0, 1, 2]),
            biasConstraint: new UnitNorm(), name: "ct", dataFormat: "channels_first")), [2, 2, 4, 5], []),
        ["Activation"] = (() => Frozen(new Activation(ActivationFunction.Elu(0.5f), "a")), [2, 3], []),
        ["ReLU"] = (() => Frozen(new ReLU(6f, 0.1f, 0.5f, "r")), [2, 3], []),
        ["Softmax"] = (() => Frozen(new Softmax([1, 2], "sm")), [2, 3, 4], []),
        ["Flatten"] = (() => Frozen(new Flatten("f")), [2, 2, 3], []),
        ["Dropout"] = (() => Frozen(new Dropout(0.25f, noiseShape: [1, -1], seed: 5, name: "dr")), [2, 3], []),
        ["Input"] = (() => Frozen(new Input([3], "i")), [2, 3], []),
        ["Reshape"] = (() => Frozen(new Reshape([3, 1], "r")), [2, 3], []),
        ["MaxPooling2D"] = (() => Frozen(new MaxPooling2D((3, 2), (1, 2), "same", "mp", "channels_first")), [2, 5, 5, 2], []),
        ["AveragePooling2D"] = (() => Frozen(new AveragePooling2D((2, 3), (2, 1), "same", "ap", "channels_first")), [2, 5, 5, 2], []),
        ["GlobalAveragePooling2D"] = (() => Frozen(new GlobalAveragePooling2D(keepDims: true, "g", "channels_first")), [2, 3, 3, 2], []),
        ["BatchNormalization"] = (() => Frozen(new BatchNormalization(axis: 1, momentum: 0.9f, epsilon: 1e-2f, center: false, scale: false,
            betaInitializer: new Constant(0.1f), gammaInitializer: new Constant(2f), movingMeanInitializer: new Constant(0.3f),
            movingVarianceInitializer: new Constant(3f), name: "bn")), [2, 3], []),
        ["Normalization"] = (() => Frozen(new Normalization([1], [1f, 2f, 3f], [4f, 9f, 1f], invert: true, name: "n")), [2, 3], []),
        ["Permute"] = (() => Frozen(new Permute([2, 1], "pm")), [2, 3, 4], []),
        ["ZeroPadding2D"] = (() => Frozen(new ZeroPadding2D(((0, 1), (2, 3)), "zp")), [2, 3, 3, 2], []),
        ["Cropping2D"] = (() => Frozen(new Cropping2D(((1, 0), (0, 2)), "cr")), [2, 4, 5, 2], []),
        ["UpSampling2D"] = (() => Frozen(new UpSampling2D((2, 3), "bilinear", "up")), [2, 3, 3, 2], []),
        ["LayerNormalization"] = (() => Frozen(new LayerNormalization(axis: [1, 2], epsilon: 1e-2f, center: false, scale: false,
            betaInitializer: new Constant(0.1f), gammaInitializer: new Constant(2f), betaRegularizer: new L2(0.1f), gammaRegularizer: new L1(0.2f), name: "ln")), [2, 3, 4], []),
        ["GroupNormalization"] = (() => Frozen(new GroupNormalization(groups: 2, axis: 1, epsilon: 1e-2f, center: false, scale: false,
            betaInitializer: new Constant(0.1f), gammaInitializer: new Constant(2f), betaRegularizer: new L2(0.1f), gammaRegularizer: new L1(0.2f), name: "gn")), [2, 4, 3], []),
        ["GaussianNoise"] = (() => Frozen(new GaussianNoise(0.2f, seed: 3, name: "gs")), [2, 3], []),
        ["SpatialDropout2D"] = (() => Frozen(new SpatialDropout2D(0.3f, seed: 4, name: "sd")), [2, 3, 3, 2], []),
        ["TimeDistributed"] = (() => Frozen(new TimeDistributed(new Dense(3, "relu", name: "inner"), "td")), [2, 4, 5], []),
        ["Conv1D"] = (() => Frozen(new Conv1D(3, 2, strides: 2, padding: "causal", dilationRate: 2, activation: ActivationFunction.Elu(0.7f), useBias: false,
            kernelInitializer: new RandomNormal(0.1f, 0.2f, seed: 4), biasInitializer: new Ones(), kernelRegularizer: new L1L2(0.01f, 0.02f),
            biasRegularizer: new L2(0.5f), kernelConstraint: new UnitNorm([0, 1]), biasConstraint: new MinMaxNorm(0.5f, 2f), name: "c1", dataFormat: "channels_first")), [2, 2, 7], []),
        ["MaxPooling1D"] = (() => Frozen(new MaxPooling1D(3, 1, "same", "mp1", "channels_first")), [2, 2, 5], []),
        ["AveragePooling1D"] = (() => Frozen(new AveragePooling1D(4, 3, "same", "ap1", "channels_first")), [2, 2, 7], []),
        ["GlobalMaxPooling1D"] = (() => Frozen(new GlobalMaxPooling1D(keepDims: true, "gm1", "channels_first")), [2, 3, 4], []),
        ["GlobalAveragePooling1D"] = (() => Frozen(new GlobalAveragePooling1D(keepDims: true, "ga1", "channels_first")), [2, 3, 4], []),
        ["Embedding"] = (() => Frozen(new Embedding(7, 3, new RandomNormal(seed: 6), new L2(0.1f), maskZero: true, "e")), [2, 3], []),
        ["Bidirectional"] = (() => Frozen(new Bidirectional(new GRU(3, resetAfter: false, returnSequences: true, name: "bg"), "mul",
            new GRU(3, resetAfter: false, returnSequences: true, goBackwards: true, name: "bgb"), "bi")), [2, 3, 4], []),
        ["Masking"] = (() => Frozen(new Masking(1.5f, "m")), [2, 3, 4], []),
        ["SimpleRNN"] = (() => Frozen(new SimpleRNN(3, ActivationFunction.Elu(0.7f), useBias: false, kernelInitializer: new HeNormal(seed: 3),
            recurrentInitializer: new Orthogonal(0.5f, 4), biasInitializer: new Constant(0.5f), kernelRegularizer: new L2(0.02f),
            recurrentRegularizer: new L1(0.01f), biasRegularizer: new L1(0.03f), dropout: 0.1f, recurrentDropout: 0.2f, seed: 9, returnSequences: true, goBackwards: true, returnState: true, name: "s")), [2, 3, 4], []),
        ["LSTM"] = (() => Frozen(new LSTM(3, ActivationFunction.Elu(0.7f), ActivationFunction.LeakyRelu(0.3f), useBias: false,
            kernelInitializer: new HeNormal(seed: 3), recurrentInitializer: new Orthogonal(0.5f, 4), biasInitializer: new Constant(0.5f),
            unitForgetBias: false, kernelRegularizer: new L2(0.02f), recurrentRegularizer: new L1(0.01f), biasRegularizer: new L1(0.03f),
            dropout: 0.1f, recurrentDropout: 0.2f, seed: 9, returnSequences: true, goBackwards: true, returnState: true, name: "l")), [2, 3, 4], []),
        ["GRU"] = (() => Frozen(new GRU(3, ActivationFunction.Elu(0.7f), ActivationFunction.LeakyRelu(0.3f), useBias: false,
            kernelInitializer: new HeNormal(seed: 3), recurrentInitializer: new Orthogonal(0.5f, 4), biasInitializer: new Constant(0.5f),
            kernelRegularizer: new L2(0.02f), recurrentRegularizer: new L1(0.01f), biasRegularizer: new L1(0.03f),
            dropout: 0.1f, recurrentDropout: 0.2f, seed: 9, returnSequences: true, goBackwards: true, returnState: true, resetAfter: false, name: "g")), [2, 3, 4], []),
        ["Add"] = (() => Frozen(new Add("plus")), [2, 3], []),            // merge layers: called on two inputs of this shape
        ["Subtract"] = (() => Frozen(new Subtract("minus")), [2, 3], []),
        ["Multiply"] = (() => Frozen(new Multiply("times")), [2, 3], []),
        ["Average"] = (() => Frozen(new Average("mean")), [2, 3], []),
        ["Maximum"] = (() => Frozen(new Maximum("most")), [2, 3], []),
        ["Minimum"] = (() => Frozen(new Minimum("least")), [2, 3], []),
        ["Concatenate"] = (() => Frozen(new Concatenate(axis: 1, "joined")), [2, 3], []),
        ["Dot"] = (() => Frozen(new Dot([1, -1], normalize: true, "cosine")), [2, 3], []),

        ["GlorotUniform"] = (() => new GlorotUniform(1), null, []),
        ["GlorotNormal"] = (() => new GlorotNormal(2), null, []),
        ["HeNormal"] = (() => new HeNormal(3), null, []),
        ["HeUniform"] = (() => new HeUniform(4), null, []),
        ["LecunNormal"] = (() => new LecunNormal(5), null, []),
        ["LecunUniform"] = (() => new LecunUniform(6), null, []),
        ["VarianceScaling"] = (() => new VarianceScaling(2f, "fan_out", "uniform", 7), null, []),
        ["RandomNormal"] = (() => new RandomNormal(0.5f, 0.1f, 8), null, []),
        ["RandomUniform"] = (() => new RandomUniform(-1f, 2f, 9), null, []),
        ["TruncatedNormal"] = (() => new TruncatedNormal(1f, 0.2f, 10), null, []),
        ["Zeros"] = (() => new Zeros(), null, []),
        ["Ones"] = (() => new Ones(), null, []),
        ["Constant"] = (() => new Constant(0.7f, [1f, 2f]), null, []),
        ["Identity"] = (() => new Identity(0.5f), null, []),
        ["Orthogonal"] = (() => new Orthogonal(0.5f, 11), null, []),

        ["L1"] = (() => new L1(0.5f), null, []),
        ["L2"] = (() => new L2(0.25f), null, []),
        ["L1L2"] = (() => new L1L2(0.1f, 0.2f), null, []),

        ["MaxNorm"] = (() => new MaxNorm(3f, [0, 1]), null, []),
        ["NonNeg"] = (() => new NonNeg(), null, []),
        ["UnitNorm"] = (() => new UnitNorm([1]), null, []),
        ["MinMaxNorm"] = (() => new MinMaxNorm(0.5f, 2f, 0.5f, [-1]), null, []),

        ["ExponentialDecay"] = (() => new ExponentialDecay(0.5f, 100, 0.9f, staircase: true), null, []),
        ["CosineDecay"] = (() => new CosineDecay(0.5f, 100, 0.1f, warmupTarget: 1f, warmupSteps: 10), null, []),
        ["CosineDecayRestarts"] = (() => new CosineDecayRestarts(0.5f, 100, 3f, 0.5f, 0.1f), null, []),
        ["PiecewiseConstantDecay"] = (() => new PiecewiseConstantDecay([10, 20], [0.5f, 0.1f, 0.01f]), null, []),
        ["PolynomialDecay"] = (() => new PolynomialDecay(0.5f, 100, 0.01f, 2f, cycle: true), null, []),
        ["InverseTimeDecay"] = (() => new InverseTimeDecay(0.5f, 100, 0.9f, staircase: true), null, []),

        ["BinaryCrossentropy"] = (() => new BinaryCrossentropy(fromLogits: true, labelSmoothing: 0.1f, axis: 0, reduction: "sum"), null, []),
        ["CategoricalCrossentropy"] = (() => new CategoricalCrossentropy(fromLogits: true, labelSmoothing: 0.2f, axis: 0, reduction: "none"), null, []),
        ["SparseCategoricalCrossentropy"] = (() => new SparseCategoricalCrossentropy(fromLogits: true, ignoreClass: -1, reduction: "sum"), null, []),
        ["Losses.MeanSquaredError"] = (() => new Losses.MeanSquaredError("sum"), null, []),
        ["Losses.MeanAbsoluteError"] = (() => new Losses.MeanAbsoluteError("none"), null, []),
        ["MeanAbsolutePercentageError"] = (() => new MeanAbsolutePercentageError("sum"), null, []),
        ["MeanSquaredLogarithmicError"] = (() => new MeanSquaredLogarithmicError("mean_with_sample_weight"), null, []),
        ["Huber"] = (() => new Huber(0.5f, "sum"), null, []),
        ["LogCosh"] = (() => new LogCosh("none"), null, []),
        ["Hinge"] = (() => new Hinge("sum"), null, []),
        ["SquaredHinge"] = (() => new SquaredHinge("none"), null, []),
        ["CategoricalHinge"] = (() => new CategoricalHinge("sum"), null, []),
        ["KLDivergence"] = (() => new KLDivergence("mean"), null, []),
        ["Poisson"] = (() => new Poisson("sum"), null, []),
        ["CosineSimilarity"] = (() => new CosineSimilarity(axis: 0, reduction: "sum"), null, []),

        // SGD's rate is a schedule: the learning_rate key then holds {class_name, config} instead of a number.
        ["SGD"] = (() => new SGD(0.1f, 0.5f, nesterov: true, weightDecay: 0.1f, clipNorm: 1f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5) { Schedule = new ExponentialDecay(0.2f, 10, 0.5f) }, null, ["clipvalue", "global_clipnorm"]),
        ["Adam"] = (() => new Adam(0.01f, 0.8f, 0.99f, 1e-5f, amsgrad: true, weightDecay: 0.1f, clipValue: 0.5f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipnorm", "global_clipnorm"]),
        ["AdamW"] = (() => new AdamW(0.01f, 0.1f, 0.8f, 0.99f, 1e-5f, amsgrad: true, globalClipNorm: 2f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipnorm", "clipvalue"]),
        ["RMSprop"] = (() => new RMSprop(0.01f, 0.8f, 0.5f, 1e-5f, centered: true, weightDecay: 0.1f, clipNorm: 3f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipvalue", "global_clipnorm"]),
        ["Adagrad"] = (() => new Adagrad(0.01f, 0.5f, 1e-5f, weightDecay: 0.1f, clipNorm: 3f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipvalue", "global_clipnorm"]),
        ["Adadelta"] = (() => new Adadelta(1f, 0.9f, 1e-5f, weightDecay: 0.1f, clipValue: 0.5f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipnorm", "global_clipnorm"]),
        ["Adamax"] = (() => new Adamax(0.01f, 0.8f, 0.99f, 1e-5f, weightDecay: 0.1f, globalClipNorm: 2f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipnorm", "clipvalue"]),
        ["Nadam"] = (() => new Nadam(0.01f, 0.8f, 0.99f, 1e-5f, weightDecay: 0.1f, clipNorm: 3f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipvalue", "global_clipnorm"]),
        ["Lion"] = (() => new Lion(1e-4f, 0.8f, 0.95f, weightDecay: 0.1f, clipValue: 0.5f, useEma: true, emaMomentum: 0.9f, emaOverwriteFrequency: 5), null, ["clipnorm", "global_clipnorm"]),

        ["AutoAccuracy"] = (() => new AutoAccuracy(name: "acc"), null, []),
        ["Accuracy"] = (() => new Accuracy("exact"), null, []),
        ["TopKCategoricalAccuracy"] = (() => new TopKCategoricalAccuracy(3, "top3"), null, []),
        ["SparseTopKCategoricalAccuracy"] = (() => new SparseTopKCategoricalAccuracy(2, "stop2"), null, []),
        ["RootMeanSquaredError"] = (() => new RootMeanSquaredError("rmse"), null, []),
        ["R2Score"] = (() => new R2Score("variance_weighted_average", 2, "r2"), null, []),
        ["Precision"] = (() => new Precision(0.3f, 2, 1, "p"), null, []),
        ["Recall"] = (() => new Recall(0.7f, 3, 0, "r"), null, []),
        ["AUC"] = (() => new AUC(50, "PR", "majoring", "pr_auc"), null, []),
        ["F1Score"] = (() => new F1Score("macro", 0.4f, "f1"), null, []),
        ["BinaryAccuracy"] = (() => new BinaryAccuracy(0.3f, fromLogits: true, name: "ba"), null, []),
        ["CategoricalAccuracy"] = (() => new CategoricalAccuracy("ca"), null, []),
        ["SparseCategoricalAccuracy"] = (() => new SparseCategoricalAccuracy("sca"), null, []),
        ["Metrics.MeanSquaredError"] = (() => new Metrics.MeanSquaredError("mse"), null, []),
        ["Metrics.MeanAbsoluteError"] = (() => new Metrics.MeanAbsoluteError("mae"), null, []),
        ["Mean"] = (() => new Mean("m"), null, []),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    // Losses and metrics share two class names; the case names qualify them by namespace.
    private static string CaseName(ConfigClass c) =>
        Cases.ContainsKey(c.Name) ? c.Name : $"{c.Type.Namespace!["Cortex.".Length..]}.{c.Name}";

    private static JsonElement Json(Dictionary<string, object?> config) => JsonSerializer.SerializeToElement(config);

    private static ConfigFamily Family(object instance) => ConfigRegistry.FamilyOf(instance.GetType())!;

    [Fact]
    public void EveryRegisteredClassHasACaseAndEveryPublicClassOfAFamilyIsRegistered()
    {
        Assert.Equal(Cases.Keys.Order(), ConfigRegistry.Classes.Select(CaseName).Order());
        var roots = new[] { typeof(Layer), typeof(Initializer), typeof(Regularizer), typeof(Cortex.Constraints.Constraint), typeof(LearningRateSchedule), typeof(Loss), typeof(Optimizer), typeof(Metric) };
        var concrete = typeof(Layer).Assembly.GetExportedTypes().Where(t => !t.IsAbstract && roots.Any(r => r.IsAssignableFrom(t)));
        Assert.Equal(concrete.Select(t => t.FullName).Order(), ConfigRegistry.Classes.Select(c => c.Type.FullName).Order());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ConfigRoundTrips(string caseName)
    {
        var (make, input, _) = Cases[caseName];
        object original = make();
        var family = Family(original);
        var config = Json(family.ConfigOf(original));
        object back = family.CreateObject(original.GetType().Name, config);
        Assert.IsType(original.GetType(), back);
        Assert.Equal(config.GetRawText(), Json(family.ConfigOf(back)).GetRawText());
        if (original is Layer layer)
        {
            var x = layer is Embedding e // indices
                ? Tensor.FromArray([.. Enumerable.Range(0, input!.Aggregate(1, (a, b) => a * b)).Select(i => (float)(i % e.InputDim))], input!)
                : Tensor.RandomNormal(input!, seed: 1);
            var copy = (Layer)back;
            if (layer is Merge)
            {
                var x2 = Tensor.RandomNormal(input!, seed: 2);
                Assert.Equal(layer.Call(x, x2).ToArray(), copy.Call(x, x2).ToArray());
                return;
            }
            Tensor expected = layer.Call(x);
            copy.EnsureBuilt(input!);
            copy.SetWeights(layer.GetWeights());
            Assert.Equal(expected.Shape, copy.Call(x).Shape);
            Assert.Equal(expected.ToArray(), copy.Call(x).ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void EveryArgumentOfACaseIsAwayFromItsDefault(string caseName)
    {
        // Made from the required keys alone, an instance has every default; a key of the case that equals it would
        // round-trip even if it were never read back.
        var (make, _, same) = Cases[caseName];
        object original = make();
        var family = Family(original);
        var config = family.ConfigOf(original);
        var declaration = ConfigRegistry.Classes.Single(c => c.Type == original.GetType());
        var required = config.Where(p => declaration.RequiredKeys.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value);
        var defaults = family.ConfigOf(family.CreateObject(declaration.Name, Json(required)));
        var unchanged = config.Keys.Where(k => !same.Contains(k) && !required.ContainsKey(k) && Json(new() { ["v"] = config[k] }).GetRawText() == Json(new() { ["v"] = defaults[k] }).GetRawText());
        Assert.Empty(unchanged);
    }

    [Theory]
    [InlineData("System.IO.File")]
    [InlineData("Cortex.Layers.Dense")]   // a full name is not a class name: nothing is resolved as a type
    [InlineData("dense")]
    [InlineData("Layer")]                 // the abstract root
    [InlineData("KernelLayer")]
    [InlineData("Sequential")]            // a Cortex type, but not a registered layer
    [InlineData("BinaryCrossentropy")]    // registered, but a loss
    [InlineData("Intruder")]              // registered, but by another assembly
    public void AnUnknownLayerClassIsRefusedNamingItAndTheKnownOnes(string className)
    {
        var e = Assert.Throws<ArgumentException>(() => ConfigRegistry.Layers.Create(className, Json([])));
        Assert.StartsWith($"unknown layer class '{className}'; expected one of ", e.Message);
        foreach (string known in new[] { "Conv2D, ", "Dense, ", "Dot, ", "Dropout, " }) Assert.Contains(known, e.Message);
        Assert.DoesNotContain("Intruder", e.Message[e.Message.IndexOf("expected one of")..]);
    }

    [Fact]
    public void TypesRegisteredOutsideCortexAreNeverCreated()
    {
        Assert.All(ConfigRegistry.Classes, c => Assert.Same(typeof(Layer).Assembly, c.Type.Assembly));
        Assert.DoesNotContain(ConfigRegistry.Classes, c => c.Type == typeof(Intruder));
        // Described like any layer (its root's declaration), but never created from a file.
        Assert.Equal(new[] { "name", "trainable" }, new Intruder("x").GetConfig().Keys.ToArray());
    }

    [Fact]
    public void AnUnknownNestedClassNamesTheKeyThatHoldsIt()
    {
        var config = Json(new Dense(2).GetConfig());
        var edited = JsonSerializer.Deserialize<Dictionary<string, object?>>(config.GetRawText())!;
        edited["kernel_initializer"] = new Dictionary<string, object?> { ["class_name"] = "System.IO.File", ["config"] = new Dictionary<string, object?>() };
        var e = Assert.Throws<ArgumentException>(() => ConfigRegistry.Layers.Create("Dense", Json(edited)));
        Assert.StartsWith("key 'kernel_initializer': unknown initializer class 'System.IO.File'; expected one of ", e.Message);
    }

    [Fact]
    public void EveryMissingRequiredKeyIsNamed()
    {
        var e = Assert.Throws<InvalidDataException>(() => ConfigRegistry.Layers.Create("Conv2D", Json(new() { ["name"] = "c" })));
        Assert.Contains("no keys 'filters', 'kernel_size', which Conv2D requires", e.Message);
        Assert.Contains("Keys found: 'name'", e.Message);
    }

    [Fact]
    public void AScheduleWithoutItsConfigNamesTheMissingKey()
    {
        var config = Json(new() { ["learning_rate"] = new Dictionary<string, object?> { ["class_name"] = "ExponentialDecay" } });
        var e = Assert.Throws<InvalidDataException>(() => Optimizer.FromConfig("SGD", config));
        Assert.Contains("key 'learning_rate' has no key 'config'", e.Message);
    }

    [Fact]
    public void ALearningRateThatIsNeitherANumberNorAScheduleIsRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => Optimizer.FromConfig("Adam", Json(new() { ["learning_rate"] = "fast" })));
        Assert.StartsWith("key 'learning_rate': expected a number or a learning rate schedule as {\"class_name\"", e.Message);
        Assert.EndsWith("Received: \"fast\"", e.Message);
        var sgd = Optimizer.FromConfig("SGD", Json(new SGD { Schedule = new ExponentialDecay(0.2f, 10, 0.5f) }.GetConfig()));
        Assert.Equal(0.1f, Assert.IsType<ExponentialDecay>(sgd.Schedule).GetRate(10));
        Assert.Null(Optimizer.FromConfig("SGD", Json(new SGD(0.3f).GetConfig())).Schedule);
    }

    [Fact]
    public void AValueOfTheWrongKindNamesTheKeyAndBoth()
    {
        var e = Assert.Throws<InvalidDataException>(() => ConfigRegistry.Layers.Create("Dense", Json(new() { ["units"] = 2, ["use_bias"] = "yes" })));
        Assert.Equal("key 'use_bias': expected true or false. Received: \"yes\"", e.Message);
        e = Assert.Throws<InvalidDataException>(() => ConfigRegistry.Layers.Create("Activation", Json(new() { ["activation"] = null })));
        Assert.Equal("key 'activation': expected an activation's name. Received: null", e.Message);
    }
}
