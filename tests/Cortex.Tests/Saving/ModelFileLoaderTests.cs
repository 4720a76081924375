using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Saving;

/// <summary>
/// Hostile and damaged <c>.cortex</c> files: every failure is an <see cref="InvalidDataException"/> that names the file
/// and the field, with a bounded message, and nothing the file claims is allocated before it is checked against the
/// bytes actually present. The files are forged with a valid checksum, as an attacker would.
/// </summary>
public class ModelFileLoaderTests
{
    private const long AllocationLimit = 64L << 20;

    // A small trained model's file, as (JSON, floats), to forge variants from.
    private static (JsonObject Json, float[] Floats) Saved()
    {
        using var dir = new TempDir();
        var m = new Sequential(new Dense(3, "relu"), new Dense(1, "sigmoid"));
        m.Compile(new Adam(0.01f), new BinaryCrossentropy(), ["accuracy"]);
        m.Fit(Tensor.RandomNormal([8, 2], seed: 1), Tensor.Ones([8]), epochs: 1, verbose: 0);
        string path = dir.File("m.cortex");
        m.Save(path);
        return Parse(File.ReadAllBytes(path));
    }

    /// <summary>A file's parts: its JSON and its floats.</summary>
    internal static (JsonObject Json, float[] Floats) Parse(byte[] b)
    {
        int jsonLength = (int)BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(8));
        var json = JsonNode.Parse(b.AsSpan(16, jsonLength))!.AsObject();
        long count = BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(16 + jsonLength));
        var floats = new float[count];
        for (int i = 0; i < count; i++) floats[i] = BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(16 + jsonLength + 8 + 4 * i));
        return (json, floats);
    }

    /// <summary>A file with the given parts and lengths, and a checksum that matches.</summary>
    internal static byte[] Forge(string json, float[] floats, long? jsonLength = null, long? floatCount = null) =>
        Forge(Encoding.UTF8.GetBytes(json), floats, jsonLength, floatCount);

    internal static byte[] Forge(byte[] j, float[] floats, long? jsonLength = null, long? floatCount = null)
    {
        var b = new byte[16 + j.Length + 8 + 4 * floats.Length + 32];
        "CRTX"u8.CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), Cortex.Saving.ModelFile.FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), jsonLength ?? j.Length);
        j.CopyTo(b, 16);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16 + j.Length), floatCount ?? floats.Length);
        for (int i = 0; i < floats.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(16 + j.Length + 8 + 4 * i), floats[i]);
        SHA256.HashData(b.AsSpan(0, b.Length - 32), b.AsSpan(b.Length - 32));
        return b;
    }

    private static InvalidDataException Refused(TempDir dir, byte[] file, out long allocated)
    {
        string path = dir.Write("forged.cortex", file);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Model.Load(path));
        allocated = GC.GetAllocatedBytesForCurrentThread() - before - file.Length;
        Assert.Contains(path, e.Message);
        Assert.True(e.Message.Length < 1200, $"The message is {e.Message.Length:N0} characters long.");
        return e;
    }

    private static InvalidDataException Refused(TempDir dir, byte[] file) => Refused(dir, file, out _);

    [Fact]
    public void AnArchitectureBiggerThanTheFileIsRefusedBeforeItsWeightsAreAllocated()
    {
        // 4 KB of file claiming a Dense layer with 50,000,000 inputs: 200 MB of kernel the file cannot hold.
        var (json, floats) = Saved();
        var layers = json["model"]!["config"]!["layers"]!.AsArray();
        layers[0]!["build_input_shape"] = new JsonArray(-1, 50_000_000);
        json["weights"]![0]!["shape"] = new JsonArray(50_000_000, 3);
        using var dir = new TempDir();
        var e = Refused(dir, Forge(json.ToJsonString(), floats), out long allocated);
        Assert.Contains("kernel", e.Message);
        Assert.Contains("(50000000, 3)", e.Message);
        Assert.Contains($"{floats.Length}", e.Message);
        Assert.True(allocated < AllocationLimit, $"Loading allocated {allocated:N0} bytes before refusing.");
    }

    [Fact]
    public void AWeightCountPastTheIntRangeIsInvalidData()
    {
        var (json, floats) = Saved();
        json["model"]!["config"]!["layers"]![0]!["build_input_shape"] = new JsonArray(-1, 2_000_000_000);
        json["model"]!["config"]!["layers"]![0]!["config"]!["units"] = 2_000_000_000;
        using var dir = new TempDir();
        Assert.Contains("kernel", Refused(dir, Forge(json.ToJsonString(), floats)).Message);
    }

    [Theory]
    [InlineData(long.MaxValue, null, "configuration length")]
    [InlineData(-5L, null, "configuration length")]
    [InlineData(null, (1L << 62) + 1, "float count")]   // × 4 wraps around to the 4 bytes of the one float present
    [InlineData(null, long.MaxValue, "float count")]
    [InlineData(null, -1L, "float count")]
    [InlineData(null, 1_000_000_000L, "float count")]
    public void LyingLengthsAreInvalidDataNamingTheField(long? jsonLength, long? floatCount, string field)
    {
        using var dir = new TempDir();
        var e = Refused(dir, Forge("{}", [1f], jsonLength, floatCount));
        Assert.Contains(field, e.Message);
        Assert.Contains($"{jsonLength ?? floatCount}", e.Message);
    }

    [Theory]
    [InlineData("weights", "the file's top level")]
    [InlineData("model", "the file's top level")]
    [InlineData("class_name", "compile.optimizer")]
    [InlineData("kernel_size", "layer 0")]
    [InlineData("class_name", "layer 0 (Dense): key 'kernel_initializer' has no key 'class_name'")]
    public void AMissingKeyIsNamedWithItsObject(string key, string where)
    {
        var (json, floats) = Saved();
        if (where == "compile.optimizer") json["compile"]!["optimizer"]!.AsObject().Remove(key);
        else if (where.Contains("kernel_initializer")) json["model"]!["config"]!["layers"]![0]!["config"]!["kernel_initializer"]!.AsObject().Remove(key);
        else if (key == "kernel_size")
        {
            // A Conv2D without its kernel size: the object is the layer's config.
            json["model"]!["config"]!["layers"]![0]!["class_name"] = "Conv2D";
            json["model"]!["config"]!["layers"]![0]!["config"]!.AsObject().Remove(key);
        }
        else json.Remove(key);
        using var dir = new TempDir();
        var e = Refused(dir, Forge(json.ToJsonString(), floats));
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains(where, e.Message);
        Assert.DoesNotContain("The given key was not present", e.Message);
    }

    [Fact]
    public void AnUnknownLayerClassNamesTheFileAndIsNotEchoedWhole()
    {
        var (json, floats) = Saved();
        json["model"]!["config"]!["layers"]![0]!["class_name"] = "System.IO.File" + new string('x', 1 << 20);
        using var dir = new TempDir();
        var e = Refused(dir, Forge(json.ToJsonString(), floats));
        Assert.Contains("unknown layer class 'System.IO.File", e.Message);
    }

    [Fact]
    public void AForgeryWithoutAnEditLoads()
    {
        // The forger itself refuses nothing: each refusal above comes from its edit.
        var (json, floats) = Saved();
        using var dir = new TempDir();
        var m = Model.Load(dir.Write("forged.cortex", Forge(json.ToJsonString(), floats)));
        Assert.Equal(floats[..6], m.Variables[0].AsSpan().ToArray());
        Assert.Equal(1, m.Optimizer!.Iterations);
    }

    [Theory]
    [InlineData("[1,2,3]", "expected 4 unsigned 32-bit integers. Received: [1,2,3]")]
    [InlineData("\"x\"", "expected 4 unsigned 32-bit integers. Received: \"x\"")]
    [InlineData("[1,2,3,-4]", "expected an unsigned 32-bit integer. Received: -4")]
    [InlineData("[1,2,3,4294967296]", "expected an unsigned 32-bit integer. Received: 4294967296")]
    [InlineData("[1,2,3,0.5]", "expected an unsigned 32-bit integer. Received: 0.5")]
    [InlineData("[0,0,0,0]", "not all zero")]
    public void ABadRandomStateNamesTheLayerAndTheKey(string state, string expected)
    {
        var (json, floats) = Saved();
        // A Dropout (no weights) between the two Dense layers, with the random state to test.
        json["model"]!["config"]!["layers"]!.AsArray().Insert(1, JsonNode.Parse(
            $$"""{"class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5, "seed": 1}, "build_input_shape": [-1, 3], "random_state": {{state}}}"""));
        using var dir = new TempDir();
        var e = Refused(dir, Forge(json.ToJsonString(), floats));
        Assert.Contains("layer 1 (Dropout): key 'random_state': ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("\"class_name\":\"Dense\"", "\"class_name\":\"De\u0001se\"", "layer 0: key 'class_name': expected a string. Received: \"De\uFFFDse\" (not valid UTF-8)")]
    [InlineData("\"config\":{\"name\":\"dense", "\"con\u0001ig\":{\"name\":\"dense", "layer 0 has no key 'config'; expected one. Keys found: 'class_name', 'con\uFFFDig'")]
    public void InvalidUtf8IsQuotedWithTheKeyNamed(string valid, string damaged, string expected)
    {
        // System.Text.Json parses a stray byte 0x8C inside a string or a key, and throws ("Cannot transcode invalid
        // UTF-8") only when it is read, without naming the key. The first occurrence is layer 0's.
        var (json, floats) = Saved();
        string text = json.ToJsonString();
        int at = text.IndexOf(valid, StringComparison.Ordinal);
        Assert.True(at >= 0, $"{valid} is not in {text}");
        byte[] bytes = Encoding.UTF8.GetBytes(text[..at] + damaged + text[(at + valid.Length)..]);
        bytes[Array.IndexOf(bytes, (byte)1)] = 0x8C;
        using var dir = new TempDir();
        var e = Refused(dir, Forge(bytes, floats));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("transcode", e.Message);
    }

    [Fact]
    public void AValueOfTheWrongTypeNamesTheKeyAndBothTypes()
    {
        var (json, floats) = Saved();
        json["model"]!["config"]!["layers"]![0]!["config"]!["units"] = "three";
        using var dir = new TempDir();
        var e = Refused(dir, Forge(json.ToJsonString(), floats));
        Assert.Contains("'units'", e.Message);
        Assert.Contains("expected an integer", e.Message);
        Assert.Contains("\"three\"", e.Message);
    }
}
