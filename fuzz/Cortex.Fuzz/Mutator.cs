using System.Buffers.Binary;
using System.Text;

namespace Cortex.Fuzz;

/// <summary>
/// Deterministic mutations of seed files, for the smoke tests and for fuzzing without a native fuzzer: byte flips,
/// truncations, insertions and deletions, length fields rewritten with boundary values (both byte orders, 32 and 64
/// bits), numbers in text rewritten, tokens inserted, and splices of two seeds. The same seed gives the same inputs.
/// </summary>
public sealed class Mutator(IReadOnlyList<byte[]> seeds, int seed)
{
    private readonly Random random = new(seed);

    private static readonly long[] Boundaries =
    [
        0, 1, -1, 2, 3, 4, 7, 8, 16, 255, 256, 65535, 65536, int.MaxValue, int.MinValue, (long)int.MaxValue + 1, uint.MaxValue,
        2_000_000_000, 250_000_000, Array.MaxLength, long.MaxValue, long.MinValue, (1L << 62) + 1, 1L << 32,
    ];

    private static readonly string[] Tokens =
    [
        "null", "[]", "{}", "\"\"", "-1", "0", "1e309", "NaN", "-0", "2000000000", "99999999999999999999", "[-1,250000000]",
        "\"class_name\"", "\"config\"", "\"Dense\"", "\"Conv2D\"", "\"shape\"", ",", ":", "\"", "\n", "\r\n", ";", "\t", " ",
        "\"a\"\"b\"", "y", "nan", "inf", "1.5", "\u00e9", "\uFEFF",
    ];

    /// <summary>The next input: a seed with one to four mutations applied.</summary>
    public byte[] Next()
    {
        var data = new List<byte>(seeds[random.Next(seeds.Count)]);
        int n = 1 + random.Next(4);
        for (int i = 0; i < n; i++) Mutate(data);
        return [.. data];
    }

    private void Mutate(List<byte> d)
    {
        int at = d.Count == 0 ? 0 : random.Next(d.Count);
        switch (random.Next(10))
        {
            case 0 when d.Count > 0: d[at] ^= (byte)(1 << random.Next(8)); break;
            case 1 when d.Count > 0: d[at] = (byte)(random.Next(4) switch { 0 => 0, 1 => 0xFF, 2 => 0x7F, _ => 0x80 }); break;
            case 2: d.RemoveRange(at, d.Count - at); break; // truncate
            case 3: d.InsertRange(at, RandomBytes(1 + random.Next(16))); break;
            case 4 when d.Count > 0: d.RemoveRange(at, Math.Min(d.Count - at, 1 + random.Next(32))); break;
            case 5: WriteLength(d, at); break;
            case 6: RewriteNumber(d, at); break;
            case 7: d.InsertRange(at, Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)])); break;
            case 8: Splice(d, at); break;
            default:
                if (d.Count > 0)
                {
                    int len = Math.Min(d.Count - at, 1 + random.Next(64));
                    d.InsertRange(random.Next(d.Count), d.GetRange(at, len)); // duplicate a range
                }
                break;
        }
    }

    private byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        random.NextBytes(b);
        return b;
    }

    // Overwrites 4 or 8 bytes at `at` with a boundary value, big- or little-endian: the IDX dimensions, the .cortex
    // lengths and counts.
    private void WriteLength(List<byte> d, int at)
    {
        long v = Boundaries[random.Next(Boundaries.Length)];
        var b = new byte[random.Next(2) == 0 ? 4 : 8];
        bool big = random.Next(2) == 0;
        if (b.Length == 4)
        {
            if (big) BinaryPrimitives.WriteInt32BigEndian(b, (int)v); else BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
        }
        else if (big) BinaryPrimitives.WriteInt64BigEndian(b, v);
        else BinaryPrimitives.WriteInt64LittleEndian(b, v);
        // Aligned writes hit the header fields far more often than random offsets do.
        if (random.Next(2) == 0) at -= at % 4;
        for (int i = 0; i < b.Length; i++)
            if (at + i < d.Count) d[at + i] = b[i]; else d.Add(b[i]);
    }

    // Replaces the run of ASCII digits nearest after `at` by a boundary value's text: the shapes and units in JSON,
    // the cells in CSV.
    private void RewriteNumber(List<byte> d, int at)
    {
        int start = at;
        while (start < d.Count && !char.IsAsciiDigit((char)d[start])) start++;
        if (start >= d.Count) return;
        int end = start;
        while (end < d.Count && char.IsAsciiDigit((char)d[end])) end++;
        d.RemoveRange(start, end - start);
        d.InsertRange(start, Encoding.ASCII.GetBytes(Boundaries[random.Next(Boundaries.Length)].ToString()));
    }

    private void Splice(List<byte> d, int at)
    {
        byte[] other = seeds[random.Next(seeds.Count)];
        int from = other.Length == 0 ? 0 : random.Next(other.Length);
        d.RemoveRange(at, d.Count - at);
        d.AddRange(other.AsSpan(from).ToArray());
    }
}
