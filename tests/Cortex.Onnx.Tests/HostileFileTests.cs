using Cortex.Models;
using Cortex.Onnx.Proto;
using Google.Protobuf;

namespace Cortex.Onnx.Tests;

/// <summary>Damaged, truncated or hostile ONNX files get a clear exception — never a crash, a hang or an allocation sized
/// by a length the file claims.</summary>
public class HostileFileTests
{
    private static ModelProto Valid() => OnnxExporter.ToProto(ExportTests.Build("digits_mlp").Model, 17);

    private static Exception Refused(ModelProto proto) => Refused(proto.ToByteArray());

    private static Exception Refused(byte[] bytes)
    {
        var e = Record.Exception(() => OnnxImporter.Load(bytes, "hostile.onnx"));
        Assert.NotNull(e);
        Assert.True(e is InvalidDataException or NotSupportedException, $"{e.GetType().Name}: {e.Message}");
        Assert.Contains("hostile.onnx", e.Message);
        return e;
    }

    [Fact]
    public void EveryTruncationIsRefused()
    {
        byte[] bytes = Valid().ToByteArray();
        for (int n = 0; n < bytes.Length; n += Math.Max(1, bytes.Length / 300))
        {
            var e = Record.Exception(() => OnnxImporter.Load(bytes[..n], "hostile.onnx"));
            Assert.True(e is InvalidDataException or NotSupportedException, $"{n} bytes: {e?.GetType().Name}: {e?.Message}");
        }
    }

    [Fact]
    public void RandomBytesAreRefused()
    {
        var rng = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            var bytes = new byte[rng.Next(1, 400)];
            rng.NextBytes(bytes);
            var e = Record.Exception(() => OnnxImporter.Load(bytes, "hostile.onnx"));
            Assert.True(e is InvalidDataException or NotSupportedException, $"case {i}: {e?.GetType().Name}: {e?.Message}");
        }
    }

    [Fact]
    public void ALyingLengthIsRefusedWithoutAllocatingIt()
    {
        // A length prefix claiming 2 GB of initializer data in a file of a few bytes.
        byte[] bytes = [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x2A, 0x01];
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("not an ONNX model", Refused(bytes).Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000);
    }

    [Fact]
    public void RawDataOfTheWrongLengthIsRefused()
    {
        var proto = Valid();
        var t = proto.Graph.Initializer[0];
        t.RawData = ByteString.CopyFrom(t.RawData.Span[..^4]);
        Assert.Contains($"the initializer '{t.Name}' of shape (784, 25) has 78396 bytes of data: expected 78400", Refused(proto).Message);
    }

    [Fact]
    public void ShapesThatOverflowAreRefused()
    {
        var proto = Valid();
        var t = proto.Graph.Initializer[0];
        t.Dims.Clear();
        t.Dims.AddRange([1L << 40, 1L << 40]);
        Assert.Contains("not a valid size", Refused(proto).Message);
        t.Dims.Clear();
        t.Dims.AddRange([-1, 25]);
        Assert.Contains("not a valid size", Refused(proto).Message);
    }

    [Fact]
    public void WrongDataTypesAreRefused()
    {
        var proto = Valid();
        proto.Graph.Initializer[0].DataType = (int)TensorProto.Types.DataType.String;
        Assert.Contains("has data type 8", Refused(proto).Message);
        proto = Valid();
        proto.Graph.Input[0].Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Double;
        Assert.Contains("Cortex imports float inputs", Refused(proto).Message);
    }

    [Fact]
    public void AMissingInitializerIsRefusedNamingIt()
    {
        var proto = Valid();
        string name = proto.Graph.Initializer[2].Name;
        proto.Graph.Initializer.RemoveAt(2);
        Assert.Contains($"reads '{name}', which no initializer, input or earlier node defines", Refused(proto).Message);
    }

    [Fact]
    public void ACycleIsRefused()
    {
        var proto = Valid();
        proto.Graph.Node[0].Input[0] = proto.Graph.Node[2].Output[0]; // the first node reads a later node's output
        Assert.Contains("a cycle, a missing initializer, or nodes out of order", Refused(proto).Message);
    }

    [Fact]
    public void ExternalDataAndMissingGraphsAreRefused()
    {
        var proto = Valid();
        proto.Graph.Initializer[0].DataLocation = 1;
        Assert.Contains("external data", Refused(proto).Message);
        Assert.Contains("the model has no graph", Refused(new ModelProto { IrVersion = 8 }).Message);
        proto = Valid();
        proto.OpsetImport.Clear();
        Assert.Contains("imports no version of the standard ONNX operator set", Refused(proto).Message);
    }

    [Fact]
    public void HugeInputDimensionsAreRefused()
    {
        var proto = Valid();
        proto.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue = 1L << 40;
        Assert.Contains("expected a fixed size in 1…16,777,216", Refused(proto).Message);
    }

    /// <summary>Random byte mutations of exports (2,000 per model here; CORTEX_ONNX_MUTATIONS sets another count for
    /// a longer run).</summary>
    [Theory]
    [InlineData("reshape_conv")]
    [InlineData("fashion_cnn_bn")]
    [InlineData("coffee")]
    [InlineData("embedding")]
    [InlineData("lstm_sequences_backwards")]
    [InlineData("gru_reset_before_sequences")]
    [InlineData("simple_rnn_relu_sequences_backwards")]
    [InlineData("bidirectional_gru_sum_sequences")]
    [InlineData("bidirectional_lstm")]
    [InlineData("conv1d_pools")]
    [InlineData("masking")]
    [InlineData("torch:lstm_gru_stacked")]
    [InlineData("torch:conv1d")]
    [InlineData("torch:bilstm_mean")]
    [InlineData("torch:activations_2")]
    [InlineData("relu_layers")]
    [InlineData("activations_keras")]
    [InlineData("functional")]
    public void MutatedFilesLoadOrAreRefusedClearly(string name)
    {
        byte[] valid = name.StartsWith("torch:")
            ? File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "reference", "onnx", $"{name[6..]}.onnx"))
            : name == "functional" ? OnnxExporter.ToBytes(ImportTests.TwoHeads().Model)
            : OnnxExporter.ToBytes(ExportTests.Build(name).Model);
        var rng = new Random(11);
        int count = int.TryParse(Environment.GetEnvironmentVariable("CORTEX_ONNX_MUTATIONS"), out int n) ? n : 2000;
        for (int i = 0; i < count; i++)
        {
            var bytes = (byte[])valid.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            foreach (var load in new Func<byte[], string, Model>[] { OnnxImporter.Load, OnnxImporter.LoadModel })
            {
                var e = Record.Exception(() => load(bytes, "hostile.onnx"));
                Assert.True(e is null or InvalidDataException or NotSupportedException, $"mutation {i}: {e?.GetType().Name}: {e?.Message}\n{e?.StackTrace}");
            }
        }
    }
}
