using System.Text.Json;
using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Regularizers;

namespace Cortex.Saving;

/// <summary>Rebuilds layers from their saved class name and config.</summary>
internal static class LayerRegistry
{
    public static Layer FromConfig(string className, JsonElement c)
    {
        string? name = ConfigJson.String(c, "name");
        Layer layer = className switch
        {
            nameof(Dense) => new Dense(
                units: ConfigJson.Int(c, "units", 0),
                activation: Activation(c),
                useBias: ConfigJson.Bool(c, "use_bias", true),
                kernelInitializer: ConfigJson.Object(c, "kernel_initializer") is { } ki ? Initializer.FromConfig(ConfigJson.ClassName(ki), ConfigJson.Config(ki)) : null,
                biasInitializer: ConfigJson.Object(c, "bias_initializer") is { } bi ? Initializer.FromConfig(ConfigJson.ClassName(bi), ConfigJson.Config(bi)) : null,
                kernelRegularizer: ConfigJson.Object(c, "kernel_regularizer") is { } kr ? Regularizer.FromConfig(ConfigJson.ClassName(kr), ConfigJson.Config(kr)) : null,
                biasRegularizer: ConfigJson.Object(c, "bias_regularizer") is { } br ? Regularizer.FromConfig(ConfigJson.ClassName(br), ConfigJson.Config(br)) : null,
                name: name),
            nameof(Layers.Activation) => new Layers.Activation(Activation(c), name),
            nameof(Flatten) => new Flatten(name),
            nameof(Dropout) => new Dropout(ConfigJson.Float(c, "rate", 0f), ConfigJson.NullableInt(c, "seed"), name),
            nameof(Normalization) => new Normalization(name),
            nameof(Input) => new Input(ConfigJson.Ints(c, "shape"), name),
            nameof(Reshape) => new Reshape(ConfigJson.Ints(c, "target_shape"), name),
            nameof(Conv2D) => new Conv2D(
                filters: ConfigJson.Int(c, "filters", 0),
                kernelSize: Size(c, "kernel_size"),
                strides: Size(c, "strides"),
                padding: ConfigJson.String(c, "padding") ?? "valid",
                activation: Activation(c),
                useBias: ConfigJson.Bool(c, "use_bias", true),
                dilationRate: Size(c, "dilation_rate"),
                kernelInitializer: Init(c, "kernel_initializer"),
                biasInitializer: Init(c, "bias_initializer"),
                kernelRegularizer: ConfigJson.Object(c, "kernel_regularizer") is { } ckr ? Regularizer.FromConfig(ConfigJson.ClassName(ckr), ConfigJson.Config(ckr)) : null,
                biasRegularizer: ConfigJson.Object(c, "bias_regularizer") is { } cbr ? Regularizer.FromConfig(ConfigJson.ClassName(cbr), ConfigJson.Config(cbr)) : null,
                name: name),
            nameof(MaxPooling2D) => new MaxPooling2D(Size(c, "pool_size"), Size(c, "strides"), ConfigJson.String(c, "padding") ?? "valid", name),
            nameof(AveragePooling2D) => new AveragePooling2D(Size(c, "pool_size"), Size(c, "strides"), ConfigJson.String(c, "padding") ?? "valid", name),
            nameof(GlobalAveragePooling2D) => new GlobalAveragePooling2D(ConfigJson.Bool(c, "keepdims", false), name),
            nameof(BatchNormalization) => new BatchNormalization(
                axis: ConfigJson.Int(c, "axis", -1),
                momentum: ConfigJson.Float(c, "momentum", 0.99f),
                epsilon: ConfigJson.Float(c, "epsilon", 1e-3f),
                center: ConfigJson.Bool(c, "center", true),
                scale: ConfigJson.Bool(c, "scale", true),
                betaInitializer: Init(c, "beta_initializer"),
                gammaInitializer: Init(c, "gamma_initializer"),
                movingMeanInitializer: Init(c, "moving_mean_initializer"),
                movingVarianceInitializer: Init(c, "moving_variance_initializer"),
                name: name),
            _ => throw new InvalidDataException($"unknown layer class '{className}'"),
        };
        layer.Trainable = ConfigJson.Bool(c, "trainable", true);
        return layer;
    }

    private static Size2D Size(JsonElement c, string key)
    {
        int[] s = ConfigJson.Ints(c, key);
        return s.Length == 2 ? new Size2D(s[0], s[1]) : throw new InvalidDataException($"'{key}' must list 2 sizes, got {s.Length}");
    }

    private static Initializer? Init(JsonElement c, string key) =>
        ConfigJson.Object(c, key) is { } i ? Initializer.FromConfig(ConfigJson.ClassName(i), ConfigJson.Config(i)) : null;

    private static ActivationFunction Activation(JsonElement c)
    {
        var f = ActivationFunction.Get(ConfigJson.String(c, "activation"));
        return f.WithAlpha(ConfigJson.Float(c, "activation_alpha", f.Alpha));
    }
}
