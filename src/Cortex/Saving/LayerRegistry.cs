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
            _ => throw new InvalidDataException($"unknown layer class '{className}'"),
        };
        layer.Trainable = ConfigJson.Bool(c, "trainable", true);
        return layer;
    }

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
