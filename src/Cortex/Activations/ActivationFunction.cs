using System.Runtime.CompilerServices;

namespace Cortex.Activations;

/// <summary>
/// An activation function g in <c>a = g(z)</c>, by Keras name or typed. A string converts implicitly, so
/// <c>new Dense(units: 3, activation: "sigmoid")</c> reads as in Keras.
/// </summary>
/// <example>
/// <code>
/// ActivationFunction g = "relu";
/// Tensor a = g.Apply(Tensor.FromArray(new float[] { -1, 2 }));   // [0. 2.]
/// var leaky = ActivationFunction.LeakyRelu(alpha: 0.1f);
/// </code>
/// </example>
/// <remarks>
/// Choosing one, as the course notes advise: sigmoid for a binary output, linear for regression (or logits paired
/// with a <c>fromLogits: true</c> loss), softmax for a multi-class output, ReLU for hidden layers.
/// </remarks>
public sealed class ActivationFunction
{
    // The registry, filled by the Register lines below in this order (static initialisers run in textual order, so
    // these two come first). Adding an activation: its operator struct, one Register line, one reference test line.
    private static readonly Dictionary<string, ActivationFunction> registry = [];
    private static readonly List<string> names = [];

    private readonly Func<float, ActivationKernel>? withAlpha;

    private ActivationFunction(string name, float alpha, ActivationKernel kernel, Func<float, ActivationKernel>? withAlpha)
    {
        Name = name;
        Alpha = alpha;
        Kernel = kernel;
        this.withAlpha = withAlpha;
    }

    /// <summary>The Keras name, e.g. <c>relu</c>.</summary>
    public string Name { get; }

    /// <summary>The slope (leaky ReLU) or α (ELU); 0 for the others.</summary>
    public float Alpha { get; }

    /// <summary>The span-level forward and derivative, shared by the tape op, the layers and the fused training step.</summary>
    internal ActivationKernel Kernel { get; }

    /// <summary>g(z) = z.</summary>
    public static ActivationFunction Linear { get; } = Register("linear", new LinearOperator());
    /// <summary>g(z) = 1 / (1 + e^−z).</summary>
    public static ActivationFunction Sigmoid { get; } = Register("sigmoid", new SigmoidOperator());
    /// <summary>g(z) = max(0, z).</summary>
    public static ActivationFunction Relu { get; } = Register("relu", new ReluOperator());
    /// <summary>g(z) = tanh z.</summary>
    public static ActivationFunction Tanh { get; } = Register("tanh", new TanhOperator());
    private static readonly ActivationFunction leakyRelu = RegisterWithAlpha("leaky_relu", 0.2f, static a => new LeakyReluOperator(a));
    private static readonly ActivationFunction elu = RegisterWithAlpha("elu", 1f, static a => new EluOperator(a));
    /// <summary>Scaled ELU with the self-normalising constants.</summary>
    public static ActivationFunction Selu { get; } = Register("selu", new SeluOperator());
    /// <summary>Softmax over the last axis.</summary>
    public static ActivationFunction Softmax { get; } = Register("softmax", SoftmaxKernel.Instance);
    /// <summary>g(z) = log(1 + e^z).</summary>
    public static ActivationFunction Softplus { get; } = Register("softplus", new SoftplusOperator());
    /// <summary>g(z) = min(max(0, z), 6).</summary>
    public static ActivationFunction Relu6 { get; } = Register("relu6", new Relu6Operator());
    /// <summary>g(z) = z·σ(z) (SiLU, also called swish; Keras accepts both names).</summary>
    public static ActivationFunction Silu { get; } = Register("silu", new SiluOperator(), alias: "swish");
    private static readonly ActivationFunction gelu = Register("gelu", new GeluOperator());
    private static readonly ActivationFunction geluApproximate = Register("gelu_approximate", new GeluTanhOperator());
    /// <summary>g(z) = relu6(z + 3)/6 (Keras 3's hard sigmoid).</summary>
    public static ActivationFunction HardSigmoid { get; } = Register("hard_sigmoid", new HardSigmoidOperator());
    /// <summary>g(z) = z·relu6(z + 3)/6 (hard SiLU, also called hard swish; Keras accepts both names).</summary>
    public static ActivationFunction HardSilu { get; } = Register("hard_silu", new HardSiluOperator(), alias: "hard_swish");
    /// <summary>g(z) = z·tanh(softplus(z)).</summary>
    public static ActivationFunction Mish { get; } = Register("mish", new MishOperator());
    /// <summary>g(z) = z/(1 + |z|).</summary>
    public static ActivationFunction Softsign { get; } = Register("softsign", new SoftsignOperator());

    /// <summary>
    /// GELU: g(z) = z·Φ(z) = ½z(1 + erf(z/√2)) (the name <c>"gelu"</c>, Keras's default), or with
    /// <paramref name="approximate"/> ½z(1 + tanh(√(2/π)(z + 0.044715z³))) (saved as <c>"gelu_approximate"</c>).
    /// </summary>
    public static ActivationFunction Gelu(bool approximate = false) => approximate ? geluApproximate : gelu;

    /// <summary>g(z) = z for z &gt; 0, αz otherwise (Keras default α = 0.2).</summary>
    public static ActivationFunction LeakyRelu(float alpha = 0.2f) => leakyRelu.WithAlpha(alpha);
    /// <summary>g(z) = z for z &gt; 0, α(e^z − 1) otherwise.</summary>
    public static ActivationFunction Elu(float alpha = 1f) => elu.WithAlpha(alpha);

    /// <summary>The valid names for <see cref="Get"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = names.AsReadOnly();

    /// <summary>Looks an activation up by its Keras name; null or empty means linear.</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static ActivationFunction Get(string? name) =>
        string.IsNullOrEmpty(name) ? Linear
        : registry.TryGetValue(name, out var f) ? f
        : throw new ArgumentException($"Unknown activation '{name}'. Valid names: {string.Join(", ", Names)}", nameof(name));

    /// <summary>Converts a Keras name to the activation, so strings can be passed where an activation is expected.</summary>
    public static implicit operator ActivationFunction(string name) => Get(name);

    private static ActivationFunction Register<TOp>(string name, TOp op, string? alias = null) where TOp : unmanaged, IActivationOperator =>
        Register(name, new ActivationKernel<TOp>(op), alias);

    private static ActivationFunction RegisterWithAlpha<TOp>(string name, float alpha, Func<float, TOp> make) where TOp : unmanaged, IActivationOperator =>
        Add(new ActivationFunction(name, alpha, new ActivationKernel<TOp>(make(alpha)), a => new ActivationKernel<TOp>(make(a))), null);

    /// <summary>An activation outside the registry, for a layer that holds its own (the ReLU layer's three
    /// arguments): not reachable by name, so the layer saves its arguments, not the function.</summary>
    internal static ActivationFunction Unregistered<TOp>(string name, TOp op) where TOp : unmanaged, IActivationOperator =>
        new(name, 0f, new ActivationKernel<TOp>(op), null);

    private static ActivationFunction Register(string name, ActivationKernel kernel, string? alias = null) =>
        Add(new ActivationFunction(name, 0f, kernel, null), alias);

    private static ActivationFunction Add(ActivationFunction f, string? alias)
    {
        foreach (var key in alias == null ? [f.Name] : new[] { f.Name, alias })
        {
            registry.Add(key, f);
            names.Add(key);
        }
        return f;
    }

    /// <summary>This activation with slope <paramref name="alpha"/>: a new one for leaky ReLU and ELU (unless α is
    /// unchanged), this one for the activations that take none.</summary>
    internal ActivationFunction WithAlpha(float alpha) =>
        withAlpha == null || alpha.Equals(Alpha) ? this : new ActivationFunction(Name, alpha, withAlpha(alpha), withAlpha);

    /// <summary>Applies the function to a tensor (differentiable).</summary>
    public Tensor Apply(Tensor z) => Kernel.IsIdentity ? z : NN.Activate(z, this);

    /// <summary>Whether this is the identity, which layers skip.</summary>
    internal bool IsLinear => Kernel.IsIdentity;

    /// <summary>Whether the derivative can be computed from the output alone (true for all but softplus, SiLU and a
    /// negative slope), which lets a fused layer keep only its output for the backward pass.</summary>
    internal bool DerivativeFromOutput => Kernel.DerivativeFromOutput;

    /// <summary>Applies the function in place over rows of length <paramref name="rowLength"/> (softmax needs rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void ApplyInPlace(Span<float> z, int rowLength) => Kernel.Forward(z, z, rowLength);

    /// <summary>z = g(z + bias) in place over rows of length <paramref name="rowLength"/>: a layer's bias and activation
    /// in one pass where the rows allow (<see cref="ActivationEngine.AddBiasForward"/>). An empty bias adds nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void AddBiasApplyInPlace(Span<float> z, ReadOnlySpan<float> bias, int rowLength) => Kernel.AddBiasForward(z, bias, rowLength);

    /// <summary>
    /// Turns the gradient with respect to the output into the gradient with respect to the pre-activation, in place,
    /// from the output y alone: σ' = y(1 − y), tanh' = 1 − y², ReLU' = [y &gt; 0], and so on. At z = 0 the choices
    /// match PyTorch (ReLU' = 0, leaky' = α, ELU' = α).
    /// </summary>
    /// <exception cref="InvalidOperationException">The derivative needs the input (<see cref="DerivativeFromOutput"/> is false).</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void BackwardInPlace(Span<float> grad, ReadOnlySpan<float> y, int rowLength)
    {
        if (!DerivativeFromOutput) throw new InvalidOperationException($"{Name}: the derivative needs the input, not the output.");
        Kernel.Backward(grad, default, y, grad, rowLength);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
