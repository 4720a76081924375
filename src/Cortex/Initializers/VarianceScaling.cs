[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.VarianceScaling))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.GlorotUniform))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.GlorotNormal))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.HeNormal))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.HeUniform))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.LecunNormal))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.LecunUniform))]

namespace Cortex.Initializers;

/// <summary>
/// Keras's VarianceScaling: samples with variance <c>scale / n</c>, where n is fan_in, fan_out or their average
/// (<see cref="Initializer.ComputeFans"/>). <c>"truncated_normal"</c> draws from a normal truncated at 2σ with σ =
/// √(scale/n) / 0.87962566103423978 (the correction that restores the variance truncation removes);
/// <c>"untruncated_normal"</c> uses σ = √(scale/n); <c>"uniform"</c> draws from ±√(3·scale/n).
/// </summary>
/// <example>
/// <code>
/// var init = new VarianceScaling(scale: 2f, mode: "fan_in", distribution: "truncated_normal");   // = HeNormal
/// Tensor w = init.Call([256, 128]);
/// </code>
/// </example>
public class VarianceScaling : Initializer
{
    /// <summary>The standard deviation of a standard normal truncated to [−2, 2].</summary>
    internal const double TruncationCorrection = 0.87962566103423978;

    /// <summary>Creates the initializer.</summary>
    /// <param name="scale">The variance numerator (positive).</param>
    /// <param name="mode"><c>"fan_in"</c>, <c>"fan_out"</c> or <c>"fan_avg"</c>.</param>
    /// <param name="distribution"><c>"truncated_normal"</c>, <c>"untruncated_normal"</c> or <c>"uniform"</c>.</param>
    /// <param name="seed">Fixes the values; null draws new ones each call.</param>
    /// <exception cref="ArgumentException">An argument is out of range.</exception>
    public VarianceScaling(float scale = 1f, string mode = "fan_in", string distribution = "truncated_normal", int? seed = null)
    {
        if (!(scale > 0)) throw new ArgumentException($"{GetType().Name}: scale must be positive. Received: scale={scale}", nameof(scale));
        if (mode is not ("fan_in" or "fan_out" or "fan_avg"))
            throw new ArgumentException($"{GetType().Name}: invalid mode '{mode}'. Valid modes: fan_in, fan_out, fan_avg", nameof(mode));
        if (distribution == "normal") distribution = "truncated_normal"; // Keras accepts "normal" as this alias
        if (distribution is not ("truncated_normal" or "untruncated_normal" or "uniform"))
            throw new ArgumentException($"{GetType().Name}: invalid distribution '{distribution}'. Valid distributions: truncated_normal, untruncated_normal, uniform", nameof(distribution));
        Scale = scale;
        Mode = mode;
        Distribution = distribution;
        Seed = seed;
    }

    /// <summary>The variance numerator.</summary>
    public float Scale { get; }

    /// <summary>Which fan divides the scale.</summary>
    public string Mode { get; }

    /// <summary>The distribution sampled.</summary>
    public string Distribution { get; }

    /// <summary>The fixed seed, or null.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    public override Tensor Call(int[] shape)
    {
        Count(GetType().Name, shape);
        var (fanIn, fanOut) = ComputeFans(shape);
        double n = Mode switch { "fan_in" => fanIn, "fan_out" => fanOut, _ => (fanIn + fanOut) / 2 };
        double variance = Scale / Math.Max(1.0, n);
        var result = Tensor.Zeros(shape);
        Span<float> d = result.Span;
        var rng = Generator(Seed);
        switch (Distribution)
        {
            case "truncated_normal":
                FillTruncatedNormal(rng, d, 0, Math.Sqrt(variance) / TruncationCorrection);
                break;
            case "untruncated_normal":
                rng.FillNormal(d, 0f, (float)Math.Sqrt(variance));
                break;
            default:
                float limit = (float)Math.Sqrt(3 * variance);
                rng.FillUniform(d, -limit, limit);
                break;
        }
        return result;
    }
}

/// <summary>Glorot (Xavier) uniform: uniform in ±√(6 / (fan_in + fan_out)). The default kernel initializer of Dense.</summary>
/// <example><code>Tensor w = new GlorotUniform(seed: 1).Call([3, 4]);</code></example>
public sealed class GlorotUniform(int? seed = null) : VarianceScaling(1f, "fan_avg", "uniform", seed);

/// <summary>Glorot (Xavier) normal: truncated normal with σ = √(2 / (fan_in + fan_out)) before the truncation correction.</summary>
/// <example><code>Tensor w = new GlorotNormal(seed: 1).Call([3, 4]);</code></example>
public sealed class GlorotNormal(int? seed = null) : VarianceScaling(1f, "fan_avg", "truncated_normal", seed);

/// <summary>He normal: truncated normal with σ = √(2 / fan_in) before the truncation correction; suits ReLU layers.</summary>
/// <example><code>Tensor w = new HeNormal(seed: 1).Call([3, 4]);</code></example>
public sealed class HeNormal(int? seed = null) : VarianceScaling(2f, "fan_in", "truncated_normal", seed);

/// <summary>He uniform: uniform in ±√(6 / fan_in).</summary>
/// <example><code>Tensor w = new HeUniform(seed: 1).Call([3, 4]);</code></example>
public sealed class HeUniform(int? seed = null) : VarianceScaling(2f, "fan_in", "uniform", seed);

/// <summary>LeCun normal: truncated normal with σ = √(1 / fan_in) before the truncation correction; suits SELU.</summary>
/// <example><code>Tensor w = new LecunNormal(seed: 1).Call([3, 4]);</code></example>
public sealed class LecunNormal(int? seed = null) : VarianceScaling(1f, "fan_in", "truncated_normal", seed);

/// <summary>LeCun uniform: uniform in ±√(3 / fan_in).</summary>
/// <example><code>Tensor w = new LecunUniform(seed: 1).Call([3, 4]);</code></example>
public sealed class LecunUniform(int? seed = null) : VarianceScaling(1f, "fan_in", "uniform", seed);
