using System.Globalization;
using System.Text.Json;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Constraints.MaxNorm))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Constraints.NonNeg))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Constraints.UnitNorm))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Constraints.MinMaxNorm))]

namespace Cortex.Constraints;

/// <summary>
/// A projection applied to a weight after every optimizer update, as Keras's <c>kernel_constraint</c>: the optimizer
/// updates the weight, then replaces it with <c>constraint(weight)</c>. Set on a layer's weight
/// (<c>kernelConstraint</c>, <c>biasConstraint</c>) or on any <see cref="Variable"/> (<see cref="Variable.Constraint"/>).
/// </summary>
/// <example>
/// <code>
/// var dense = new Dense(64, "relu", kernelConstraint: new MaxNorm(3f));   // each unit's incoming weights: norm ≤ 3
/// var conv = new Conv2D(32, 3, kernelConstraint: new MaxNorm(2f, axis: [0, 1, 2]));
/// </code>
/// </example>
public abstract class Constraint
{
    /// <summary>Keras's backend epsilon, which keeps a zero norm from dividing by zero.</summary>
    private protected const float Epsilon = 1e-7f;

    /// <summary>The constrained copy of <paramref name="weights"/> (the weights are left as they are).</summary>
    /// <example><code>Tensor w = new NonNeg().Call(Tensor.FromArray([-1f, 2f]));   // [0 2]</code></example>
    public Tensor Call(Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var result = Tensor.FromArray(weights.ToArray(), weights.Shape);
        Apply(result.Span, weights.ShapeRef);
        return result;
    }

    /// <summary>Replaces <paramref name="weights"/> (of <paramref name="shape"/>) with their constrained values, in place.</summary>
    internal abstract void Apply(Span<float> weights, int[] shape);

    /// <summary>The constructor arguments, Keras-named (<c>max_value</c>, <c>axis</c>), for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Constraint> Create)[] Names =
    [
        ("max_norm", () => new MaxNorm()),
        ("min_max_norm", () => new MinMaxNorm()),
        ("non_neg", () => new NonNeg()),
        ("unit_norm", () => new UnitNorm()),
    ];

    /// <summary>
    /// The constraint for a Keras name with Keras's defaults: <c>"max_norm"</c>, <c>"min_max_norm"</c>,
    /// <c>"non_neg"</c>, <c>"unit_norm"</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Constraint Get(string identifier) => ConfigJson.Resolve("constraint", identifier, Names);

    /// <summary>Rebuilds a constraint from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static Constraint FromConfig(string className, JsonElement config) => ConfigRegistry.Constraints.Create(className, config);
}

/// <summary>
/// The constraints that rescale slices of a weight by their L2 norm over <see cref="Axis"/> (Keras's
/// <c>sqrt(sum(square(w), axis, keepdims=True))</c>): each slice becomes <c>w · desired(norm) / (ε + norm)</c>.
/// </summary>
public abstract class NormConstraint : Constraint
{
    private protected NormConstraint(string owner, int[]? axis)
    {
        Axis = axis is null ? [0] : (int[])axis.Clone();
        if (Axis.Length == 0)
            throw new ArgumentException($"{owner}: axis must name at least one axis. Received: axis=[]", nameof(axis));
    }

    /// <summary>The axes the norm runs over (Keras's default 0: for a Dense kernel (inputs, units), each unit's incoming
    /// weights; for a Conv2D kernel (kh, kw, in, filters) use [0, 1, 2], each filter).</summary>
    public int[] Axis { get; }

    /// <summary>The norm a slice should have, from the norm it has.</summary>
    private protected abstract float Desired(float norm);

    internal override void Apply(Span<float> weights, int[] shape)
    {
        lock (plans)   // the buffers are the constraint's: one projection at a time
        {
            var plan = PlanFor(shape);
            Array.Clear(plan.Sums);
            for (int i = 0; i < weights.Length; i++) plan.Sums[plan.Slice[i]] += (double)weights[i] * weights[i];
            for (int s = 0; s < plan.Factor.Length; s++)
            {
                float norm = (float)Math.Sqrt(plan.Sums[s]);
                plan.Factor[s] = Desired(norm) / (Epsilon + norm);
            }
            for (int i = 0; i < weights.Length; i++) weights[i] *= plan.Factor[plan.Slice[i]];
        }
    }

    /// <summary>Each element's slice (its index with the normed axes left out) and the buffers for the norms, made once
    /// per weight shape (a variable keeps its shape array), so the projection after every update allocates nothing.</summary>
    private sealed record Plan(int[] Slice, double[] Sums, float[] Factor);

    private readonly Dictionary<int[], Plan> plans = new(ReferenceEqualityComparer.Instance);

    private Plan PlanFor(int[] shape)
    {
        {
            if (plans.TryGetValue(shape, out var cached)) return cached;
            var normed = new bool[shape.Length];
            foreach (int a in Axis)
            {
                int axis = a < 0 ? a + shape.Length : a;
                if (axis < 0 || axis >= shape.Length)
                    throw new ArgumentException($"{GetType().Name}: axis {a} is out of range for a weight of shape {ShapeUtil.Format(shape)}.");
                normed[axis] = true;
            }
            int slices = 1, size = 1;
            for (int d = 0; d < shape.Length; d++) { size *= shape[d]; if (!normed[d]) slices *= shape[d]; }
            var slice = new int[size];
            for (int i = 0; i < size; i++)
            {
                int rest = i, index = 0, scale = 1;
                for (int d = shape.Length - 1; d >= 0; d--)
                {
                    int c = rest % shape[d];
                    rest /= shape[d];
                    if (normed[d]) continue;
                    index += c * scale;
                    scale *= shape[d];
                }
                slice[i] = index;
            }
            var plan = new Plan(slice, new double[slices], new float[slices]);
            if (plans.Count < 64) plans[shape] = plan;   // a constraint serves a few weights; Call's copies are not kept
            return plan;
        }
    }

    private protected static float Check(string owner, string argument, float value) =>
        value >= 0 && float.IsFinite(value) ? value
            : throw new ArgumentException($"{owner}: {argument} must be a non-negative finite number. Received: {argument}={value.ToString(CultureInfo.InvariantCulture)}", argument);
}

/// <summary>Keras's <c>MaxNorm</c>: slices whose norm exceeds <see cref="MaxValue"/> are scaled down to it.</summary>
/// <example><code>var dense = new Dense(64, kernelConstraint: new MaxNorm(2f));</code></example>
public sealed class MaxNorm : NormConstraint
{
    /// <summary>Creates the constraint (Keras's defaults: max_value 2, axis 0).</summary>
    /// <exception cref="ArgumentException"><paramref name="maxValue"/> is negative or not finite, or <paramref name="axis"/> is empty.</exception>
    public MaxNorm(float maxValue = 2f, int[]? axis = null) : base(nameof(MaxNorm), axis) => MaxValue = Check(nameof(MaxNorm), "max_value", maxValue);

    /// <summary>The largest norm a slice keeps.</summary>
    public float MaxValue { get; }

    private protected override float Desired(float norm) => Math.Clamp(norm, 0f, MaxValue);
}

/// <summary>Keras's <c>UnitNorm</c>: every slice scaled to norm 1.</summary>
/// <example><code>var dense = new Dense(8, kernelConstraint: new UnitNorm());</code></example>
public sealed class UnitNorm : NormConstraint
{
    /// <summary>Creates the constraint (Keras's default axis 0).</summary>
    /// <exception cref="ArgumentException"><paramref name="axis"/> is empty.</exception>
    public UnitNorm(int[]? axis = null) : base(nameof(UnitNorm), axis) { }

    private protected override float Desired(float norm) => 1f;
}

/// <summary>
/// Keras's <c>MinMaxNorm</c>: each slice's norm moved towards [<see cref="MinValue"/>, <see cref="MaxValue"/>] —
/// <c>desired = rate · clip(norm, min, max) + (1 − rate) · norm</c>.
/// </summary>
/// <example><code>var dense = new Dense(8, kernelConstraint: new MinMaxNorm(0.5f, 1f, rate: 0.5f));</code></example>
public sealed class MinMaxNorm : NormConstraint
{
    /// <summary>Creates the constraint (Keras's defaults: min 0, max 1, rate 1, axis 0).</summary>
    /// <exception cref="ArgumentException">A value is negative or not finite, <paramref name="minValue"/> exceeds
    /// <paramref name="maxValue"/>, or <paramref name="axis"/> is empty.</exception>
    public MinMaxNorm(float minValue = 0f, float maxValue = 1f, float rate = 1f, int[]? axis = null) : base(nameof(MinMaxNorm), axis)
    {
        MinValue = Check(nameof(MinMaxNorm), "min_value", minValue);
        MaxValue = Check(nameof(MinMaxNorm), "max_value", maxValue);
        Rate = Check(nameof(MinMaxNorm), "rate", rate);
        if (minValue > maxValue)
            throw new ArgumentException($"MinMaxNorm: min_value must not exceed max_value. Received: min_value={minValue.ToString(CultureInfo.InvariantCulture)}, max_value={maxValue.ToString(CultureInfo.InvariantCulture)}", nameof(minValue));
    }

    /// <summary>The smallest norm.</summary>
    public float MinValue { get; }
    /// <summary>The largest norm.</summary>
    public float MaxValue { get; }
    /// <summary>How far towards the range each update moves the norm (1: all the way).</summary>
    public float Rate { get; }

    private protected override float Desired(float norm) => Rate * Math.Clamp(norm, MinValue, MaxValue) + (1 - Rate) * norm;
}

/// <summary>Keras's <c>NonNeg</c>: negative weights become 0.</summary>
/// <example><code>var dense = new Dense(8, kernelConstraint: new NonNeg());</code></example>
public sealed class NonNeg : Constraint
{
    /// <summary>Creates the constraint.</summary>
    public NonNeg() { }

    internal override void Apply(Span<float> weights, int[] shape)
    {
        for (int i = 0; i < weights.Length; i++) weights[i] *= weights[i] >= 0 ? 1f : 0f;   // Keras's w · (w ≥ 0)
    }
}
