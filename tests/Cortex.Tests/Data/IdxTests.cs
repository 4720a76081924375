using System.IO.Compression;
using Cortex.Data;

namespace Cortex.Tests.Data;

public class IdxTests
{
    private static byte[] Bytes(int n, int seed = 1)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    // A header followed by `body` bytes: magic 0x00 0x00 type rank, then big-endian dimensions.
    private static byte[] File(byte type, int[] dims, int body, uint[]? rawDims = null)
    {
        var h = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (uint d in rawDims ?? dims.Select(d => (uint)d).ToArray())
            h.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        return [.. h, .. Bytes(body)];
    }

    private static InvalidDataException Invalid(string path) => Assert.Throws<InvalidDataException>(() => Idx.Read(path));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripsWhatItWrites(bool gzip)
    {
        using var dir = new TempDir();
        byte[] data = Bytes(3 * 2 * 4);
        string path = dir.File(gzip ? "x.gz" : "x");
        Idx.Write(path, data, [3, 2, 4], gzip);
        Assert.Equal(gzip, System.IO.File.ReadAllBytes(path)[0] == 0x1F); // really compressed, or really not

        var (back, shape) = Idx.Read(path);
        Assert.Equal(data, back);
        Assert.Equal([3, 2, 4], shape);
    }

    [Fact]
    public void DetectsGzipByContentNotByName()
    {
        using var dir = new TempDir();
        byte[] raw = File(0x08, [5], 5);
        string gzNamedRaw = dir.Write("labels.gz", raw), rawNamedGz = dir.Write("labels", Gzip(raw));
        Assert.Equal(raw[8..], Idx.Read(gzNamedRaw).Data);
        Assert.Equal(raw[8..], Idx.Read(rawNamedGz).Data);
    }

    [Fact]
    public void ReadsFromANonSeekableStream()
    {
        byte[] raw = File(0x08, [2, 3], 6);
        var idx = Idx.Read(new NonSeekable(Gzip(raw)), "stream");
        Assert.Equal([2, 3], idx.Shape);
        Assert.Equal(raw[12..], idx.Data);
        Assert.Equal(raw[12..], Idx.Read(new NonSeekable(raw), "stream").Data);
    }

    [Fact]
    public void ReadImagesScalesToUnitRangeAndShapes()
    {
        using var dir = new TempDir();
        byte[] pixels = [0, 51, 255, 128, 1, 2, 3, 4, 5, 6, 7, 8];
        string path = dir.File("images-idx3-ubyte.gz");
        Idx.Write(path, pixels, [2, 2, 3], gzip: true);

        Tensor flat = Idx.ReadImages(path);
        Assert.Equal([2, 6], flat.Shape);
        Assert.Equal(pixels.Select(p => p / 255f), flat.ToArray());
        Assert.Equal([2, 2, 3, 1], Idx.ReadImages(path, flatten: false).Shape);

        string labels = dir.File("labels");
        Idx.Write(labels, [7, 0, 9], [3]);
        Tensor y = Idx.ReadLabels(labels);
        Assert.Equal([3], y.Shape);
        Assert.Equal([7f, 0f, 9f], y.ToArray());
    }

    [Fact]
    public void EmptyFileIsReported()
    {
        using var dir = new TempDir();
        string path = dir.Write("empty", []);
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("is empty", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedHeaderIsReported(bool gzip)
    {
        using var dir = new TempDir();
        byte[] cut = File(0x08, [10, 28, 28], 0)[..9]; // magic + 5 of the 12 dimension bytes
        string path = dir.Write("images", gzip ? Gzip(cut) : cut);
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated in its header", e.Message);
        Assert.Contains("3 dimensions need 16 header bytes, found 9", e.Message);

        string tiny = dir.Write("tiny", [0, 0]);
        Assert.Contains("expected a 4-byte magic number, found only 2 byte(s)", Invalid(tiny).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedBodyIsReported(bool gzip)
    {
        using var dir = new TempDir();
        byte[] cut = File(0x08, [3, 2, 4], 24)[..^10];
        string path = dir.Write("images", gzip ? Gzip(cut) : cut);
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("is truncated", e.Message);
        Assert.Contains("shape (3, 2, 4) needs 24 data bytes after the 16-byte header, found 14", e.Message);
    }

    [Fact]
    public void CutGzipStreamIsAnInvalidDataException()
    {
        using var dir = new TempDir();
        byte[] gz = Gzip(File(0x08, [100, 28, 28], 100 * 28 * 28));
        string path = dir.Write("images.gz", gz[..(gz.Length / 2)]);
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void CorruptGzipIsReported()
    {
        using var dir = new TempDir();
        string path = dir.Write("bad.gz", [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void WrongMagicNumberIsReported()
    {
        using var dir = new TempDir();
        string path = dir.Write("notidx", [0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 5]);
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("wrong magic number 0x12340801", e.Message);
        Assert.Contains("expected 0x00 0x00 0x08", e.Message);

        string floats = dir.Write("floats", File(0x0D, [2], 8));
        e = Invalid(floats);
        Assert.Contains("element type 0x0D (float32)", e.Message);
        Assert.Contains("expected 0x08 (unsigned byte)", e.Message);
    }

    [Fact]
    public void WrongNumberOfDimensionsIsReported()
    {
        using var dir = new TempDir();
        string zero = dir.Write("zero", [0, 0, 8, 0]);
        Assert.Contains("declares 0 dimensions in its magic number 0x00000800: expected 1 to 16", Invalid(zero).Message);

        string labels = dir.File("labels");
        Idx.Write(labels, [1, 2, 3], [3]);
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(labels));
        Assert.Contains(labels, e.Message);
        Assert.Contains("has 1 dimension(s) (magic number 0x00000801): expected 3 for images", e.Message);

        string images = dir.File("images");
        Idx.Write(images, new byte[8], [2, 2, 2]);
        e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(images));
        Assert.Contains("has 3 dimension(s) (magic number 0x00000803): expected 1 for labels", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExtraDataIsALengthMismatch(bool gzip)
    {
        using var dir = new TempDir();
        byte[] raw = File(0x08, [3, 2, 4], 24 + 5);
        string path = dir.Write("images", gzip ? Gzip(raw) : raw);
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("does not match its header: shape (3, 2, 4) needs 24 data bytes", e.Message);
        if (!gzip) Assert.Contains("found 29 (5 extra)", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AbsurdDimensionsAreRejectedBeforeAllocating(bool gzip)
    {
        using var dir = new TempDir();
        byte[] huge = File(0x08, [0, 0, 0], 10, rawDims: [0xFFFF_FFFF, 28, 28]);
        string path = dir.Write("huge", gzip ? Gzip(huge) : huge);
        var e = Invalid(path);
        Assert.Contains("absurd header: dimensions (4294967295, 28, 28)", e.Message);

        byte[] overflow = File(0x08, [65536, 65536, 1], 10); // 2^32 elements: each dimension alone is plausible
        path = dir.Write("overflow", gzip ? Gzip(overflow) : overflow);
        Assert.Contains("absurd header: dimensions (65536, 65536, 1)", Invalid(path).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LargeButShortFileIsTruncatedNotOutOfMemory(bool gzip)
    {
        // 2·10^9 bytes fit in an array, so the header alone is plausible; the reader must not allocate them up front.
        using var dir = new TempDir();
        byte[] raw = File(0x08, [2_000_000_000], 10);
        string path = dir.Write("big", gzip ? Gzip(raw) : raw);
        // A raw file is measured; a gzip file is refused sooner, as more than its 30-odd bytes could inflate to.
        Assert.Contains(gzip ? "needs 2,000,000,000 data bytes after the 8-byte header, but" : "needs 2,000,000,000 data bytes after the 8-byte header, found 10", Invalid(path).Message);
    }

    [Fact]
    public void GzipDeclaringMoreThanItCouldDecompressToIsRefusedBeforeAllocating()
    {
        // 40 MB of zeros compress to ~40 KB; the header claims 2·10^9 bytes, more than deflate's 1032:1 ratio allows.
        using var dir = new TempDir();
        var raw = new byte[8 + 40_000_000];
        byte[] header = File(0x08, [2_000_000_000], 0);
        header.CopyTo(raw, 0);
        string path = dir.Write("bomb.gz", Gzip(raw));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Invalid(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(path, e.Message);
        Assert.Contains("2,000,000,000", e.Message);
        Assert.True(allocated < 8 << 20, $"Reading allocated {allocated:N0} bytes before refusing.");
    }

    [Fact]
    public void AGzipStreamGrowsItsBufferAsDataArrives()
    {
        // Without a length to check against (a non-seekable stream), memory follows the data, not the header.
        byte[] gz = Gzip(File(0x08, [2_000_000_000], 100_000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(new NonSeekable(gz), "stream"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("found 100,000", e.Message);
        Assert.True(allocated < 4 << 20, $"Reading allocated {allocated:N0} bytes for 100,000 bytes of data.");
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => Idx.Read(dir.File("nope")));
    }

    [Fact]
    public void WriteRejectsAShapeThatDoesNotMatch()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => Idx.Write(dir.File("x"), new byte[5], [2, 3]));
        Assert.Contains("shape (2, 3) holds 6 elements but the data has 5", e.Message);
    }

    private sealed class NonSeekable(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
    }
}
