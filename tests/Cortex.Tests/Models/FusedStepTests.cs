using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Regularizers;
using Cortex.Tests.Training;

namespace Cortex.Tests.Models;

/// <summary>The allocation-free training step gives the same bits as the GradientTape step, and allocates nothing.</summary>
public class FusedStepTests
{
    private static float[] Train(bool tape, Func<Sequential> build, Tensor x, Tensor y, int batch, Optimizer optimizer, Loss loss,
        Action<Sequential>? afterFit = null)
    {
        CortexRandom.SetGlobalSeed(17);
        var model = build();
        model.Compile(optimizer, loss, ["accuracy"]);
        Trainer.ForceTapePath = tape;
        try
        {
            var h = model.Fit(x, y, epochs: 2, batchSize: batch, verbose: 0);
            Assert.Equal(!tape, Trainer.LastFitFused);
            afterFit?.Invoke(model);
            return [.. model.GetWeights().SelectMany(w => w.ToArray()), .. h["loss"], .. h["accuracy"]];
        }
        finally { Trainer.ForceTapePath = false; }
    }

    public static TheoryData<string> Models => ["relu-sparse", "sigmoid-tanh-categorical", "dropout-normalization-activation", "softmax-sparse-logits-odd-batch",
        "batchnorm-odd-batch", "batchnorm-first", "batchnorm-frozen", "relu6-elu-slope", "binary-logits-odd-batch", "multi-label-logits", "batchnorm-axis1", "conv-global-average",
        "relu-layer-hard-sigmoid-softsign", "winograd-odd-batch", "activation-into-pooling"];

    [Theory]
    [MemberData(nameof(Models))]
    public void FusedAndTapePathsAgreeBitForBit(string kind)
    {
        var x = Tensor.RandomNormal([203, 6], seed: 3);
        var labels = (x.Sum(1) > 0f) + (x.Slice(0, 1, axis: 1).Reshape(-1) > 0.5f); // classes 0, 1, 2
        Func<Sequential> build;
        Loss loss;
        Tensor y = labels;
        int batch = 16;
        switch (kind)
        {
            case "relu-sparse":
                build = () => new Sequential(new Dense(8, "relu"), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                break;
            case "sigmoid-tanh-categorical":
                build = () => new Sequential(new Dense(8, "sigmoid"), new Dense(5, "tanh"), new Dense(3));
                loss = new CategoricalCrossentropy(fromLogits: true);
                y = Tensor.OneHot(labels, 3);
                break;
            case "dropout-normalization-activation":
                build = () =>
                {
                    var norm = new Normalization();
                    norm.Adapt(x);
                    return new Sequential(new Input([6]), norm, new Dense(8), new Activation("elu"), new Dropout(0.3f, seed: 1), new Dense(3, useBias: false));
                };
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                break;
            case "batchnorm-odd-batch":
                build = () => new Sequential(new Dense(12), new BatchNormalization(momentum: 0.9f), new Activation("relu"), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                batch = 50; // 203 rows: a last batch of 3
                break;
            case "batchnorm-frozen": // fine-tuning: normalises with its moving statistics, passes the gradient through
                build = () => new Sequential(new Dense(12), new BatchNormalization(gammaInitializer: new Initializers.Constant(1.5f),
                        betaInitializer: new Initializers.Constant(-0.2f), movingMeanInitializer: new Initializers.Constant(0.3f),
                        movingVarianceInitializer: new Initializers.Constant(2f)) { Trainable = false },
                    new Activation("relu"), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                break;
            case "batchnorm-first": // the first trained stage: its backward stops at γ and β
                build = () => new Sequential(new Input([6]), new BatchNormalization(scale: false), new Dense(8, "tanh"), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                break;
            case "relu6-elu-slope":
                build = () => new Sequential(new Dense(8, "relu6"), new Dense(6, Activations.ActivationFunction.Elu(0.5f)), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                break;
            case "relu-layer-hard-sigmoid-softsign": // the ReLU layer with all its arguments, and two activations derived from their outputs
                build = () => new Sequential(new Dense(8), new ReLU(maxValue: 2f, negativeSlope: 0.1f, threshold: 0.5f),
                    new Dense(6, "hard_sigmoid"), new Dense(6, "softsign"), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                break;
            case "batchnorm-axis1": // not the last axis: channels 3 with 2 values each per sample
                build = () => new Sequential(new Input([6]), new Reshape([3, 2]), new BatchNormalization(axis: 1), new Flatten(), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                batch = 50;
                break;
            case "conv-global-average": // GlobalAveragePooling2D: one average window over the whole image
                build = () => new Sequential(new Input([6]), new Reshape([2, 3, 1]), new Conv2D(4, (1, 2), activation: "relu"), new GlobalAveragePooling2D(), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                batch = 50;
                break;
            case "winograd-odd-batch":
                // 3×3 convolutions on 8 channels: Winograd for the batches of 50 (800 and 450 tiles), im2col for the last
                // batch of 3 (48 and 27 tiles) with the buffer the stage made for Winograd's transformed input.
                build = () => new Sequential(new Input([6]), new Dense(512), new Reshape([8, 8, 8]), new Conv2D(8, 3, padding: "same", activation: "relu"),
                    new Conv2D(8, 3, activation: "tanh"), new GlobalAveragePooling2D(), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                batch = 50;
                break;
            case "activation-into-pooling":
                // Each max pooling applies the convolution's activation gradient (tanh, then ReLU) in its own backward
                // (PoolStage.TryTakeActivationGradient); 7 × 7 and 3 × 3 leave a row and a column outside every window.
                build = () => new Sequential(new Input([6]), new Dense(128), new Reshape([8, 8, 2]), new Conv2D(20, 2, activation: "tanh"),
                    new MaxPooling2D(2), new Conv2D(5, 1, activation: "relu"), new MaxPooling2D(2), new Flatten(), new Dense(3));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                batch = 50;
                break;
            case "binary-logits-odd-batch":
                build = () => new Sequential(new Dense(8, "relu"), new Dense(1));
                loss = new BinaryCrossentropy(fromLogits: true);
                y = (labels > 0.5f).Reshape(-1, 1);
                batch = 50;
                break;
            case "multi-label-logits": // several sigmoid outputs, each its own yes/no
                build = () => new Sequential(new Dense(8, "tanh"), new Dense(3));
                loss = new BinaryCrossentropy(fromLogits: true);
                y = Tensor.OneHot(labels, 3);
                break;
            default:
                build = () => new Sequential(new Dense(7, "leaky_relu"), new Dense(3, "selu"));
                loss = new SparseCategoricalCrossentropy(fromLogits: true);
                batch = 50; // 203 rows: a short last batch
                break;
        }
        var fused = Train(false, build, x, y, batch, new Adam(0.01f), loss);
        var taped = Train(true, build, x, y, batch, new Adam(0.01f), loss);
        Assert.Equal(taped, fused);
    }

    [Theory]
    [MemberData(nameof(UpdateRuleTests.Optimizers), MemberType = typeof(UpdateRuleTests))]
    public void WideFirstLayerUpdatedPiecewiseOnTwoCoresAgreesWithTheTapeBitForBit(string optimizer)
    {
        // A 784-wide first Dense is updated a block of rows at a time, split over two cores at the forward GEMM's k cut
        // (DenseStage.TryBackwardAndUpdate), by every optimizer's rule (clipValue clips each block); with a schedule,
        // so each piece must use the step's own rate.
        var x = Tensor.RandomUniform([150, 784], seed: 5);
        var y = (x.Slice(0, 392, axis: 1).Sum(1) > x.Slice(392, 392, axis: 1).Sum(1)) + (x.Slice(0, 1, axis: 1).Reshape(-1) > 0.5f);
        Sequential Build() => new(new Dense(40, "relu"), new Dense(3));
        Optimizer Make()
        {
            var o = UpdateRuleTests.Make(optimizer);
            o.Schedule = new ExponentialDecay(0.003f, decaySteps: 4, decayRate: 0.5f);
            return o;
        }
        var loss = new SparseCategoricalCrossentropy(fromLogits: true);
        var fused = Train(false, Build, x, y, 32, Make(), loss,
            model => Assert.True(model.Optimizer!.TryBeginPieces(((Dense)model.Layers[0]).Kernel!, out _), "the fused step updates the kernel piecewise"));
        var taped = Train(true, Build, x, y, 32, Make(), loss);
        Assert.Equal(taped.Select(BitConverter.SingleToInt32Bits), fused.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData("plain", "fused")]
    [InlineData("regularizer", "tape: Dense 'reg' has a regularizer")]
    [InlineData("frozen", "tape: Dense 'frozen' is frozen")]
    [InlineData("global-pooling", "fused")]
    [InlineData("own-layer", "tape: Doubler 'double' has no fused stage")] // a user's layer, defined by CallCore alone
    [InlineData("batchnorm-axis", "fused")] // any axis: the (outer, channels, inner) view
    [InlineData("mse", "tape: the loss MeanSquaredError has no fused kernel (for labels of this shape)")]
    public void TrainingPathSaysWhichPathFitTookAndWhy(string kind, string expected)
    {
        // Every layer with a stage runs fused; the first that has none (or this use of it) is named.
        var x = Tensor.RandomUniform([20, 4, 4, 2], seed: 3);
        var y = Tensor.FromArray(Enumerable.Range(0, 20).Select(i => (float)(i % 3)).ToArray());
        Sequential model = kind switch
        {
            "regularizer" => new(new Flatten(), new Dense(5, kernelRegularizer: new L2(0.01f), name: "reg"), new Dense(3)),
            "frozen" => new(new Flatten(), new Dense(5, name: "frozen"), new Dense(3)),
            "global-pooling" => new(new Conv2D(4, 3, padding: "same"), new GlobalAveragePooling2D(name: "gap"), new Dense(3)),
            "batchnorm-axis" => new(new Conv2D(4, 3), new BatchNormalization(axis: 1, name: "bn"), new Flatten(), new Dense(3)),
            "own-layer" => new(new Flatten(), new Doubler("double"), new Dense(3)),
            _ => new(new Conv2D(4, 3), new MaxPooling2D(2), new Flatten(), new Dense(3)),
        };
        if (kind == "frozen")
        {
            model.Build([-1, 4, 4, 2]);
            model.Layers.First(l => l.Name == "frozen").Trainable = false;
        }
        model.Compile(new Adam(), kind == "mse" ? new MeanSquaredError() : new SparseCategoricalCrossentropy(fromLogits: true));
        Assert.Null(model.TrainingPath);
        if (kind == "mse")
        {
            var oneHot = new float[20, 3];
            for (int i = 0; i < 20; i++) oneHot[i, i % 3] = 1;
            y = Tensor.FromArray(oneHot);
        }
        model.Fit(x, y, epochs: 1, batchSize: 8, verbose: 0);
        Assert.Equal(expected, model.TrainingPath);
    }

    /// <summary>A layer as a user writes one: its computation in tensor ops, no stage.</summary>
    private sealed class Doubler(string name) : Layer(name)
    {
        protected override Tensor CallCore(Tensor inputs, bool training) => inputs * 2f;
    }
}
