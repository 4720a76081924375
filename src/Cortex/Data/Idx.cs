using System.Buffers.Binary;
using System.IO.Compression;
using Cortex.Saving;

namespace Cortex.Data;

/// <summary>The contents of an IDX file: its bytes in row-major order and its shape, e.g. (60000, 28, 28).</summary>
/// <param name="Data">The elements, row-major; <c>Data.Length</c> is the product of <paramref name="Shape"/>.</param>
/// <param name="Shape">The dimensions the header declares.</param>
public sealed record IdxArray(byte[] Data, int[] Shape);

/// <summary>
/// Reads and writes IDX files, the format of MNIST and Fashion-MNIST: a 4-byte magic number
/// (<c>0x00 0x00</c>, a type byte — <c>0x08</c> for unsigned bytes, the only type these data sets use — and the number
/// of dimensions), one big-endian 32-bit size per dimension, then the elements in row-major order. Files may be
/// gzip-compressed; the gzip magic bytes (<c>0x1F 0x8B</c>) are detected, whatever the file is called.
/// </summary>
/// <remarks>
/// A damaged file gives an <see cref="InvalidDataException"/> that names the file and says what was expected and what
/// was found — truncation, a wrong magic number, a shape that does not match the length — and the header is checked
/// before anything is allocated, so a corrupt size cannot ask for gigabytes: against the file's length for a raw
/// file, against the most its compressed length can inflate to (1032:1) for a gzip file, and a gzip stream of unknown
/// length gets a buffer that grows only as data arrives.
/// </remarks>
public static class Idx
{
    /// <summary>The type byte of unsigned-byte data.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>The most dimensions a file may declare; more means a damaged header, not a real data set.</summary>
    public const int MaxDimensions = 16;

    // gzip hides the true length: start small and double toward the declared length as data actually arrives, so
    // memory follows the data present rather than what a header claims.
    private const int InitialBuffer = 1 << 16;

    // Deflate emits at least 2 bits per 258-byte match (RFC 1951), so n compressed bytes never inflate past 1032·n.
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads the IDX file at <paramref name="path"/> (raw or gzip).</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed unsigned-byte IDX file.</exception>
    public static IdxArray Read(string path) => Read(path, expectedRank: null, what: null);

    /// <summary>Reads IDX data (raw or gzip) from <paramref name="stream"/>; <paramref name="name"/> is the name errors use.</summary>
    /// <exception cref="InvalidDataException">The data is not a well-formed unsigned-byte IDX file.</exception>
    public static IdxArray Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadCore(stream, name, expectedRank: null, what: null);
    }

    /// <summary>
    /// Reads an image file (shape (N, rows, columns)) as floats scaled to [0, 1] — shape (N, rows·columns) when
    /// <paramref name="flatten"/> is true, (N, rows, columns, 1) (channels last, as Keras's conv layers expect) otherwise.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is damaged or is not 3-dimensional.</exception>
    public static Tensor ReadImages(string path, bool flatten = true) =>
        ImagesToTensor(Read(path, 3, "images (count, rows, columns)"), flatten);

    /// <summary>Reads a label file (shape (N,)) as float class indices, shape (N,).</summary>
    /// <exception cref="InvalidDataException">The file is damaged or is not 1-dimensional.</exception>
    public static Tensor ReadLabels(string path) => LabelsToTensor(Read(path, 1, "labels (count)"));

    /// <summary>
    /// Writes an unsigned-byte IDX file, gzip-compressed when <paramref name="gzip"/> is true. The file is written
    /// atomically (a temporary file renamed over <paramref name="path"/>): a crash leaves the old file or the new one,
    /// never a part of it.
    /// </summary>
    /// <exception cref="ArgumentException">The shape is empty, has a negative dimension, or does not match the data length.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory of <paramref name="path"/> does not exist.</exception>
    public static void Write(string path, byte[] data, int[] shape, bool gzip = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length is 0 or > MaxDimensions)
            throw new ArgumentException($"Idx.Write: an IDX file has 1 to {MaxDimensions} dimensions. Received: shape {ShapeUtil.Format(shape)}");
        if (ShapeUtil.Count("Idx.Write", shape) != data.Length)
            throw new ArgumentException($"Idx.Write: shape {ShapeUtil.Format(shape)} holds {ShapeUtil.Count(shape)} elements but the data has {data.Length}.");
        var header = new byte[4 + 4 * shape.Length];
        header[2] = UnsignedByte;
        header[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), shape[i]);
        // Through a temporary file renamed over the target: a crash mid-write leaves the old file (or none), never a
        // truncated one that a later Read would refuse.
        AtomicFile.Write(path, file =>
        {
            // leaveOpen: AtomicFile flushes the file to disk after this returns.
            using Stream? zipped = gzip ? new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true) : null;
            var output = zipped ?? file;
            output.Write(header);
            output.Write(data);
        });
    }

    internal static IdxArray Read(string path, int? expectedRank, string? what)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = File.OpenRead(path);
        return ReadCore(file, path, expectedRank, what);
    }

    internal static Tensor ImagesToTensor(IdxArray images, bool flatten)
    {
        int[] s = images.Shape;
        var t = Tensor.Uninitialized(flatten ? [s[0], s[1] * s[2]] : [s[0], s[1], s[2], 1]);
        // A lookup table gives exactly v / 255f (what NumPy's x / 255.0 rounds to) at the cost of a load.
        Span<float> scale = stackalloc float[256];
        for (int i = 0; i < 256; i++) scale[i] = i / 255f;
        var dst = t.Span;
        var src = images.Data;
        for (int i = 0; i < src.Length; i++) dst[i] = scale[src[i]];
        return t;
    }

    internal static Tensor LabelsToTensor(IdxArray labels)
    {
        var t = Tensor.Uninitialized([labels.Shape[0]]);
        var dst = t.Span;
        for (int i = 0; i < labels.Data.Length; i++) dst[i] = labels.Data[i];
        return t;
    }

    private static IdxArray ReadCore(Stream stream, string name, int? expectedRank, string? what)
    {
        name = $"'{name}'";
        Span<byte> gzipMagic = stackalloc byte[2];
        int got = ReadFully(stream, gzipMagic);
        var replay = new PrefixStream(gzipMagic[..got].ToArray(), stream);
        long? remaining = stream.CanSeek ? stream.Length - stream.Position + got : null;
        if (got == 2 && gzipMagic[0] == 0x1F && gzipMagic[1] == 0x8B)
        {
            using var gz = new GZipStream(replay, CompressionMode.Decompress);
            try { return ReadIdx(gz, $"{name} (gzip)", gzip: true, remaining, expectedRank, what); }
            catch (InvalidDataException e) when (!e.Data.Contains(OwnError))
            {
                throw new InvalidDataException($"IDX file {name} starts like gzip (0x1F 0x8B) but is not a valid gzip file: {e.Message}", e);
            }
        }
        return ReadIdx(replay, name, gzip: false, remaining, expectedRank, what);
    }

    // Marks the errors this reader raises, so that only GZipStream's own InvalidDataExceptions get the gzip wording.
    private const string OwnError = "Cortex.Data.Idx";

    private static InvalidDataException Error(string message)
    {
        var e = new InvalidDataException(message);
        e.Data[OwnError] = true;
        return e;
    }

    // Reads the header and body from the (decompressed) stream. `remaining` is the file's byte count when it is known
    // up front (a seekable stream): for a raw file a length mismatch is then reported before the body is allocated,
    // and for a gzip file a header that claims more than the compressed bytes could inflate to.
    private static IdxArray ReadIdx(Stream s, string name, bool gzip, long? remaining, int? expectedRank, string? what)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = ReadFully(s, magic);
        if (got == 0) throw Error($"IDX file {name} {(gzip ? "decompresses to nothing" : "is empty")}: expected a 4-byte magic number (0x00 0x00 0x08 <dims>), then the dimensions and the data.");
        if (got < 4) throw Error($"IDX file {name} is truncated: expected a 4-byte magic number, found only {got} byte(s).");
        if (magic[0] != 0 || magic[1] != 0)
            throw Error($"IDX file {name} has the wrong magic number 0x{Hex(magic)}: expected 0x00 0x00 0x08 <dims> (0x00000801 for labels, 0x00000803 for images). Is it an IDX file?");
        if (magic[2] != UnsignedByte)
            throw Error($"IDX file {name} has element type 0x{magic[2]:X2} ({TypeName(magic[2])}) in its magic number 0x{Hex(magic)}: expected 0x08 (unsigned byte), the only type Cortex reads.");
        int rank = magic[3];
        if (rank is 0 or > MaxDimensions)
            throw Error($"IDX file {name} declares {rank} dimensions in its magic number 0x{Hex(magic)}: expected 1 to {MaxDimensions}.");
        if (expectedRank is int er && rank != er)
            throw Error($"IDX file {name} has {rank} dimension(s) (magic number 0x{Hex(magic)}): expected {er} for {what}.");

        Span<byte> dimBytes = stackalloc byte[4 * rank];
        got = ReadFully(s, dimBytes);
        if (got < dimBytes.Length)
            throw Error($"IDX file {name} is truncated in its header: {rank} dimensions need {4 + 4 * rank} header bytes, found {4 + got}.");
        var shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dimBytes[(4 * i)..]);
            // Both factors are at most Array.MaxLength (< 2^31) before each multiply, so the long cannot overflow.
            if (d > Array.MaxLength || (count *= d) > Array.MaxLength)
                throw Error($"IDX file {name} has an absurd header: dimensions ({FormatDims(dimBytes, rank)}) describe more than the {Array.MaxLength:N0} bytes a .NET array can hold. The header is probably corrupt.");
            shape[i] = (int)d;
        }
        int headerBytes = 4 + 4 * rank;
        if (gzip && remaining is long compressed && headerBytes + count > MaxDeflateRatio * compressed)
            throw Error($"IDX file {name} cannot hold what its header declares: shape {ShapeUtil.Format(shape)} needs {count:N0} data bytes after the {headerBytes}-byte header, " +
                $"but {compressed:N0} bytes of gzip inflate to at most {MaxDeflateRatio * compressed:N0} (deflate's limit is {MaxDeflateRatio}:1). The file is truncated or its header corrupt.");
        if (!gzip && remaining is long r && r - headerBytes != count)
        {
            long found = r - headerBytes;
            throw Error(found < count
                ? $"IDX file {name} is truncated: shape {ShapeUtil.Format(shape)} needs {count:N0} data bytes after the {headerBytes}-byte header, found {found:N0}."
                : $"IDX file {name} does not match its header: shape {ShapeUtil.Format(shape)} needs {count:N0} data bytes after the {headerBytes}-byte header, found {found:N0} ({found - count:N0} extra).");
        }

        var data = new byte[!gzip && remaining.HasValue ? count : Math.Min(count, InitialBuffer)];
        long filled = 0;
        while (true)
        {
            int n = s.Read(data, (int)filled, data.Length - (int)filled);
            if (n == 0) break;
            filled += n;
            if (filled == data.Length)
            {
                if (data.Length == count) break;
                Array.Resize(ref data, (int)Math.Min(count, 2L * data.Length));
            }
        }
        if (filled < count)
            throw Error($"IDX file {name} is truncated: shape {ShapeUtil.Format(shape)} needs {count:N0} data bytes after the {headerBytes}-byte header, found {filled:N0}.");
        if (s.ReadByte() >= 0)
            throw Error($"IDX file {name} does not match its header: shape {ShapeUtil.Format(shape)} needs {count:N0} data bytes after the {headerBytes}-byte header, but there is more data.");
        return new IdxArray(data, shape);
    }

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexString(b);

    private static string FormatDims(ReadOnlySpan<byte> dims, int rank)
    {
        var parts = new string[rank];
        for (int i = 0; i < rank; i++) parts[i] = BinaryPrimitives.ReadUInt32BigEndian(dims[(4 * i)..]).ToString();
        return string.Join(", ", parts);
    }

    private static string TypeName(byte type) => type switch
    {
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "not an IDX type",
    };

    /// <summary>Replays the bytes already read to sniff the gzip magic, then continues with the underlying stream.</summary>
    private sealed class PrefixStream(byte[] prefix, Stream inner) : Stream
    {
        private int position;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (position < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - position);
                prefix.AsSpan(position, n).CopyTo(buffer);
                position += n;
                return n;
            }
            return inner.Read(buffer);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
