using System.Numerics;

namespace Cortex;

/// <summary>
/// A small, portable pseudo-random generator (xoshiro128**, seeded through SplitMix64) so that a seed gives the
/// same numbers on every run, machine and .NET version — <see cref="System.Random"/> makes no such promise.
/// </summary>
public sealed class CortexRandom
{
    private uint s0, s1, s2, s3;

    // The generator behind SetGlobalSeed lives in an async-local slot: it applies to the code that set it and to the
    // tasks and threads that code starts afterwards, so two test classes (or two server sessions) seeding their own
    // runs at the same time cannot draw each other's numbers. Code that never seeds shares one unseeded generator.
    private static readonly AsyncLocal<CortexRandom?> Scoped = new();
    private static readonly CortexRandom Unseeded = new();

    /// <summary>
    /// Seeds the generator that unseeded initializers, dropout and shuffling draw from, like Keras's
    /// <c>keras.utils.set_random_seed</c>: after it, the same program produces the same weights and the same training.
    /// </summary>
    /// <remarks>
    /// Unlike Keras's process-wide seed, this one applies to the calling thread and to the tasks and threads it starts
    /// afterwards (an async-local scope), so concurrent, separately seeded runs stay reproducible.
    /// </remarks>
    public static void SetGlobalSeed(int seed) => Scoped.Value = new CortexRandom(seed);

    /// <summary>A seed drawn from the global generator (deterministic after <see cref="SetGlobalSeed"/>).</summary>
    public static int NextGlobalSeed()
    {
        var generator = Scoped.Value ?? Unseeded;
        lock (generator) return (int)generator.NextUInt();
    }

    /// <summary>A generator for <paramref name="seed"/>, or one seeded from the global generator when null.</summary>
    public static CortexRandom FromSeedOrGlobal(int? seed) => new(seed ?? NextGlobalSeed());

    /// <summary>Creates a generator. A null seed draws one from the system's entropy.</summary>
    public CortexRandom(int? seed = null)
    {
        ulong x = seed.HasValue ? (ulong)(uint)seed.Value : (ulong)Random.Shared.NextInt64();
        s0 = (uint)SplitMix(ref x); s1 = (uint)SplitMix(ref x); s2 = (uint)SplitMix(ref x); s3 = (uint)SplitMix(ref x);
        if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 32 random bits.</summary>
    public uint NextUInt()
    {
        uint result = BitOperations.RotateLeft(s1 * 5, 7) * 9;
        uint t = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = BitOperations.RotateLeft(s3, 11);
        return result;
    }

    /// <summary>A uniform float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt() >> 8) * (1f / 16777216f);

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble() => (((ulong)NextUInt() << 21) ^ (NextUInt() >> 11)) * (1.0 / 9007199254740992.0);

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"NextInt: the bound must be positive. Received: {maxExclusive}");
        return (int)((NextUInt() * (ulong)maxExclusive) >> 32);
    }

    /// <summary>A standard normal sample (Box–Muller in double precision).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: log stays finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>
    /// dest[i] = <paramref name="keep"/> where the next <see cref="NextFloat"/> is at least <paramref name="rate"/>, else 0:
    /// a dropout mask, drawn exactly as that loop would draw it, with the generator's state in registers and an
    /// integer compare instead of a branch on a random outcome.
    /// </summary>
    internal void FillKeepMask(Span<float> dest, float rate, float keep)
    {
        // NextFloat() = k·2⁻²⁴ with k = NextUInt() >> 8, exact in float, so k·2⁻²⁴ ≥ rate ⇔ k ≥ ⌈rate·2²⁴⌉.
        double scaled = Math.Ceiling(rate * 16777216.0);
        uint threshold = scaled <= 0 ? 0u : scaled >= 16777216.0 ? 16777216u : (uint)scaled;
        uint a = s0, b = s1, c = s2, d = s3;
        uint keepBits = BitConverter.SingleToUInt32Bits(keep);
        for (int i = 0; i < dest.Length; i++)
        {
            uint result = BitOperations.RotateLeft(b * 5, 7) * 9;
            uint t = b << 9;
            c ^= a; d ^= b; b ^= c; a ^= d;
            c ^= t;
            d = BitOperations.RotateLeft(d, 11);
            // All ones where k < threshold (dropped): both are below 2²⁵, so the difference's sign says it.
            uint dropped = (uint)((int)((result >> 8) - threshold) >> 31);
            dest[i] = BitConverter.UInt32BitsToSingle(keepBits & ~dropped);
        }
        (s0, s1, s2, s3) = (a, b, c, d);
    }

    /// <summary>Fills <paramref name="dest"/> with uniform samples in [low, high).</summary>
    public void FillUniform(Span<float> dest, float low, float high)
    {
        float range = high - low;
        for (int i = 0; i < dest.Length; i++) dest[i] = low + range * NextFloat();
    }

    /// <summary>Fills <paramref name="dest"/> with normal samples.</summary>
    public void FillNormal(Span<float> dest, float mean, float std)
    {
        for (int i = 0; i < dest.Length; i++) dest[i] = (float)(mean + std * NextNormal());
    }

    /// <summary>The generator's position (its four state words), which a model file saves so that a reloaded layer
    /// continues the stream where the saved one was; setting it rejects the all-zero state, which xoshiro never leaves.</summary>
    internal uint[] State
    {
        get => [s0, s1, s2, s3];
        set
        {
            if (value.Length != 4 || (value[0] | value[1] | value[2] | value[3]) == 0)
                throw new ArgumentException($"A CortexRandom state is 4 words, not all zero. Received: [{string.Join(", ", value)}]");
            (s0, s1, s2, s3) = (value[0], value[1], value[2], value[3]);
        }
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher–Yates).</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
