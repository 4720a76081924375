using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Saving;

/// <summary>
/// The <c>.cortex</c> file: one file holding a signature and format version, the architecture and training
/// configuration as JSON, the weights and the optimizer's state as little-endian float32, and a SHA-256 of all of it.
/// <code>
/// "CRTX" | u32 version | i64 json length | json (UTF-8) | i64 float count | float32[count] | sha256(everything before)
/// </code>
/// Saving writes a temporary file beside the target and renames it over the target, so a crash mid-save never
/// leaves a half-written model where the old one was.
/// </summary>
internal static class ModelFile
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "CRTX"u8.ToArray();

    public static void Save(Model model, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!model.Built)
            throw new InvalidOperationException($"Model '{model.Name}' is not built yet, so it has no weights to save: call it on data, Fit it, or Build(inputShape) first.");
        var variables = model.Variables;
        var optimizerState = model.Optimizer?.Variables ?? [];
        var json = new Dictionary<string, object?>
        {
            ["format"] = "cortex-model",
            ["version"] = FormatVersion,
            ["model"] = ConfigJson.Describe(model.GetType().Name, new Dictionary<string, object?>
            {
                ["name"] = model.Name,
                ["layers"] = model.Layers.Select(l => new Dictionary<string, object?>
                {
                    ["class_name"] = l.GetType().Name,
                    ["config"] = l.GetConfig(),
                    ["build_input_shape"] = l.BuildInputShape,
                }).ToList(),
            }),
            ["compile"] = model.Loss == null || model.Optimizer == null ? null : new Dictionary<string, object?>
            {
                ["optimizer"] = ConfigJson.Describe(model.Optimizer.GetType().Name, model.Optimizer.GetConfig()),
                ["loss"] = ConfigJson.Describe(model.Loss.GetType().Name, model.Loss.GetConfig()),
                ["metrics"] = model.MetricNames,
            },
            ["weights"] = variables.Select(v => new Dictionary<string, object?> { ["name"] = v.Name, ["shape"] = v.Shape }).ToList(),
            ["optimizer_variables"] = optimizerState.Select(v => v.Shape).ToList(),
        };
        byte[] jsonBytes = JsonSerializer.SerializeToUtf8Bytes(json);
        long floats = variables.Sum(v => (long)v.Size) + optimizerState.Sum(v => (long)v.Size);

        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Cannot save model to '{path}': the directory '{dir}' does not exist.");
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                void Write(ReadOnlySpan<byte> bytes) { stream.Write(bytes); hash.AppendData(bytes); }
                Span<byte> header = stackalloc byte[8];
                Write(Magic);
                BinaryPrimitives.WriteUInt32LittleEndian(header, FormatVersion);
                Write(header[..4]);
                BinaryPrimitives.WriteInt64LittleEndian(header, jsonBytes.Length);
                Write(header);
                Write(jsonBytes);
                BinaryPrimitives.WriteInt64LittleEndian(header, floats);
                Write(header);
                foreach (var v in variables) Write(FloatBytes(v.AsSpan()));
                foreach (var v in optimizerState) Write(FloatBytes(v.AsSpan()));
                stream.Write(hash.GetHashAndReset());
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static ReadOnlySpan<byte> FloatBytes(ReadOnlySpan<float> values)
    {
        if (!BitConverter.IsLittleEndian)
        {
            var copy = new byte[values.Length * 4];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(copy.AsSpan(i * 4), values[i]);
            return copy;
        }
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values);
    }

    public static Model Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file not found: '{path}'.", path);
        byte[] bytes = File.ReadAllBytes(path);
        InvalidDataException Bad(string what) => new($"Cannot load model '{path}': {what}");
        if (bytes.Length < 4 || !bytes.AsSpan(0, 4).SequenceEqual(Magic))
            throw Bad("it is not a Cortex model file (it does not start with the CRTX signature).");
        if (bytes.Length < 8) throw Bad($"the file is truncated ({bytes.Length} bytes).");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        if (version > FormatVersion)
            throw Bad($"it was written by a newer Cortex (format version {version}); this version reads format version {FormatVersion}. Upgrade Cortex to load it.");
        if (version == 0) throw Bad("its format version is 0, which no Cortex writes (the header is corrupted).");
        if (bytes.Length < 16 + 8 + 32) throw Bad($"the file is truncated ({bytes.Length} bytes; even an empty model needs {16 + 8 + 32}).");
        long jsonLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        if (jsonLength < 0 || 16 + jsonLength + 8 + 32 > bytes.Length)
            throw Bad($"the file is truncated or corrupted: the header announces {jsonLength} bytes of configuration but the file has {bytes.Length} bytes in all.");
        int floatsAt = 16 + (int)jsonLength;
        long floatCount = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(floatsAt));
        long expectedLength = floatsAt + 8 + floatCount * 4 + 32;
        if (floatCount < 0 || expectedLength != bytes.Length)
            throw Bad(floatCount >= 0 && expectedLength > bytes.Length
                ? $"the file is truncated: it should be {expectedLength} bytes but has {bytes.Length}."
                : $"the file is corrupted: it should be {expectedLength} bytes but has {bytes.Length}.");
        byte[] digest = SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32));
        if (!digest.AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw Bad("the file is corrupted: its checksum does not match its contents.");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.AsMemory(16, (int)jsonLength)); }
        catch (JsonException e) { throw Bad($"its configuration is not valid JSON ({e.Message})."); }
        using (doc)
        {
            var root = doc.RootElement;
            try
            {
                var model = BuildModel(root.GetProperty("model"));
                var floats = new float[floatCount];
                var src = bytes.AsSpan(floatsAt + 8, (int)(floatCount * 4));
                for (int i = 0; i < floats.Length; i++) floats[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(i * 4));
                int offset = 0;
                var variables = model.Variables;
                var manifest = root.GetProperty("weights").EnumerateArray().ToList();
                if (manifest.Count != variables.Count)
                    throw Bad($"the architecture has {variables.Count} weights but the file lists {manifest.Count}.");
                for (int i = 0; i < variables.Count; i++)
                {
                    int[] shape = ConfigJson.Ints(manifest[i], "shape");
                    if (!ShapeUtil.SameShape(shape, variables[i].ShapeRef))
                        throw Bad($"weight '{variables[i].Name}' has shape {ShapeUtil.Format(variables[i].ShapeRef)} in the architecture but {ShapeUtil.Format(shape)} in the file.");
                    variables[i].Assign(Tensor.FromArray(floats.AsSpan(offset, variables[i].Size).ToArray(), shape));
                    offset += variables[i].Size;
                }
                if (root.TryGetProperty("compile", out var compile) && compile.ValueKind == JsonValueKind.Object)
                {
                    var optimizer = Optimizer.FromConfig(ConfigJson.ClassName(compile.GetProperty("optimizer")), ConfigJson.Config(compile.GetProperty("optimizer")));
                    var loss = Loss.FromConfig(ConfigJson.ClassName(compile.GetProperty("loss")), ConfigJson.Config(compile.GetProperty("loss")));
                    model.Compile(optimizer, loss, compile.GetProperty("metrics").EnumerateArray().Select(m => m.GetString()!).ToList());
                    var slotShapes = root.GetProperty("optimizer_variables").EnumerateArray().Select(e => e.EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToList();
                    if (slotShapes.Count > 0)
                    {
                        optimizer.Build(model.TrainableVariables);
                        var state = new List<Tensor>();
                        foreach (var shape in slotShapes)
                        {
                            int n = ShapeUtil.Count(shape);
                            state.Add(Tensor.FromArray(floats.AsSpan(offset, n).ToArray(), shape));
                            offset += n;
                        }
                        optimizer.LoadVariables(state);
                    }
                }
                if (offset != floats.Length) throw Bad($"the file holds {floats.Length} floats but the model and optimizer use {offset}.");
                return model;
            }
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or ArgumentException or FormatException)
            {
                throw Bad($"its configuration is invalid ({e.Message}).");
            }
        }
    }

    private static Model BuildModel(JsonElement described)
    {
        string cls = ConfigJson.ClassName(described);
        if (cls != nameof(Sequential)) throw new InvalidDataException($"unknown model class '{cls}'");
        var config = ConfigJson.Config(described);
        var layers = new List<Layer>();
        var shapes = new List<int[]?>();
        foreach (var l in config.GetProperty("layers").EnumerateArray())
        {
            layers.Add(LayerRegistry.FromConfig(ConfigJson.ClassName(l), ConfigJson.Config(l)));
            shapes.Add(l.TryGetProperty("build_input_shape", out var s) && s.ValueKind == JsonValueKind.Array ? [.. s.EnumerateArray().Select(d => d.GetInt32())] : null);
        }
        var model = new Sequential(layers, config.GetProperty("name").GetString());
        for (int i = 0; i < layers.Count; i++)
            if (shapes[i] is { } shape) layers[i].EnsureBuilt(shape);
        return model;
    }
}
