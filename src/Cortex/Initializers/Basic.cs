using Cortex.Saving;
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.RandomNormal))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.TruncatedNormal))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.RandomUniform))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Constant))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Zeros))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Ones))]

namespace Cortex.Initializers;

/// <summary>Samples from a normal distribution N(mean, stddev²).</summary>
/// <example><code>Tensor w = new RandomNormal(stddev: 0.01f, seed: 7).Call([10, 5]);</code></example>
public sealed class RandomNormal : Initializer
{
    /// <summary>Creates the initializer (Keras defaults: mean 0, stddev 0.05).</summary>
    /// <exception cref="ArgumentException"><paramref name="stddev"/> is negative.</exception>
    public RandomNormal(float mean = 0f, float stddev = 0.05f, int? seed = null)
    {
        Mean = mean;
        Stddev = ConfigJson.NonNegative("RandomNormal", "stddev", stddev);
        Seed = seed;
    }

    /// <summary>The mean.</summary>
    public float Mean { get; }

    /// <summary>The standard deviation.</summary>
    public float Stddev { get; }

    /// <summary>The fixed seed, or null.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    public override Tensor Call(int[] shape)
    {
        Count(nameof(RandomNormal), shape);
        var t = Tensor.Zeros(shape);
        Generator(Seed).FillNormal(t.Span, Mean, Stddev);
        return t;
    }
}

/// <summary>Samples from N(mean, stddev²), redrawing values more than two standard deviations from the mean.</summary>
/// <example><code>Tensor w = new TruncatedNormal(stddev: 0.02f, seed: 7).Call([10, 5]);</code></example>
public sealed class TruncatedNormal : Initializer
{
    /// <summary>Creates the initializer (Keras defaults: mean 0, stddev 0.05).</summary>
    /// <exception cref="ArgumentException"><paramref name="stddev"/> is negative.</exception>
    public TruncatedNormal(float mean = 0f, float stddev = 0.05f, int? seed = null)
    {
        Mean = mean;
        Stddev = ConfigJson.NonNegative("TruncatedNormal", "stddev", stddev);
        Seed = seed;
    }

    /// <summary>The mean before truncation.</summary>
    public float Mean { get; }

    /// <summary>The standard deviation before truncation.</summary>
    public float Stddev { get; }

    /// <summary>The fixed seed, or null.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    public override Tensor Call(int[] shape)
    {
        Count(nameof(TruncatedNormal), shape);
        var t = Tensor.Zeros(shape);
        FillTruncatedNormal(Generator(Seed), t.Span, Mean, Stddev);
        return t;
    }
}

/// <summary>Samples uniformly from [minval, maxval).</summary>
/// <example><code>Tensor w = new RandomUniform(-0.1f, 0.1f, seed: 7).Call([10, 5]);</code></example>
public sealed class RandomUniform : Initializer
{
    /// <summary>Creates the initializer (Keras defaults: ±0.05).</summary>
    /// <exception cref="ArgumentException"><paramref name="minval"/> exceeds <paramref name="maxval"/>.</exception>
    public RandomUniform(float minval = -0.05f, float maxval = 0.05f, int? seed = null)
    {
        if (!(minval <= maxval))
            throw new ArgumentException($"RandomUniform: minval must not exceed maxval. Received: minval={minval}, maxval={maxval}");
        Minval = minval;
        Maxval = maxval;
        Seed = seed;
    }

    /// <summary>The lower bound (inclusive).</summary>
    public float Minval { get; }

    /// <summary>The upper bound (exclusive).</summary>
    public float Maxval { get; }

    /// <summary>The fixed seed, or null.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    public override Tensor Call(int[] shape)
    {
        Count(nameof(RandomUniform), shape);
        var t = Tensor.Zeros(shape);
        Generator(Seed).FillUniform(t.Span, Minval, Maxval);
        return t;
    }
}

/// <summary>Fills with a constant value.</summary>
/// <example><code>Tensor b = new Constant(0.1f).Call([5]);   // [0.1 0.1 0.1 0.1 0.1]</code></example>
public class Constant : Initializer
{
    /// <summary>Creates the initializer (Keras default value 0).</summary>
    public Constant(float value = 0f) => Value = value;

    /// <summary>The fill value.</summary>
    public float Value { get; }

    /// <inheritdoc/>
    public override Tensor Call(int[] shape)
    {
        Count(GetType().Name, shape);
        return Tensor.Full(shape, Value);
    }
}

/// <summary>Fills with zeros (the default bias initializer).</summary>
/// <example><code>Tensor b = new Zeros().Call([5]);</code></example>
public sealed class Zeros : Constant
{
    /// <summary>Creates the initializer.</summary>
    public Zeros() : base(0f) { }
}

/// <summary>Fills with ones.</summary>
/// <example><code>Tensor g = new Ones().Call([5]);</code></example>
public sealed class Ones : Constant
{
    /// <summary>Creates the initializer.</summary>
    public Ones() : base(1f) { }
}
