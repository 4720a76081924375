using Cortex.Saving;
using System.Text.Json;

namespace Cortex.Initializers;

/// <summary>
/// Produces a weight tensor's starting values for a shape. A layer calls it once when it builds each weight.
/// </summary>
/// <remarks>
/// Random initializers given a seed return the same tensor on every call (as in Keras 3); without a seed each call
/// draws a fresh seed from <see cref="CortexRandom"/>'s global generator, so <see cref="CortexRandom.SetGlobalSeed"/>
/// makes whole models reproducible.
/// </remarks>
/// <example>
/// <code>
/// Tensor w = new GlorotUniform(seed: 42).Call([784, 128]);   // uniform in ±√(6 / (784 + 128))
/// </code>
/// </example>
public abstract class Initializer
{
    /// <summary>A tensor of <paramref name="shape"/> holding starting values.</summary>
    /// <exception cref="ArgumentException">A dimension is negative.</exception>
    public abstract Tensor Call(int[] shape);

    /// <summary>The constructor arguments, Keras-named (e.g. <c>seed</c>, <c>stddev</c>), for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Initializer> Create)[] Names =
    [
        ("glorot_uniform", () => new GlorotUniform()),
        ("glorot_normal", () => new GlorotNormal()),
        ("he_normal", () => new HeNormal()),
        ("he_uniform", () => new HeUniform()),
        ("lecun_normal", () => new LecunNormal()),
        ("lecun_uniform", () => new LecunUniform()),
        ("random_normal", () => new RandomNormal()),
        ("random_uniform", () => new RandomUniform()),
        ("truncated_normal", () => new TruncatedNormal()),
        ("orthogonal", () => new Orthogonal()),
        ("zeros", () => new Zeros()),
        ("ones", () => new Ones()),
        ("constant", () => new Constant()),
        ("identity", () => new Identity()),
    ];

    /// <summary>The initializer for a Keras name (<c>"glorot_uniform"</c>, <c>"he_normal"</c>, <c>"zeros"</c>, …) or class name, unseeded and with default arguments.</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Initializer Get(string identifier) => ConfigJson.Resolve("initializer", identifier, Names);

    /// <summary>Rebuilds an initializer from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static Initializer FromConfig(string className, JsonElement config) => ConfigRegistry.Initializers.Create(className, config);

    /// <summary>Validates a shape and counts its elements.</summary>
    internal static int Count(string owner, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return ShapeUtil.Count(owner, shape);
    }

    /// <summary>
    /// Keras's fans: a vector has fan_in = fan_out = its length; a Dense kernel (in, out) has fan_in = in and
    /// fan_out = out; a convolution kernel (kh, kw, …, in, out) multiplies both by the receptive field kh·kw·….
    /// A scalar has fans of 1.
    /// </summary>
    public static (double FanIn, double FanOut) ComputeFans(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return shape.Length switch
        {
            0 => (1, 1),
            1 => (shape[0], shape[0]),
            2 => (shape[0], shape[1]),
            _ => ReceptiveField(shape),
        };

        static (double, double) ReceptiveField(int[] shape)
        {
            double field = 1;
            for (int i = 0; i < shape.Length - 2; i++) field *= shape[i];
            return (shape[^2] * field, shape[^1] * field);
        }
    }

    /// <summary>The generator for one call: the fixed seed's own stream, or a fresh seed from the global generator.</summary>
    internal static CortexRandom Generator(int? seed) => CortexRandom.FromSeedOrGlobal(seed);

    /// <summary>
    /// Fills <paramref name="dest"/> with N(mean, stddev²) samples, redrawing any that fall more than two standard
    /// deviations from the mean (Keras's and TensorFlow's truncated normal).
    /// </summary>
    internal static void FillTruncatedNormal(CortexRandom rng, Span<float> dest, double mean, double stddev)
    {
        for (int i = 0; i < dest.Length; i++)
        {
            double z;
            do z = rng.NextNormal(); while (Math.Abs(z) > 2.0);
            dest[i] = (float)(mean + stddev * z);
        }
    }
}
