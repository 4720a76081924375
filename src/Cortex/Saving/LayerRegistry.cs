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
                kernelInitializer: Init(c, "kernel_initializer"),
                biasInitializer: Init(c, "bias_initializer"),
                kernelRegularizer: Reg(c, "kernel_regularizer"),
                biasRegularizer: Reg(c, "bias_regularizer"),
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
                kernelRegularizer: Reg(c, "kernel_regularizer"),
                biasRegularizer: Reg(c, "bias_regularizer"),
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
            _ => throw new InvalidDataException($"unknown layer class '{Excerpt.Of(className)}'; expected one of {string.Join(", ", Known)}."),
        };
        layer.Trainable = ConfigJson.Bool(c, "trainable", true);
        return layer;
    }

    // The layers a file may name: only these are ever instantiated, whatever class name a file holds.
    private static readonly string[] Known =
    [
        nameof(Dense), nameof(Layers.Activation), nameof(Flatten), nameof(Dropout), nameof(Normalization), nameof(Input), nameof(Reshape),
        nameof(Conv2D), nameof(MaxPooling2D), nameof(AveragePooling2D), nameof(GlobalAveragePooling2D), nameof(BatchNormalization),
    ];

    private static Size2D Size(JsonElement c, string key)
    {
        int[] s = ConfigJson.Ints(c, key);
        return s.Length == 2 ? new Size2D(s[0], s[1]) : throw new InvalidDataException($"key '{key}': expected 2 sizes (height, width). Received: {s.Length}");
    }

    // An initializer or regularizer saved as {"class_name": …, "config": {…}} under `key`; errors name the key.
    private static Initializer? Init(JsonElement c, string key) =>
        ConfigJson.Object(c, key) is { } i ? Initializer.FromConfig(ConfigJson.ClassName(i, $"key '{key}'"), ConfigJson.Config(i, $"key '{key}'")) : null;

    private static Regularizer? Reg(JsonElement c, string key) =>
        ConfigJson.Object(c, key) is { } r ? Regularizer.FromConfig(ConfigJson.ClassName(r, $"key '{key}'"), ConfigJson.Config(r, $"key '{key}'")) : null;

    private static ActivationFunction Activation(JsonElement c)
    {
        var f = ActivationFunction.Get(ConfigJson.String(c, "activation"));
        float alpha = ConfigJson.Float(c, "activation_alpha", f.Alpha);
        return f.FunctionKind switch
        {
            ActivationFunction.Kind.LeakyRelu => ActivationFunction.LeakyRelu(alpha),
            ActivationFunction.Kind.Elu => ActivationFunction.Elu(alpha),
            _ => f,
        };
    }
}
