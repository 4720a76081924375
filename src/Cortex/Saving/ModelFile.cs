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
/// The floats are every weight in <c>weights</c> order, then, for each variable listed in
/// <c>optimizer_state.variables</c> (positions in <c>weights</c>), each of its slots in <c>slot_names</c> order. Naming
/// the variables, rather than assuming the trainable ones at load time, is what makes every state loadable: compiled but
/// not trained (no slots yet), a layer frozen or added after training, a recompiled model (format 1 assumed them and
/// refused such files). A layer that draws random numbers while training (Dropout) saves its generator's position
/// (<c>random_state</c>), so a reloaded model continues training exactly as the saved one would have.
/// Saving writes a temporary file beside the target and renames it over the target, so a crash mid-save never
/// leaves a half-written model where the old one was.
/// </summary>
internal static class ModelFile
{
    public const int FormatVersion = 2;
    private static readonly byte[] Magic = "CRTX"u8.ToArray();

    public static void Save(Model model, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RequireBuilt(model);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Cannot save model to '{path}': the directory '{dir}' does not exist.");
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Write(model, stream);
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

    private static void RequireBuilt(Model model)
    {
        if (!model.Built)
            throw new InvalidOperationException($"Model '{model.Name}' is not built yet, so it has no weights to save: call it on data, Fit it, or Build(inputShape) first.");
    }

    /// <summary>Writes the whole file to <paramref name="stream"/> (the model must be built).</summary>
    internal static void Write(Model model, Stream stream)
    {
        RequireBuilt(model);
        var variables = model.Variables;
        // Compile sets the optimizer and the loss together; the optimizer's state is saved with its configuration.
        var optimizer = model.Loss == null ? null : model.Optimizer;
        var slots = optimizer?.SlotsOwnedBy(variables) ?? [];
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
                    ["random_state"] = l.Generator?.State,
                }).ToList(),
            }),
            ["compile"] = optimizer == null ? null : new Dictionary<string, object?>
            {
                ["optimizer"] = ConfigJson.Describe(optimizer.GetType().Name, optimizer.GetConfig()),
                ["loss"] = ConfigJson.Describe(model.Loss!.GetType().Name, model.Loss.GetConfig()),
                ["metrics"] = model.MetricNames,
            },
            ["weights"] = variables.Select(v => new Dictionary<string, object?> { ["name"] = v.Name, ["shape"] = v.Shape }).ToList(),
            ["optimizer_state"] = optimizer == null ? null : new Dictionary<string, object?>
            {
                ["iterations"] = optimizer.Iterations,
                ["slot_names"] = optimizer.SavedSlotNames,
                ["variables"] = slots.Select(s => s.Position).ToList(),
            },
        };
        RequireLoadable(model, json, "");
        byte[] jsonBytes = JsonSerializer.SerializeToUtf8Bytes(json);
        long floats = variables.Sum(v => (long)v.Size) + slots.Sum(s => s.Slots.Sum(a => (long)a.Length));

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Put(ReadOnlySpan<byte> bytes) { stream.Write(bytes); hash.AppendData(bytes); }
        Span<byte> header = stackalloc byte[8];
        Put(Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header, FormatVersion);
        Put(header[..4]);
        BinaryPrimitives.WriteInt64LittleEndian(header, jsonBytes.Length);
        Put(header);
        Put(jsonBytes);
        BinaryPrimitives.WriteInt64LittleEndian(header, floats);
        Put(header);
        foreach (var v in variables) Put(FloatBytes(v.AsSpan()));
        foreach (var (_, arrays) in slots)
            foreach (var slot in arrays) Put(FloatBytes(slot));
        stream.Write(hash.GetHashAndReset());
    }

    /// <summary>The classes <see cref="Load"/> can name: Cortex's own (it rebuilds layers, optimizers, schedules, losses,
    /// initializers and regularizers from their class names, and only Cortex's).</summary>
    private static readonly HashSet<string> CortexClasses =
        [.. typeof(Model).Assembly.GetExportedTypes().Where(t => !t.IsAbstract).Select(t => t.Name)];

    /// <summary>
    /// Refuses, before anything is written, a model that <see cref="Load"/> could not rebuild: a layer, optimizer,
    /// schedule or loss of a class defined outside Cortex, or such a class named anywhere in the configuration (a custom
    /// initializer or regularizer in a layer's config). <paramref name="node"/> is the JSON tree; <paramref name="path"/> its place.
    /// </summary>
    private static void RequireLoadable(Model model, object? node, string path)
    {
        if (path == "")
        {
            var parts = model.Layers.Select(l => ($"layer '{l.Name}'", (object?)l))
                .Append(("optimizer", model.Optimizer)).Append(("learning-rate schedule", model.Optimizer?.Schedule)).Append(("loss", model.Loss));
            foreach (var (what, part) in parts)
                if (part != null && part.GetType().Assembly != typeof(Model).Assembly)
                    throw Unloadable(model, what, part.GetType().FullName);
        }
        switch (node)
        {
            case Dictionary<string, object?> d:
                if (d.TryGetValue("class_name", out var c) && c is string name && !CortexClasses.Contains(name))
                    throw Unloadable(model, path, name);
                foreach (var (key, value) in d) RequireLoadable(model, value, path == "" ? key : $"{path}.{key}");
                break;
            case System.Collections.IList list: // the layer list, or a shape (numbers: nothing to check)
                for (int i = 0; i < list.Count; i++) RequireLoadable(model, list[i], $"{path}[{i}]");
                break;
        }
    }

    private static NotSupportedException Unloadable(Model model, string what, string? className) =>
        new($"Model '{model.Name}' cannot be saved: its {what} is of class '{className}', which Model.Load cannot rebuild " +
            "(it rebuilds Cortex's own layers, optimizers, schedules, losses, initializers and regularizers). " +
            "Use Cortex's classes, or keep the weights with GetWeights and rebuild the model in code.");

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
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads a whole file's bytes; <paramref name="source"/> names it in errors.</summary>
    internal static Model Read(byte[] bytes, string source)
    {
        InvalidDataException Bad(string what) => new($"Cannot load model '{source}': {what}");
        if (bytes.Length < 4 || !bytes.AsSpan(0, 4).SequenceEqual(Magic))
            throw Bad("it is not a Cortex model file (it does not start with the CRTX signature).");
        if (bytes.Length < 8) throw Bad($"the file is truncated ({bytes.Length} bytes).");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        if (version > FormatVersion)
            throw Bad($"it was written by a newer Cortex (format version {version}); this version reads format versions 1 to {FormatVersion}. Upgrade Cortex to load it.");
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
                Model model;
                try { model = BuildModel(root.GetProperty("model")); }
                catch (InvalidDataException e) { throw Bad($"{e.Message}."); }
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
                    if (version == 1) RestoreFormat1OptimizerState(root, model, optimizer, floats, ref offset, source);
                    else RestoreOptimizerState(root.GetProperty("optimizer_state"), variables, optimizer, floats, ref offset, Bad);
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

    /// <summary>Rebuilds the optimizer's slots for the variables the file names, in the order they were built.</summary>
    private static void RestoreOptimizerState(JsonElement saved, IReadOnlyList<Variable> variables, Optimizer optimizer,
        float[] floats, ref int offset, Func<string, InvalidDataException> bad)
    {
        string[] names = [.. saved.GetProperty("slot_names").EnumerateArray().Select(e => e.GetString()!)];
        if (!names.SequenceEqual(optimizer.SavedSlotNames))
            throw bad($"the optimizer state has slots [{string.Join(", ", names)}] but its {optimizer.GetType().Name} configuration has [{string.Join(", ", optimizer.SavedSlotNames)}].");
        var state = new List<(Variable, float[][])>();
        var seen = new HashSet<int>();
        foreach (var e in saved.GetProperty("variables").EnumerateArray())
        {
            int position = e.GetInt32();
            if (position < 0 || position >= variables.Count || !seen.Add(position))
                throw bad($"the optimizer state names weight {position}, but the file has {variables.Count} weights (0 to {variables.Count - 1}), each named at most once.");
            var v = variables[position];
            if (offset + (long)names.Length * v.Size > floats.Length)
                throw bad($"the file holds {floats.Length} floats, too few for the optimizer slots of weight '{v.Name}'.");
            var arrays = new float[names.Length][];
            for (int s = 0; s < names.Length; s++, offset += v.Size) arrays[s] = floats.AsSpan(offset, v.Size).ToArray();
            state.Add((v, arrays));
        }
        optimizer.Restore(saved.GetProperty("iterations").GetInt64(), state);
    }

    /// <summary>
    /// Format 1 saved the iteration count and then each slot of every variable the optimizer had built, without saying
    /// which variables those were; it could only be read back when they were the model's trainable variables. Those
    /// files, and those with no slots yet, are restored exactly; any other is loaded with a fresh optimizer and a
    /// warning, as Keras skips optimizer variables that do not match the model.
    /// </summary>
    private static void RestoreFormat1OptimizerState(JsonElement root, Model model, Optimizer optimizer, float[] floats, ref int offset, string source)
    {
        var shapes = root.GetProperty("optimizer_variables").EnumerateArray().Select(e => e.EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToList();
        if (shapes.Count == 0) return;
        int start = offset;
        offset += shapes.Sum(ShapeUtil.Count);
        if (offset > floats.Length) return; // the caller reports the size mismatch
        long iterations = (long)floats[start];
        var trainable = model.TrainableVariables;
        int slotCount = optimizer.SavedSlotNames.Count;
        if (shapes.Count == 1)
        {
            optimizer.Restore(iterations, []);
            return;
        }
        bool matches = shapes.Count == 1 + slotCount * trainable.Count
            && Enumerable.Range(0, shapes.Count - 1).All(k => ShapeUtil.SameShape(shapes[1 + k], trainable[k % trainable.Count].ShapeRef));
        if (!matches)
        {
            Console.Error.WriteLine($"Warning: Model.Load('{source}'): the {optimizer.GetType().Name} state in this format-1 file ({shapes.Count - 1} slot tensors) does not match the model's {trainable.Count} trainable weights, so the optimizer starts afresh. Save the model again to keep its state from now on.");
            return;
        }
        int at = start + 1;
        var state = trainable.Select(v => (v, new float[slotCount][])).ToList();
        for (int s = 0; s < slotCount; s++)
            foreach (var (v, arrays) in state)
            {
                arrays[s] = floats.AsSpan(at, v.Size).ToArray();
                at += v.Size;
            }
        optimizer.Restore(iterations, state);
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
            var layer = LayerRegistry.FromConfig(ConfigJson.ClassName(l), ConfigJson.Config(l));
            if (ConfigJson.TryGet(l, "random_state", out var state))
                (layer.Generator ?? throw new InvalidDataException($"layer '{layer.Name}' ({layer.GetType().Name}) has a random state in the file but draws no random numbers"))
                    .State = [.. state.EnumerateArray().Select(e => e.GetUInt32())];
            layers.Add(layer);
            shapes.Add(l.TryGetProperty("build_input_shape", out var s) && s.ValueKind == JsonValueKind.Array ? [.. s.EnumerateArray().Select(d => d.GetInt32())] : null);
        }
        var model = new Sequential(layers, config.GetProperty("name").GetString());
        for (int i = 0; i < layers.Count; i++)
            if (shapes[i] is { } shape) layers[i].EnsureBuilt(shape);
        return model;
    }
}
