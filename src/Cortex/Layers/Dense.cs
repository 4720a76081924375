using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Regularizers;

namespace Cortex.Layers;

/// <summary>
/// A fully connected layer: <c>a = g(x·W + b)</c>. The kernel W has shape (inputs, units), so each neuron's weights
/// are one column; the bias b has one entry per unit.
/// </summary>
/// <example>
/// <code>
/// var layer = new Dense(units: 3, activation: "sigmoid");
/// Tensor a = layer.Call(Tensor.FromArray(new float[,] { { 200, 17 } }));   // shape (1, 3)
/// </code>
/// </example>
public sealed class Dense : Layer
{
    /// <summary>Creates the layer; weights are made on first use, when the input size is known.</summary>
    /// <param name="units">Number of neurons (output features).</param>
    /// <param name="activation">g, by name (<c>"relu"</c>) or typed; linear when null.</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="kernelInitializer">How W starts (Keras default: glorot_uniform — random, never zeros).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="kernelRegularizer">Penalty on W added to the loss (e.g. <c>new L2(0.01f)</c>).</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="name">Layer name; <c>dense</c>, <c>dense_1</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="units"/> is not positive.</exception>
    public Dense(int units, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, string? name = null)
        : base(name)
    {
        if (units <= 0) throw new ArgumentOutOfRangeException(nameof(units), $"Dense: units must be a positive integer. Received: units={units}");
        Units = units;
        Activation = activation ?? ActivationFunction.Linear;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        BiasRegularizer = biasRegularizer;
    }

    /// <summary>Number of neurons.</summary>
    public int Units { get; }
    /// <summary>The activation g.</summary>
    public ActivationFunction Activation { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }
    /// <summary>Initializer of W.</summary>
    public Initializer KernelInitializer { get; }
    /// <summary>Initializer of b.</summary>
    public Initializer BiasInitializer { get; }
    /// <summary>Penalty on W, if any.</summary>
    public Regularizer? KernelRegularizer { get; }
    /// <summary>Penalty on b, if any.</summary>
    public Regularizer? BiasRegularizer { get; }
    /// <summary>W, shape (inputs, units); null before the layer is built.</summary>
    public Variable? Kernel { get; private set; }
    /// <summary>b, shape (units,); null before building or without bias.</summary>
    public Variable? Bias { get; private set; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        if (inputShape.Length < 2)
            throw new ArgumentException($"Dense '{Name}' expects input of rank ≥ 2 (batch, features). Received: shape {ShapeUtil.Format(inputShape)}");
        int inputs = inputShape[^1];
        Kernel = AddWeight("kernel", [inputs, Units], KernelInitializer, regularizer: KernelRegularizer);
        if (UseBias) Bias = AddWeight("bias", [Units], BiasInitializer, regularizer: BiasRegularizer);
    }

    /// <inheritdoc/>
    protected override bool TryBuildFromWeights(Tensor[] values)
    {
        if (values[0].Rank != 2) return false;
        EnsureBuilt([-1, values[0].ShapeRef[0]]);
        return true;
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        int expected = Kernel!.ShapeRef[0];
        if (inputs.Rank < 2 || inputs.ShapeRef[^1] != expected)
            throw new ArgumentException($"Dense '{Name}' expects input with {expected} features. Received: shape {ShapeUtil.Format(inputs.ShapeRef)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training)
    {
        if (inputs.Rank == 2) return FusedDense.Forward(inputs, Kernel!, Bias, Activation);
        int[] shape = inputs.ShapeRef;
        var flat = FusedDense.Forward(inputs.Reshape(-1, shape[^1]), Kernel!, Bias, Activation);
        return flat.Reshape([.. shape[..^1], Units]);
    }

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) => [.. inputShape[..^1], Units];

    /// <inheritdoc/>
    public override Dictionary<string, object?> GetConfig()
    {
        var c = base.GetConfig();
        c["units"] = Units;
        c["activation"] = Activation.Name;
        c["activation_alpha"] = Activation.Alpha;
        c["use_bias"] = UseBias;
        c["kernel_initializer"] = Saving.ConfigJson.Describe(KernelInitializer.GetType().Name, KernelInitializer.GetConfig());
        c["bias_initializer"] = Saving.ConfigJson.Describe(BiasInitializer.GetType().Name, BiasInitializer.GetConfig());
        c["kernel_regularizer"] = KernelRegularizer == null ? null : Saving.ConfigJson.Describe(KernelRegularizer.GetType().Name, KernelRegularizer.GetConfig());
        c["bias_regularizer"] = BiasRegularizer == null ? null : Saving.ConfigJson.Describe(BiasRegularizer.GetType().Name, BiasRegularizer.GetConfig());
        return c;
    }
}
