using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using Cortex.Data;
using Cortex.Saving;

namespace Cortex.Fuzz;

/// <summary>Raised when a loader breaks one of its promises on some input; the fuzzers report it as a crash.</summary>
public sealed class PromiseBrokenException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One fuzz target per file format. Each reads an input as a file of its format and checks what the loaders promise
/// (docs/reliability.md, "Loaders"): the only exception that escapes is an <see cref="InvalidDataException"/>, whose
/// message names the file and stays under <see cref="MaxMessage"/> characters, and no load allocates more than
/// <see cref="AllocationAllowance"/> beyond the input's size. A broken promise is a <see cref="PromiseBrokenException"/>;
/// any other exception escapes as it is. Hangs are left to the caller (AFL's -t, the smoke test's clock).
/// </summary>
public static class Targets
{
    /// <summary>The most a load may allocate beyond the input's size: 64 MiB.</summary>
    public const long AllocationAllowance = 64L << 20;

    /// <summary>The longest error message a loader may give.</summary>
    public const int MaxMessage = 2000;

    /// <summary>The targets by name: <c>cortex</c>, <c>idx</c>, <c>idx-gzip</c>, <c>csv</c>.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["cortex"] = ModelFileTarget,
        ["idx"] = IdxTarget,
        ["idx-gzip"] = IdxGzipTarget,
        ["csv"] = CsvTarget,
    };

    /// <summary>
    /// A <c>.cortex</c> file. An input that starts with the CRTX signature is the file itself, with its checksum made
    /// to match (a fuzzer would almost never get past SHA-256 otherwise); any other input is the configuration JSON, a
    /// 0 byte, then the float bytes, wrapped in a well-formed container, so that mutations of the JSON reach the
    /// config readers rather than the length checks.
    /// </summary>
    public static void ModelFileTarget(byte[] input)
    {
        byte[] file = input.AsSpan().StartsWith("CRTX"u8) ? WithChecksum(input) : Container(input);
        Check(input.Length, "fuzz.cortex", () => ModelFile.Load(file, "fuzz.cortex"));
    }

    /// <summary>An IDX file, raw or gzip (detected by its magic bytes), read from a seekable stream.</summary>
    public static void IdxTarget(byte[] input) =>
        Check(input.Length, "fuzz.idx", () => Idx.Read(new MemoryStream(input, writable: false), "fuzz.idx"));

    /// <summary>
    /// The input's bytes as the content of a gzip IDX file: compressed here, then read from a seekable stream (the
    /// inflation bound applies) and from a non-seekable one (the buffer grows as data arrives).
    /// </summary>
    public static void IdxGzipTarget(byte[] input)
    {
        var compressed = new MemoryStream();
        using (var gz = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(input);
        byte[] gzip = compressed.ToArray();
        Check(input.Length, "fuzz.gz", () => Idx.Read(new MemoryStream(gzip, writable: false), "fuzz.gz"));
        Check(input.Length, "fuzz.gz", () => Idx.Read(new ForwardOnlyStream(gzip), "fuzz.gz"));
    }

    /// <summary>A CSV file with a label column named <c>y</c>, read with numeric labels and with text labels.</summary>
    public static void CsvTarget(byte[] input)
    {
        Check(input.Length, "fuzz.csv", () => Csv.Load(input, "fuzz.csv", "y"));
        Check(input.Length, "fuzz.csv", () => Csv.Load(input, "fuzz.csv", "y", stringLabels: true));
    }

    /// <summary>Print each refusal's message (set by <c>Cortex.Fuzz run --show</c>) to review what users would read.</summary>
    public static bool Show { get; set; }

    private static void Check(int inputLength, string name, Action load)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try { load(); }
        catch (InvalidDataException e)
        {
            if (Show) Console.Error.WriteLine($"  {e.Message}");
            if (!e.Message.Contains(name, StringComparison.Ordinal))
                throw new PromiseBrokenException($"The error does not name the file '{name}': {Excerpt.Of(e.Message, 300)}", e);
            if (e.Message.Length > MaxMessage)
                throw new PromiseBrokenException($"The error is {e.Message.Length:N0} characters long, more than {MaxMessage:N0}: {Excerpt.Of(e.Message, 300)}", e);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationAllowance + inputLength)
            throw new PromiseBrokenException($"Loading a {inputLength:N0}-byte input allocated {allocated:N0} bytes, more than {AllocationAllowance:N0} beyond its size.");
    }

    /// <summary>The input with its last 32 bytes replaced by the SHA-256 of the rest, as a writer would have made them.</summary>
    public static byte[] WithChecksum(byte[] input)
    {
        byte[] file = (byte[])input.Clone();
        if (file.Length >= 32) SHA256.HashData(file.AsSpan(0, file.Length - 32), file.AsSpan(file.Length - 32));
        return file;
    }

    /// <summary>Wraps "JSON, 0 byte, float bytes" in a well-formed <c>.cortex</c> container (lengths and checksum right).</summary>
    public static byte[] Container(byte[] input)
    {
        int split = Array.IndexOf(input, (byte)0);
        ReadOnlySpan<byte> json = split < 0 ? input : input.AsSpan(0, split);
        ReadOnlySpan<byte> floats = split < 0 ? [] : input.AsSpan(split + 1);
        floats = floats[..(floats.Length / 4 * 4)];
        var file = new byte[16 + json.Length + 8 + floats.Length + 32];
        "CRTX"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(4), ModelFile.FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(8), json.Length);
        json.CopyTo(file.AsSpan(16));
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(16 + json.Length), floats.Length / 4);
        floats.CopyTo(file.AsSpan(16 + json.Length + 8));
        return WithChecksum(file);
    }

    /// <summary>A stream that can only be read forward, as a network or pipe stream.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
