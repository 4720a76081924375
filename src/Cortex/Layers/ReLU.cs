using System.Globalization;
using System.Runtime.Intrinsics;
using Cortex.Activations;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.ReLU))]

namespace Cortex.Layers;

/// <summary>
/// Keras's <c>ReLU</c> layer: <c>min(x, maxValue)</c> for <c>x &gt; threshold</c>, <c>negativeSlope·(x − threshold)</c>
/// otherwise; with the defaults, <c>max(x, 0)</c>. It runs in the fused step as an activation stage (its derivative
/// comes from the output).
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(new Dense(16), new ReLU(maxValue: 6f), new Dense(1));
/// var leaky = new ReLU(negativeSlope: 0.1f, threshold: 0.5f);
/// </code>
/// </example>
public sealed class ReLU : Layer
{
    private readonly ActivationFunction function;

    /// <summary>Creates the layer.</summary>
    /// <param name="maxValue">The largest output; null for none.</param>
    /// <param name="negativeSlope">The slope at or below the threshold.</param>
    /// <param name="threshold">The input above which the output is the input.</param>
    /// <param name="name">The layer's name; null for an automatic one.</param>
    /// <exception cref="ArgumentException">An argument is negative or not finite (Keras refuses negative values).</exception>
    public ReLU(float? maxValue = null, float negativeSlope = 0f, float threshold = 0f, string? name = null) : base(name)
    {
        if (maxValue is float max) NonNegative(nameof(maxValue), max);
        MaxValue = maxValue;
        NegativeSlope = NonNegative(nameof(negativeSlope), negativeSlope);
        Threshold = NonNegative(nameof(threshold), threshold);
        function = ActivationFunction.Unregistered("relu", new ThresholdedReluOperator(maxValue ?? float.PositiveInfinity, negativeSlope, threshold));
    }

    private static float NonNegative(string argument, float value) =>
        value >= 0 && float.IsFinite(value) ? value
            : throw new ArgumentException($"ReLU: {argument} of a ReLU layer cannot be a negative value. Received: {argument}={value.ToString(CultureInfo.InvariantCulture)}", argument);

    /// <summary>The largest output; null for none.</summary>
    public float? MaxValue { get; }

    /// <summary>The slope at or below the threshold.</summary>
    public float NegativeSlope { get; }

    /// <summary>The input above which the output is the input.</summary>
    public float Threshold { get; }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => function.Apply(inputs);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        stage = new ActivationStage(function, context.Sample[^1]) { Width = context.InputWidth };
        return true;
    }
}

/// <summary>
/// Keras's relu with all three arguments: x &gt; t ? min(x, max) : s·(x − t), for t ≥ 0 and max ≥ 0. The gradient is 1
/// where t &lt; x &lt; max, s where x &lt; t and 0 elsewhere (at t, as relu′(0) = 0; at max, as relu6's) — read from the
/// output alike: y &lt; 0 ⇔ x &lt; t (s &gt; 0), 0 &lt; y &lt; max ⇔ t &lt; x &lt; max.
/// </summary>
internal readonly struct ThresholdedReluOperator(float max, float slope, float threshold) : IActivationOperator
{
    private readonly float max = max, slope = slope, threshold = threshold;

    public bool DerivativeFromOutput => true;

    // Below the threshold 0 − s·(t − x), as Keras subtracts it: +0 (not −0) when s = 0.
    public float Invoke(float x) => x > threshold ? MathF.Min(x, max) : 0f - slope * (threshold - x);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128.Create(threshold)),
        Vector128.Min(x, Vector128.Create(max)), Vector128<float>.Zero - Vector128.Create(slope) * (Vector128.Create(threshold) - x));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(threshold)),
        Vector256.Min(x, Vector256.Create(max)), Vector256<float>.Zero - Vector256.Create(slope) * (Vector256.Create(threshold) - x));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(threshold)),
        Vector512.Min(x, Vector512.Create(max)), Vector512<float>.Zero - Vector512.Create(slope) * (Vector512.Create(threshold) - x));

    public float Gradient(float g, float x, float y) => y < 0f ? g * slope : y > 0f && y < max ? g : 0f;
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) =>
        Vector128.ConditionalSelect(Vector128.LessThan(y, Vector128<float>.Zero), g * Vector128.Create(slope),
            g & Vector128.GreaterThan(y, Vector128<float>.Zero) & Vector128.LessThan(y, Vector128.Create(max)));
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) =>
        Vector256.ConditionalSelect(Vector256.LessThan(y, Vector256<float>.Zero), g * Vector256.Create(slope),
            g & Vector256.GreaterThan(y, Vector256<float>.Zero) & Vector256.LessThan(y, Vector256.Create(max)));
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) =>
        Vector512.ConditionalSelect(Vector512.LessThan(y, Vector512<float>.Zero), g * Vector512.Create(slope),
            g & Vector512.GreaterThan(y, Vector512<float>.Zero) & Vector512.LessThan(y, Vector512.Create(max)));
}
