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
/// (<c>random_state</c>), so a reloaded model continues training exactly as the saved one would have. An optional
/// <c>metadata</c> object of strings holds <see cref="Model.Metadata"/>; it is written only when there is some, and
/// readers that predate it skip it, so it needed no new format version.
/// Saving goes through <see cref="AtomicFile"/>: a temporary file beside the target, renamed over it and the directory
/// flushed, so a crash mid-save never leaves a half-written model where the old one was.
/// </summary>
internal static partial class ModelFile
{
    public const int FormatVersion = 2;
    private static readonly byte[] Magic = "CRTX"u8.ToArray();

    public static void Save(Model model, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RequireBuilt(model);
        AtomicFile.Write(path, stream => Write(model, stream));
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
            ["model"] = ConfigJson.Describe(model.Subclassed ? nameof(Model) : model.GetType().Name, ModelConfig(model)), // a subclass: "Model", which Load refuses
            ["compile"] = optimizer == null ? null : new Dictionary<string, object?>
            {
                ["optimizer"] = ConfigJson.Describe(optimizer.GetType().Name, optimizer.GetConfig()),
                ["loss"] = ConfigJson.Describe(model.Loss!.GetType().Name, model.Loss.GetConfig()),
                // One loss per output and their weights (a model with several outputs); absent otherwise.
                ["losses"] = model.Losses.Count > 1 ? model.Losses.Select(l => ConfigJson.Describe(l.GetType().Name, l.GetConfig())).ToList() : null,
                ["loss_weights"] = model.LossWeights,
                ["metrics"] = model.MetricNames,
                ["weighted_metrics"] = model.WeightedMetricNames.Count > 0 ? model.WeightedMetricNames : null, // absent when none
            },
            ["weights"] = variables.Select(v => new Dictionary<string, object?> { ["name"] = v.Name, ["shape"] = v.Shape }).ToList(),
            ["optimizer_state"] = optimizer == null ? null : new Dictionary<string, object?>
            {
                ["iterations"] = optimizer.Iterations,
                ["slot_names"] = optimizer.SavedSlotNames,
                ["variables"] = slots.Select(s => s.Position).ToList(),
            },
        };
        // Only when there is some, so that a model without metadata writes the same bytes as before the key existed.
        // A sorted dictionary of strings, not of objects: RequireLoadable has nothing to check in it (a value that
        // reads "class_name" is text, never a class to instantiate).
        if (model.Metadata.Count > 0) json["metadata"] = new SortedDictionary<string, string>(model.Metadata, StringComparer.Ordinal);
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

    /// <summary>
    /// The model's architecture: its layers in order, each with its configuration and random state; for a chain, the
    /// input shape each layer was built for; for a graph (<see cref="Functional"/>), as Keras saves one, each layer's
    /// <c>inbound_nodes</c> (one list per call of the layer, of the <c>[layer name, node index, tensor index]</c> it
    /// read), and the model's <c>input_layers</c> and <c>output_layers</c> in the same form. Loading replays the calls,
    /// which builds every layer.
    /// </summary>
    private static Dictionary<string, object?> ModelConfig(Model model)
    {
        var graph = model as Functional;
        object[] Ref(SymbolicTensor t)
        {
            var (layer, node, tensor) = graph!.History(t);
            return [layer, node, tensor];
        }
        var config = new Dictionary<string, object?>
        {
            ["name"] = model.Name,
            ["layers"] = model.Layers.Select(l =>
            {
                var d = new Dictionary<string, object?> { ["class_name"] = l.GetType().Name, ["config"] = l.GetConfig() };
                if (graph == null) d["build_input_shape"] = l.BuildInputShape;
                else d["inbound_nodes"] = graph.NodesOf(l).Where(n => n.Inputs.Count > 0).Select(n => n.Inputs.Select(Ref).ToList()).ToList();
                d["random_state"] = l.Generator?.State;
                return d;
            }).ToList(),
        };
        if (model.Subclassed)
        {
            config["subclass"] = model.GetType().FullName; // for Load's message only: never instantiated
            config["build_input_shape"] = model.InputShape; // LoadWeights builds a fresh instance for it
            if (model.SubclassInputShapes is { } shapes) config["build_input_shapes"] = shapes; // one per input, when several
        }
        if (graph != null)
        {
            config["input_layers"] = graph.Inputs.Select(Ref).ToList();
            config["output_layers"] = graph.Outputs.Select(Ref).ToList();
        }
        return config;
    }

    /// <summary>The classes <see cref="Load(string)"/> can name: the model's, and those registered with
    /// <see cref="ConfigRegistry"/> (it rebuilds layers, optimizers, schedules, losses, initializers and regularizers
    /// from their class names, and only those).</summary>
    private static readonly HashSet<string> CortexClasses = [nameof(Sequential), nameof(Functional), nameof(Model), .. ConfigRegistry.Classes.Select(c => c.Name)];

    /// <summary>
    /// Refuses, before anything is written, a model that <see cref="Load(string)"/> could not rebuild: a layer, optimizer,
    /// schedule or loss of a class defined outside Cortex, or such a class named anywhere in the configuration (a custom
    /// initializer or regularizer in a layer's config). <paramref name="node"/> is the JSON tree; <paramref name="path"/> its place.
    /// </summary>
    private static void RequireLoadable(Model model, object? node, string path)
    {
        if (path == "")
        {
            var parts = model.Layers.Select(l => ($"layer '{l.Name}'", (object?)l))
                .Append(("optimizer", model.Optimizer)).Append(("learning-rate schedule", model.Optimizer?.Schedule))
                .Concat(model.Losses.Select(l => ("loss", (object?)l)));
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

    /// <summary>Reads the model file at <paramref name="path"/>; every damaged or hostile file is an <see cref="InvalidDataException"/>.</summary>
    public static Model Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file not found: '{path}'.", path);
        long length = new FileInfo(path).Length;
        if (length > Array.MaxLength)
            throw new InvalidDataException($"Cannot load model '{path}': the file is {length:N0} bytes; expected at most {Array.MaxLength:N0}, the most Cortex reads into memory.");
        return Load(File.ReadAllBytes(path), path);
    }

    // The offsets of the fixed fields: signature, version, configuration length; then the configuration, the float
    // count, the floats and the checksum.
    private const int JsonAt = 16, CountBytes = 8, DigestBytes = 32;

    /// <summary>
    /// Reads a model from the bytes of a file; <paramref name="path"/> is the name errors give. Every length, count and
    /// shape the file states is checked against the bytes actually present before anything is allocated for it.
    /// </summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="path">The name errors give.</param>
    /// <param name="into">Null to build the model the file describes; a model to load only the weights into
    /// (<see cref="Model.LoadWeights"/>), which is returned.</param>
    internal static Model Load(byte[] bytes, string path, Model? into = null)
    {
        InvalidDataException Bad(string what, Exception? inner = null) => new($"Cannot load model '{path}': {what}", inner);
        if (bytes.Length < 4 || !bytes.AsSpan(0, 4).SequenceEqual(Magic))
            throw Bad("it is not a Cortex model file (it does not start with the CRTX signature).");
        if (bytes.Length < 8) throw Bad($"the file is truncated ({bytes.Length} bytes).");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        if (version > FormatVersion)
            throw Bad($"it was written by a newer Cortex (format version {version}); this version reads format versions 1 to {FormatVersion}. Upgrade Cortex to load it.");
        if (version == 0) throw Bad("its format version is 0, which no Cortex writes (the header is corrupted).");
        const int Smallest = JsonAt + CountBytes + DigestBytes;
        if (bytes.Length < Smallest) throw Bad($"the file is truncated ({bytes.Length} bytes; even an empty model needs {Smallest}).");

        long jsonLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        long jsonRoom = bytes.Length - Smallest;
        if (jsonLength < 0 || jsonLength > jsonRoom)
            throw Bad($"the file is truncated or corrupted: its configuration length (bytes 8-15) is {jsonLength}; expected 0 to {jsonRoom:N0}, what its {bytes.Length:N0} bytes leave room for.");
        int floatsAt = JsonAt + (int)jsonLength;
        long floatCount = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(floatsAt));
        long floatBytes = jsonRoom - jsonLength; // what lies between the float count and the checksum
        if (floatCount < 0 || floatCount > floatBytes / 4)
            throw Bad($"the file is truncated or corrupted: its float count (bytes {floatsAt}-{floatsAt + 7}) is {floatCount}; expected 0 to {floatBytes / 4:N0}, the floats its {bytes.Length:N0} bytes hold after the configuration.");
        if (floatCount * 4 != floatBytes)
            throw Bad($"the file is corrupted: its float count (bytes {floatsAt}-{floatsAt + 7}) is {floatCount}, which takes {floatCount * 4:N0} bytes, but {floatBytes:N0} bytes lie between it and the checksum.");
        byte[] digest = SHA256.HashData(bytes.AsSpan(0, bytes.Length - DigestBytes));
        if (!digest.AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - DigestBytes)))
            throw Bad("the file is corrupted: its checksum does not match its contents.");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.AsMemory(JsonAt, (int)jsonLength)); }
        catch (JsonException e) { throw Bad($"its configuration is not valid JSON ({Excerpt.Message(e.Message)}).", e); }
        using (doc)
        {
            try { return Read(doc.RootElement, bytes.AsSpan(floatsAt + CountBytes, (int)floatBytes), version, path, into); }
            catch (Exception e) when (IsDataError(e)) { throw Bad(Excerpt.Message(Describe(e)), e); }
        }
    }

    // The exceptions that reading a configuration raises on bad data: ours (InvalidDataException, with the object and
    // key named) and those of System.Text.Json and the constructors the config is fed to.
    private static bool IsDataError(Exception e) =>
        e is InvalidDataException or KeyNotFoundException or InvalidOperationException or ArgumentException or FormatException or OverflowException;

    // System.Text.Json's KeyNotFoundException does not say which key; the callers of In() say where it was missing.
    private static string Describe(Exception e) => e is KeyNotFoundException ? "a key it requires is missing" : e.Message;

    /// <summary>Runs <paramref name="read"/>, prefixing any data error with <paramref name="where"/> (e.g. "layer 2 (Conv2D)").</summary>
    private static T In<T>(string where, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (IsDataError(e)) { throw new InvalidDataException($"{where}: {Describe(e)}", e); }
    }

    private const string Top = "the file's top level";

    private static Model Read(JsonElement root, ReadOnlySpan<byte> floatBytes, uint version, string source, Model? into = null)
    {
        int floatCount = floatBytes.Length / 4;
        Model model;
        // The architecture's weights are allocated as layers are built: cap them by what the file holds, so that a
        // small file cannot claim gigabytes.
        using (Layer.LimitWeights(floatCount))
            model = into != null ? BuildForWeights(into, ConfigJson.Required(root, "model", Top), floatCount)
                : BuildModel(ConfigJson.Required(root, "model", Top), floatCount, source);

        var floats = new float[floatCount];
        for (int i = 0; i < floats.Length; i++) floats[i] = BinaryPrimitives.ReadSingleLittleEndian(floatBytes[(i * 4)..]);
        int offset = 0;
        float[] Take(int[] shape, string what)
        {
            long n = ShapeUtil.Count(what, shape);
            if (n > floats.Length - offset)
                throw new InvalidDataException($"{what} has shape {ShapeUtil.Format(shape)} ({n:N0} floats) but the file holds only {floats.Length - offset:N0} more floats.");
            var taken = floats.AsSpan(offset, (int)n).ToArray();
            offset += (int)n;
            return taken;
        }

        var variables = model.Variables;
        var manifest = ConfigJson.Items(root, "weights", Top).ToList();
        if (manifest.Count != variables.Count)
            throw new InvalidDataException($"the architecture has {variables.Count} weights but the file lists {manifest.Count}.");
        if (into != null) // LoadWeights into a live model: check every shape before changing any weight
            for (int i = 0; i < variables.Count; i++)
                if (!ShapeUtil.SameShape(ConfigJson.Ints(manifest[i], "shape", $"weights[{i}]"), variables[i].ShapeRef))
                    throw new InvalidDataException($"weight '{variables[i].Name}' has shape {ShapeUtil.Format(variables[i].ShapeRef)} in model '{into.Name}' but {ShapeUtil.Format(ConfigJson.Ints(manifest[i], "shape", $"weights[{i}]"))} in the file.");
        for (int i = 0; i < variables.Count; i++)
        {
            int[] shape = ConfigJson.Ints(manifest[i], "shape", $"weights[{i}]");
            if (!ShapeUtil.SameShape(shape, variables[i].ShapeRef))
                throw new InvalidDataException($"weight '{variables[i].Name}' has shape {ShapeUtil.Format(variables[i].ShapeRef)} in the architecture but {ShapeUtil.Format(shape)} in the file.");
            variables[i].Assign(Tensor.FromArray(Take(shape, $"weight '{variables[i].Name}'"), shape));
        }
        if (into != null) return model; // weights only: the optimizer's state and configuration are the model's own
        if (root.TryGetProperty("compile", out var compile) && compile.ValueKind == JsonValueKind.Object)
        {
            var optimizerJson = ConfigJson.Required(compile, "optimizer", "compile");
            string optimizerClass = ConfigJson.ClassName(optimizerJson, "compile.optimizer");
            var optimizer = In($"compile.optimizer ({Excerpt.Of(optimizerClass)})", () => Optimizer.FromConfig(optimizerClass, ConfigJson.Config(optimizerJson, "compile.optimizer")));
            var lossJson = ConfigJson.Required(compile, "loss", "compile");
            string lossClass = ConfigJson.ClassName(lossJson, "compile.loss");
            var loss = In($"compile.loss ({Excerpt.Of(lossClass)})", () => Loss.FromConfig(lossClass, ConfigJson.Config(lossJson, "compile.loss")));
            var metrics = ConfigJson.Items(compile, "metrics", "compile").Select(m => ConfigJson.Text(m, "compile.metrics")).ToList();
            var losses = new List<Loss> { loss };
            if (ConfigJson.TryGet(compile, "losses", out var many) && many.ValueKind != JsonValueKind.Null)
                losses = [.. ConfigJson.Items(compile, "losses", "compile").Select((l, k) =>
                {
                    string at = $"compile.losses[{k}]", name = ConfigJson.ClassName(l, at);
                    return In($"{at} ({Excerpt.Of(name)})", () => Loss.FromConfig(name, ConfigJson.Config(l, at)));
                })];
            float[]? weights = ConfigJson.TryGet(compile, "loss_weights", out var w) && w.ValueKind != JsonValueKind.Null
                ? [.. ConfigJson.Items(compile, "loss_weights", "compile").Select(e => In("compile.loss_weights", () => e.GetSingle()))]
                : null;
            List<string>? weightedMetrics = ConfigJson.TryGet(compile, "weighted_metrics", out var wm) && wm.ValueKind != JsonValueKind.Null
                ? [.. ConfigJson.Items(compile, "weighted_metrics", "compile").Select(m => ConfigJson.Text(m, "compile.weighted_metrics"))]
                : null;
            In("compile", () => { model.Compile(optimizer, losses, weights, metrics, weightedMetrics); return model; });
            InvalidDataException Bad(string what) => new(what);
            if (version == 1) RestoreFormat1OptimizerState(root, model, optimizer, floats, ref offset, source);
            else RestoreOptimizerState(ConfigJson.Required(root, "optimizer_state", Top), variables, optimizer, floats, ref offset, Bad);
        }
        if (offset != floats.Length) throw new InvalidDataException($"the file holds {floats.Length:N0} floats but the model and optimizer use {offset:N0}.");
        ReadMetadata(root, model);
        return model;
    }

    /// <summary>
    /// Reads the optional <c>metadata</c> object (absent from files saved without metadata, and from every file
    /// written before it existed) into <see cref="Model.Metadata"/>: string values only, kept as text.
    /// </summary>
    private static void ReadMetadata(JsonElement root, Model model)
    {
        if (!ConfigJson.TryGet(root, "metadata", out var metadata) || metadata.ValueKind == JsonValueKind.Null) return;
        if (metadata.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"key 'metadata': expected an object of strings. Received: {ConfigJson.Quote(metadata)}");
        foreach (var entry in metadata.EnumerateObject())
        {
            string key = In("key 'metadata'", () => entry.Name);
            model.Metadata[key] = ConfigJson.Text(entry.Value, $"key 'metadata', entry '{Excerpt.Of(key)}'");
        }
    }

    /// <summary>Rebuilds the optimizer's slots for the variables the file names, in the order they were built.</summary>
    private static void RestoreOptimizerState(JsonElement saved, IReadOnlyList<Variable> variables, Optimizer optimizer,
        float[] floats, ref int offset, Func<string, InvalidDataException> bad)
    {
        const string At = "optimizer_state";
        string[] names = [.. ConfigJson.Items(saved, "slot_names", At).Select(e => ConfigJson.Text(e, $"{At}.slot_names"))];
        if (!names.SequenceEqual(optimizer.SavedSlotNames))
            throw bad($"the optimizer state has slots [{string.Join(", ", names)}] but its {optimizer.GetType().Name} configuration has [{string.Join(", ", optimizer.SavedSlotNames)}].");
        var state = new List<(Variable, float[][])>();
        var seen = new HashSet<int>();
        foreach (int position in ConfigJson.Ints(saved, "variables", At))
        {
            if (position < 0 || position >= variables.Count || !seen.Add(position))
                throw bad($"the optimizer state names weight {position}, but the file has {variables.Count} weights (0 to {variables.Count - 1}), each named at most once.");
            var v = variables[position];
            if (offset + (long)names.Length * v.Size > floats.Length)
                throw bad($"the file holds {floats.Length} floats, too few for the optimizer slots of weight '{v.Name}'.");
            var arrays = new float[names.Length][];
            for (int s = 0; s < names.Length; s++, offset += v.Size) arrays[s] = floats.AsSpan(offset, v.Size).ToArray();
            state.Add((v, arrays));
        }
        long iterations = In($"{At}.iterations", () => ConfigJson.Required(saved, "iterations", At).GetInt64());
        if (iterations < 0) throw bad($"the optimizer state's iteration count is {iterations}; expected 0 or more.");
        optimizer.Restore(iterations, state);
    }

    /// <summary>
    /// Format 1 saved the iteration count and then each slot of every variable the optimizer had built, without saying
    /// which variables those were; it could only be read back when they were the model's trainable variables. Those
    /// files, and those with no slots yet, are restored exactly; any other is loaded with a fresh optimizer and a
    /// warning, as Keras skips optimizer variables that do not match the model.
    /// </summary>
    private static void RestoreFormat1OptimizerState(JsonElement root, Model model, Optimizer optimizer, float[] floats, ref int offset, string source)
    {
        var items = ConfigJson.Items(root, "optimizer_variables", Top).ToList();
        var shapes = items.Select((e, i) => ConfigJson.IntArray(e, $"optimizer_variables[{i}]")).ToList();
        if (shapes.Count == 0) return;
        int start = offset;
        long total = shapes.Sum(shape => ShapeUtil.Count("an optimizer variable", shape));
        if (total > floats.Length - offset)
            throw new InvalidDataException($"the optimizer variables take {total:N0} floats but the file holds only {floats.Length - offset:N0} more floats.");
        offset += (int)total;
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

    /// <summary>
    /// Readies <paramref name="model"/> to receive the file's weights: a built model is taken as it is; an unbuilt one
    /// (a fresh instance of a subclassed model) has each layer built for the input shape the file says it was built for,
    /// which needs the file to list as many layers as the model has.
    /// </summary>
    private static Model BuildForWeights(Model model, JsonElement described, long floatCount)
    {
        if (model.Built) return model;
        var config = ConfigJson.Config(described, "model");
        if (ConfigJson.TryGet(config, "build_input_shapes", out var several) && several.ValueKind == JsonValueKind.Array)
        {
            // A subclassed model with several inputs: its forward pass on one shape per input.
            List<int[]> inputs = [.. several.EnumerateArray().Select((e, k) => ConfigJson.IntArray(e, $"model.config: build_input_shapes[{k}]"))];
            In($"model '{model.Name}' built for input shapes {string.Join(", ", inputs.Select(s => ShapeUtil.Format(s)))}", () => { model.Build(inputs); return model; });
            if (model.Built) return model;
        }
        else if (ConfigJson.TryGet(config, "build_input_shape", out var saved) && saved.ValueKind == JsonValueKind.Array)
        {
            // A subclassed model's file: its forward pass on that shape builds every layer as Fit would.
            int[] input = ConfigJson.Ints(config, "build_input_shape", "model.config");
            In($"model '{model.Name}' built for input shape {ShapeUtil.Format(input)}", () => { model.Build(input); return model; });
            if (model.Built) return model;
        }
        var items = ConfigJson.Items(config, "layers", "model.config").ToList();
        var layers = model.Layers;
        if (items.Count != layers.Count)
            throw new InvalidDataException($"model '{model.Name}' is not built and has {layers.Count} layers, but the file lists {items.Count}; build it first (call it on data, or Build(inputShape)) so its weights can be matched.");
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i].Built) continue;
            if (!ConfigJson.TryGet(items[i], "build_input_shape", out _))
                throw new InvalidDataException($"model '{model.Name}' is not built and the file does not say the input shape of layer {i} ('{layers[i].Name}'); build it first (call it on data, or Build(inputShape)).");
            int[] shape = ConfigJson.Ints(items[i], "build_input_shape", $"layer {i}");
            var layer = layers[i];
            In($"layer {i} ('{Excerpt.Of(layer.Name)}') built for input shape {ShapeUtil.Format(shape)} with the {floatCount:N0} floats the file holds",
                () => { layer.EnsureBuilt(shape); return layer; });
        }
        return model;
    }

    private static Model BuildModel(JsonElement described, long floatCount, string source)
    {
        string cls = ConfigJson.ClassName(described, "model");
        if (cls == nameof(Model))
        {
            // A subclassed model: its forward pass is code in the user's class, which a loader must never instantiate.
            var saved = ConfigJson.Config(described, "model");
            string subclass = ConfigJson.TryGet(saved, "subclass", out var c) && c.ValueKind == JsonValueKind.String ? Excerpt.Of(c.GetString()!) : "?";
            // InvalidDataException, as for every file Load cannot rebuild (the loaders' one exception type).
            throw new InvalidDataException($"it was saved from the subclassed model class '{subclass}', whose forward pass is that class's code, and Model.Load never creates a class a file names. Construct the class (new {subclass.Split('.')[^1]}(…)) and call model.LoadWeights(\"{source}\").");
        }
        if (cls != nameof(Sequential) && cls != nameof(Functional))
            throw new InvalidDataException($"unknown model class '{Excerpt.Of(cls)}'; expected 'Sequential' or 'Functional'.");
        var config = ConfigJson.Config(described, "model");
        var layers = new List<Layer>();
        var shapes = new List<int[]?>();
        var items = ConfigJson.Items(config, "layers", "model.config").ToList();
        foreach (var l in items)
        {
            string at = $"layer {layers.Count}";
            string layerClass = ConfigJson.ClassName(l, at);
            var layer = In($"{at} ({Excerpt.Of(layerClass)})", () => ConfigRegistry.Layers.Create(layerClass, ConfigJson.Config(l, at)));
            if (ConfigJson.TryGet(l, "random_state", out var state))
            {
                var generator = layer.Generator ?? throw new InvalidDataException($"{at} ({layer.GetType().Name}) has a random state in the file but draws no random numbers.");
                string key = $"{at} ({layer.GetType().Name}): key 'random_state'";
                if (state.ValueKind != JsonValueKind.Array || state.GetArrayLength() != 4)
                    throw new InvalidDataException($"{key}: expected 4 unsigned 32-bit integers. Received: {ConfigJson.Quote(state)}");
                uint[] words = [.. state.EnumerateArray().Select(e => ConfigJson.UInt(e, key))];
                In(key, () => generator.State = words); // refuses the all-zero state
            }
            layers.Add(layer);
            shapes.Add(ConfigJson.TryGet(l, "build_input_shape", out _) ? ConfigJson.Ints(l, "build_input_shape", at) : null);
        }
        if (cls == nameof(Functional)) return BuildGraph(config, items, layers);
        var model = In("model.config", () => new Sequential(layers, ConfigJson.String(config, "name")));
        for (int i = 0; i < layers.Count; i++)
            if (shapes[i] is { } shape)
                In($"layer {i} ('{Excerpt.Of(layers[i].Name)}') built for input shape {ShapeUtil.Format(shape)} with the {floatCount:N0} floats the file holds",
                    () => { layers[i].EnsureBuilt(shape); return layers[i]; });
        return model;
    }
}
