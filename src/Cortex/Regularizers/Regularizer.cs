using Cortex.Saving;
using System.Text.Json;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Regularizers.L1))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Regularizers.L2))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Regularizers.L1L2))]

namespace Cortex.Regularizers;

/// <summary>
/// A penalty on a weight tensor that a layer adds to the training loss, pulling weights towards zero: a scalar,
/// differentiable with respect to the weights.
/// </summary>
/// <example>
/// <code>
/// var dense = new Dense(64, kernelRegularizer: new L2(0.01f));   // adds 0.01·Σw² to the loss
/// </code>
/// </example>
public abstract class Regularizer
{
    /// <summary>The penalty for <paramref name="weights"/>: a scalar tensor.</summary>
    public abstract Tensor Call(Tensor weights);

    /// <summary>The constructor arguments, Keras-named (<c>l1</c>, <c>l2</c>), for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Regularizer> Create)[] Names =
    [
        ("l1", () => new L1()),
        ("l2", () => new L2()),
        ("l1_l2", () => new L1L2(0.01f, 0.01f)),
    ];

    /// <summary>
    /// The regularizer for a Keras name with Keras's defaults: <c>"l1"</c> (0.01), <c>"l2"</c> (0.01), <c>"l1_l2"</c>
    /// (0.01 each, as Keras's string form).
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Regularizer Get(string identifier) => ConfigJson.Resolve("regularizer", identifier, Names);

    /// <summary>Rebuilds a regularizer from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static Regularizer FromConfig(string className, JsonElement config) => ConfigRegistry.Regularizers.Create(className, config);
}

/// <summary>L1 penalty: <c>l1 · Σ|w|</c>, which drives weights to exactly zero (sparsity).</summary>
/// <example><code>Tensor p = new L1(0.01f).Call(kernel);</code></example>
public sealed class L1 : Regularizer
{
    /// <summary>Creates the penalty.</summary>
    /// <exception cref="ArgumentException"><paramref name="l1"/> is negative or not finite.</exception>
    public L1(float l1 = 0.01f) => Factor = ConfigJson.NonNegative("L1", "l1", l1);

    /// <summary>The factor l1.</summary>
    [Config(Argument = "l1")]
    public float Factor { get; }

    /// <inheritdoc/>
    public override Tensor Call(Tensor weights) => weights.Abs().Sum() * Factor;
}

/// <summary>L2 penalty (weight decay): <c>l2 · Σw²</c> — as in Keras, without a factor ½.</summary>
/// <example><code>Tensor p = new L2(0.01f).Call(kernel);</code></example>
public sealed class L2 : Regularizer
{
    /// <summary>Creates the penalty.</summary>
    /// <exception cref="ArgumentException"><paramref name="l2"/> is negative or not finite.</exception>
    public L2(float l2 = 0.01f) => Factor = ConfigJson.NonNegative("L2", "l2", l2);

    /// <summary>The factor l2.</summary>
    [Config(Argument = "l2")]
    public float Factor { get; }

    /// <inheritdoc/>
    public override Tensor Call(Tensor weights) => weights.Square().Sum() * Factor;
}

/// <summary>Both penalties: <c>l1 · Σ|w| + l2 · Σw²</c>.</summary>
/// <example><code>Tensor p = new L1L2(l1: 0.001f, l2: 0.01f).Call(kernel);</code></example>
public sealed class L1L2 : Regularizer
{
    /// <summary>Creates the penalty (Keras defaults: both 0).</summary>
    /// <exception cref="ArgumentException">A factor is negative or not finite.</exception>
    public L1L2(float l1 = 0f, float l2 = 0f)
    {
        L1Factor = ConfigJson.NonNegative("L1L2", "l1", l1);
        L2Factor = ConfigJson.NonNegative("L1L2", "l2", l2);
    }

    /// <summary>The factor l1.</summary>
    [Config(Argument = "l1")]
    public float L1Factor { get; }

    /// <summary>The factor l2.</summary>
    [Config(Argument = "l2")]
    public float L2Factor { get; }

    /// <inheritdoc/>
    public override Tensor Call(Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Tensor penalty = Tensor.Scalar(0f);
        if (L1Factor != 0) penalty += weights.Abs().Sum() * L1Factor;
        if (L2Factor != 0) penalty += weights.Square().Sum() * L2Factor;
        return penalty;
    }
}
