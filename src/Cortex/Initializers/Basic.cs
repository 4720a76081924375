using Cortex.Saving;
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.RandomNormal))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.TruncatedNormal))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.RandomUniform))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Constant))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Zeros))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Ones))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Identity))]

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

/// <summary>
/// Fills with a constant value, or with an array of values broadcast over the shape as Keras broadcasts its
/// <c>value</c> (the whole tensor, or one value per index of the last axis).
/// </summary>
/// <example>
/// <code>
/// Tensor b = new Constant(0.1f).Call([5]);                    // [0.1 0.1 0.1 0.1 0.1]
/// Tensor k = new Constant(values: [1f, 2f, 3f]).Call([2, 3]); // [[1 2 3] [1 2 3]]
/// </code>
/// </example>
public class Constant : Initializer
{
    /// <summary>Creates the initializer (Keras default value 0).</summary>
    /// <param name="value">The fill value, when <paramref name="values"/> is null.</param>
    /// <param name="values">Values to broadcast instead: as many as the tensor holds, or as its last axis is long.</param>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty.</exception>
    public Constant(float value = 0f, float[]? values = null)
    {
        Value = value;
        if (values is { Length: 0 }) throw new ArgumentException("Constant: values must hold at least one number. Received: values=[]", nameof(values));
        Values = values is null ? null : (float[])values.Clone();
    }

    /// <summary>The fill value (when <see cref="Values"/> is null).</summary>
    public float Value { get; }

    /// <summary>The values broadcast over the shape, or null.</summary>
    public float[]? Values { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException"><see cref="Values"/> does not broadcast to <paramref name="shape"/>.</exception>
    public override Tensor Call(int[] shape)
    {
        int size = Count(GetType().Name, shape);
        if (Values is not { } values) return Tensor.Full(shape, Value);
        bool whole = values.Length == size, perLast = shape.Length > 0 && values.Length == shape[^1];
        if (!whole && !perLast)
            throw new ArgumentException($"Constant: {values.Length} values do not broadcast to shape {ShapeUtil.Format(shape)}: give as many as the tensor holds ({size}) or as its last axis is long ({(shape.Length > 0 ? shape[^1] : 1)}).");
        var data = new float[size];
        for (int i = 0; i < size; i++) data[i] = values[whole ? i : i % values.Length];
        return Tensor.FromArray(data, shape);
    }
}

/// <summary>
/// Keras's <c>Identity</c>: <c>gain</c> times the identity matrix (ones on the diagonal of a possibly non-square
/// matrix); for 2-D weights only, e.g. a recurrent kernel or a Dense kernel that starts as a pass-through.
/// </summary>
/// <example><code>var dense = new Dense(16, kernelInitializer: new Identity());   // on 16 inputs: y = x at first</code></example>
public sealed class Identity : Initializer
{
    /// <summary>Creates the initializer (Keras default gain 1).</summary>
    /// <exception cref="ArgumentException"><paramref name="gain"/> is not finite.</exception>
    public Identity(float gain = 1f) =>
        Gain = float.IsFinite(gain) ? gain : throw new ArgumentException($"Identity: gain must be a finite number. Received: gain={gain}", nameof(gain));

    /// <summary>The diagonal's value.</summary>
    public float Gain { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shape is not 2-D.</exception>
    public override Tensor Call(int[] shape)
    {
        Count(nameof(Identity), shape);
        if (shape.Length != 2)
            throw new ArgumentException($"Identity initializer can only be used for 2D matrices. Received: shape={ShapeUtil.Format(shape)} of rank {shape.Length}.");
        var t = Tensor.Zeros(shape);
        var span = t.Span;
        for (int i = 0; i < Math.Min(shape[0], shape[1]); i++) span[i * shape[1] + i] = Gain;
        return t;
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
