using Cortex.Activations;
using Cortex.Layers;
using Cortex.Models;
using Cortex.Onnx.Proto;
using Google.Protobuf;

namespace Cortex.Onnx;

/// <summary>
/// Reads an ONNX file into a Cortex <see cref="Sequential"/> model that predicts what the file computes, can be trained
/// further, saved as <c>.cortex</c> and summarised: <c>var model = OnnxImporter.Load("mlp.onnx");</c>.
/// </summary>
/// <remarks>
/// <para>Imports graphs that are a chain of the ops <c>torch.onnx.export</c> writes for PyTorch's usual modules, and
/// those <see cref="OnnxExporter"/> writes: Gemm and MatMul (+ Add) as Dense; Conv as Conv2D (pads that are Keras's
/// "valid" or "same"; <c>group</c> as Conv2D's groups, or DepthwiseConv2D with one input channel per group);
/// ConvTranspose as Conv2DTranspose (Keras's "valid" or "same", with or without outputPadding; other pads as "valid"
/// and a Cropping2D); MaxPool and AveragePool; GlobalAveragePool; BatchNormalization (inference form); Flatten;
/// Reshape with a constant shape; Transpose; Relu, Sigmoid, Tanh, LeakyRelu, Elu, Selu, Softplus, Softmax on the
/// last (channel) axis, Pad with zeros as ZeroPadding2D, Slice as Cropping2D, Resize by whole factors as UpSampling2D,
/// LayerNormalization over the last axis, Clip(0, 6) as relu6, Clip(0, max) and Cortex's Where form as the ReLU layer, x·Sigmoid(x) as silu, Softsign or x/(1 + |x|) as softsign, HardSigmoid (α 1/6, β ½) as hard_sigmoid,
/// HardSwish or x·HardSigmoid(x) as hard_silu, Mish or x·Tanh(Softplus(x)) as mish, Gelu or ½x(1 + Erf(x/√2)) as gelu; Sub and Div by constants after the input as
/// Normalization; Cast + Gather as Embedding; Dropout and Identity (left out); RNN, LSTM and GRU (forward, reverse or
/// bidirectional, zero initial states, as Cortex and torch.onnx write them) as SimpleRNN, LSTM, GRU and Bidirectional,
/// torch's <c>out[:, -1]</c> as returnSequences false and <c>.mean(dim=1)</c> (ReduceMean over the steps) as
/// GlobalAveragePooling1D; Conv, MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool
/// on (N, C, W) sequences as the 1-D layers; Cortex's Masking pattern as Masking. An activation right after a Dense or
/// Conv2D becomes that layer's activation.</para>
/// <para>Layouts: Cortex's layers are channels-last, ONNX's image ops channels-first. A model exported from PyTorch
/// keeps its NCHW input: the imported model starts with <c>Permute([2, 3, 1])</c> and, before a Flatten, permutes back,
/// so its Predict takes the same tensor and flattens in the same order as PyTorch. A model exported by Cortex imports
/// to the same layers (its boundary Transposes cancel) and predicts the same bits.</para>
/// <para>Anything else is refused with a <see cref="NotSupportedException"/> naming the node, its op type and the
/// opset; a damaged or hostile file with an <see cref="InvalidDataException"/> naming what is wrong, before any weight
/// is allocated from a length the file claims. Graphs with branches (several inputs or outputs, merges of computed
/// values by Add, Sub, Mul, Max, Min or Concat) read into a <see cref="Functional"/> with <see cref="LoadModel(string)"/>.</para>
/// </remarks>
/// <example>
/// <code>
/// var model = OnnxImporter.Load("cnn.onnx");              // from torch.onnx.export
/// model.Summary();
/// model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
/// model.Fit(x, y, epochs: 1);                              // fine-tune
/// model.Save("cnn.cortex");
/// </code>
/// </example>
public static class OnnxImporter
{
    /// <summary>Reads the ONNX file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid ONNX model; the message names the file and what is wrong.</exception>
    /// <exception cref="NotSupportedException">An op, or a use of it, has no Cortex layer; the message names the node.</exception>
    public static Sequential Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Load(File.ReadAllBytes(path), Path.GetFileName(path));
    }

    /// <summary>Reads the ONNX file at <paramref name="path"/> as a <see cref="Sequential"/> when its graph is a chain,
    /// and as a <see cref="Functional"/> otherwise (several inputs or outputs, branches that merge).</summary>
    /// <exception cref="InvalidDataException">The file is not a valid ONNX model.</exception>
    /// <exception cref="NotSupportedException">An op, or a use of it, has no Cortex layer; the message names the node.</exception>
    public static Model LoadModel(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return LoadModel(File.ReadAllBytes(path), Path.GetFileName(path));
    }

    /// <summary>Reads an ONNX model from its bytes as <see cref="LoadModel(string)"/> does.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid ONNX model.</exception>
    /// <exception cref="NotSupportedException">An op, or a use of it, has no Cortex layer.</exception>
    public static Model LoadModel(byte[] bytes, string source = "ONNX model")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var proto = Parse(bytes, source);
        try
        {
            var g = proto.Graph;
            if (g == null || (g.Output.Count == 1 && g.Input.Count(i => !g.Initializer.Any(t => t.Name == i.Name)) == 1))
            {
                // A chain reads as a Sequential (with silu, Masking and other patterns whose values branch for a node or two).
                try { return new ChainReader(proto, source).Read(); }
                catch (NotSupportedException) when (HasBranches(g!)) { }
            }
            return new GraphReader(proto, source).Read();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>Whether a computed value of <paramref name="g"/> is read by two nodes.</summary>
    private static bool HasBranches(GraphProto g)
    {
        var constants = new HashSet<string>(g.Initializer.Select(t => t.Name));
        return g.Node.SelectMany(n => n.Input.Where(i => i != "" && !constants.Contains(i)).Distinct()).GroupBy(v => v).Any(v => v.Count() > 1);
    }

    /// <summary>Reads an ONNX model from its bytes; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid ONNX model.</exception>
    /// <exception cref="NotSupportedException">An op, or a use of it, has no Cortex layer.</exception>
    public static Sequential Load(byte[] bytes, string source = "ONNX model")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var proto = Parse(bytes, source);
        try
        {
            return new ChainReader(proto, source).Read();
        }
        catch (ArgumentException e)
        {
            // A layer refused what the file describes (zero units, a shape it cannot take): the file is at fault.
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    private static ModelProto Parse(byte[] bytes, string source)
    {
        ModelProto proto;
        try
        {
            // From a byte array every length-delimited field is checked against the bytes that remain, so a lying length
            // fails here instead of allocating; the default recursion limit bounds nesting.
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source}: not an ONNX model ({e.Message})", e);
        }
        return proto;
    }
}

/// <summary>Turns a chain-shaped ONNX graph into Sequential layers.</summary>
internal sealed partial class ChainReader
{
    private readonly ModelProto model;
    private readonly string source;
    private readonly long opset;
    private readonly Dictionary<string, (float[] Data, long[] Dims)> constants = [];
    private readonly List<Layer> layers = [];
    private readonly List<Tensor[]> weights = [];
    private string current = "";      // the ONNX name of the chain's live value
    private bool nchw;                // the live ONNX value is the Cortex tensor permuted to NCHW
    private int[] shape = [];         // the Cortex shape of the live value (batch −1)
    private Pending? pending;         // a Dense or Conv2D that may still take a bias or an activation

    private sealed class Pending(string kind, Tensor kernel, string name)
    {
        public readonly string Kind = kind;
        public readonly Tensor Kernel = kernel;
        public readonly string Name = name;
        public Tensor? Bias;
        public ActivationFunction Activation = ActivationFunction.Linear;
        public Func<ActivationFunction, bool, Layer>? Make; // (activation, useBias) → the layer
        public Layer? After;                                 // a weightless layer that follows it (a transposed convolution's crop)
    }

    public ChainReader(ModelProto model, string source)
    {
        this.model = model;
        this.source = source;
        if (model.Graph == null) throw Bad("the model has no graph");
        opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset == 0) throw Bad("the model imports no version of the standard ONNX operator set");
    }

    private InvalidDataException Bad(string what) => new($"{source}: {what}.");

    private NotSupportedException Unsupported(NodeProto node, string what) =>
        new($"ONNX import ({source}): node '{node.Name}' ({node.OpType}, opset {opset}) {what}.");

    public Sequential Read()
    {
        var graph = model.Graph;
        foreach (var t in graph.Initializer) AddConstant(t);
        var inputs = graph.Input.Where(i => !constants.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1) throw new NotSupportedException($"ONNX import ({source}): the graph has {inputs.Count} inputs; Load reads one; LoadModel reads several into a Functional.");
        if (graph.Output.Count != 1) throw new NotSupportedException($"ONNX import ({source}): the graph has {graph.Output.Count} outputs; Cortex imports one.");
        current = inputs[0].Name;
        shape = InputShape(inputs[0]);
        layers.Add(new Input(shape[1..], "input"));
        weights.Add([]);
        var consumers = graph.Node.SelectMany(n => n.Input).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        CheckOrder(graph);
        FindZeroStates(graph);
        for (int i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            if (node.OpType == "Constant") { AddConstantNode(node); continue; }
            if (shapeNodes.Contains(i)) continue;
            if (ActivationPattern(graph, i, consumers) is var (f, last))
            {
                for (int k = i + 1; k < last; k++)
                    if (graph.Node[k].OpType == "Constant") AddConstantNode(graph.Node[k]);   // the pattern's 1, √2, ½
                Activate(graph.Node[last], f);
                current = graph.Node[last].Output[0];
                i = last;
                continue;
            }
            if (node.OpType == "ReduceLogSumExp" && SoftmaxAt(graph, i, consumers) is int softmaxEnd)
            {
                i = softmaxEnd;
                continue;
            }
            if (node.OpType == "Greater" && ReluAt(graph, i, consumers) is int end)
            {
                i = end;
                continue;
            }
            if (node.OpType == "Equal" && MaskingAt(graph, i, consumers))
            {
                i += 4;
                continue;
            }
            Node(node, consumers);
        }
        Flush();
        CheckSequenceEnd();
        if (current != graph.Output[0].Name) throw Bad($"the output '{graph.Output[0].Name}' is not the end of the chain of nodes");
        if (nchw) Add(ChannelsPermute(toFirst: true), []);
        var result = new Sequential(layers, string.IsNullOrEmpty(graph.Name) ? null : SafeName(graph.Name));
        for (int i = 0; i < layers.Count; i++)
            if (weights[i].Length > 0) layers[i].SetWeights(weights[i]);
        return result;
    }

    /// <summary>
    /// An activation the exporters write as several nodes that read the chain's value twice, starting at node
    /// <paramref name="i"/>: x·Sigmoid(x) (silu), x·HardSigmoid(x) (hard_silu), x·Tanh(Softplus(x)) (mish), x/(1 + |x|) (softsign), and GELU's
    /// ½·x·(1 + Erf(x/√2)) as torch.onnx writes it (Div, Erf, Add, Mul, Mul). Returns the function and the index of the pattern's last node.
    /// </summary>
    private (ActivationFunction, int)? ActivationPattern(GraphProto graph, int i, Dictionary<string, int> consumers)
    {
        var span = new List<int>();   // the next nodes that are not Constant (torch.onnx puts a pattern's constants between them)
        for (int k = i; k < graph.Node.Count && span.Count < 5; k++)
            if (graph.Node[k].OpType != "Constant") span.Add(k);
        NodeProto? At(int k) => k < span.Count ? graph.Node[span[k]] : null;
        bool Single(NodeProto n) => n.Output.Count == 1 && consumers.GetValueOrDefault(n.Output[0]) == 1;
        bool Reads(NodeProto? n, string op, string a) => n != null && n.OpType == op && n.Output.Count == 1 && n.Input.Count >= 1 && n.Input.Contains(a);
        bool TimesX(NodeProto? mul, NodeProto last) => mul is { OpType: "Mul", Input.Count: 2 } && Single(last) && mul.Input.Contains(last.Output[0]) && mul.Input.Contains(current);
        float ScalarOf(string name)
        {
            if (constants.TryGetValue(name, out var c)) return c.Data.Length == 1 ? c.Data[0] : float.NaN;
            var t = graph.Node.Skip(i).Take(span.Count > 0 ? span[^1] - i + 1 : 0).FirstOrDefault(n => n.OpType == "Constant" && n.Output.Count == 1 && n.Output[0] == name)
                ?.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
            if (t == null || t.DataType != (int)TensorProto.Types.DataType.Float || t.Dims.Any(d => d != 1)) return float.NaN;
            return t.RawData.Length == 4 ? BitConverter.ToSingle(t.RawData.Span) : t.FloatData.Count == 1 ? t.FloatData[0] : float.NaN;
        }
        bool ConstantIs(NodeProto n, float value, float tolerance) =>
            n.Input.Count == 2 && n.Input.Any(x => x != current && MathF.Abs(ScalarOf(x) - value) <= tolerance);
        var first = graph.Node[i];
        if (first.Input.Count == 0 || first.Input[0] != current) return null;
        if (first.OpType == "Sigmoid" && TimesX(At(1), first)) return (ActivationFunction.Silu, span[1]);
        if (first.OpType == "HardSigmoid" && IsKerasHardSigmoid(first) && TimesX(At(1), first)) return (ActivationFunction.HardSilu, span[1]);
        if (first.OpType == "Abs" && Single(first) && Reads(At(1), "Add", first.Output[0]) && ConstantIs(At(1)!, 1f, 0f) && Single(At(1)!)
            && At(2) is { OpType: "Div", Input.Count: 2 } div && div.Input[0] == current && div.Input[1] == At(1)!.Output[0])
            return (ActivationFunction.Softsign, span[2]);
        if (first.OpType == "Softplus" && Single(first) && Reads(At(1), "Tanh", first.Output[0]) && TimesX(At(2), At(1)!)) return (ActivationFunction.Mish, span[2]);
        if (first.OpType is "Div" or "Mul" && Single(first) && ConstantIs(first, first.OpType == "Div" ? MathF.Sqrt(2f) : 1f / MathF.Sqrt(2f), 1e-6f)
            && Reads(At(1), "Erf", first.Output[0]) && Single(At(1)!) && Reads(At(2), "Add", At(1)!.Output[0]) && ConstantIs(At(2)!, 1f, 0f)
            && TimesX(At(3), At(2)!) && Single(At(3)!) && Reads(At(4), "Mul", At(3)!.Output[0]) && ConstantIs(At(4)!, 0.5f, 0f))
            return (ActivationFunction.Gelu(), span[4]);
        return null;
    }

    /// <summary>
    /// A softmax over several axes as <see cref="OnnxExporter"/> writes it: ReduceLogSumExp(x, axes, keepdims), Sub(x, ·),
    /// Exp. Adds a Softmax layer and returns the Exp's index when node i starts that (on a value held in Cortex's layout).
    /// </summary>
    private int? SoftmaxAt(GraphProto graph, int i, Dictionary<string, int> consumers)
    {
        var lse = graph.Node[i];
        if (i + 2 >= graph.Node.Count || nchw || lse.Input.Count == 0 || lse.Input[0] != current || lse.Output.Count != 1
            || consumers.GetValueOrDefault(lse.Output[0]) != 1 || Int(lse, "keepdims", 1) != 1) return null;
        var (sub, exp) = (graph.Node[i + 1], graph.Node[i + 2]);
        if (sub is not { OpType: "Sub", Input.Count: 2 } || sub.Input[0] != current || sub.Input[1] != lse.Output[0] || sub.Output.Count != 1
            || consumers.GetValueOrDefault(sub.Output[0]) != 1 || exp is not { OpType: "Exp", Input.Count: 1 } || exp.Input[0] != sub.Output[0] || exp.Output.Count != 1)
            return null;
        long[] axes = lse.Input.Count > 1 && lse.Input[1] != "" ? (constants.TryGetValue(lse.Input[1], out var a) ? [.. a.Data.Select(v => (long)v)] : []) : Ints(lse, "axes");
        int rank = shape.Length;
        int[] positions = [.. axes.Select(x => (int)(x < 0 ? x + rank : x))];
        if (positions.Length == 0 || positions.Any(p => p <= 0 || p >= rank) || positions.Distinct().Count() != positions.Length) return null;
        Flush();
        Add(new Layers.Softmax(positions), []);
        current = exp.Output[0];
        return i + 2;
    }

    /// <summary>
    /// A ReLU layer with a threshold as <see cref="OnnxExporter"/> writes it: Greater(x, t), Min(x, max) (when it has
    /// one), Sub(t, x), Mul(s, ·), Sub(0, ·), Where. Adds the layer and returns the Where's index when node i starts that.
    /// </summary>
    private int? ReluAt(GraphProto graph, int i, Dictionary<string, int> consumers)
    {
        float ScalarOf(string name) => constants.TryGetValue(name, out var c) && c.Data.Length == 1 ? c.Data[0] : float.NaN;
        bool Single(NodeProto n) => n.Output.Count == 1 && consumers.GetValueOrDefault(n.Output[0]) == 1;
        var greater = graph.Node[i];
        if (greater.Input.Count != 2 || greater.Input[0] != current || !Single(greater)) return null;
        float t = ScalarOf(greater.Input[1]), max = float.PositiveInfinity;
        int k = i + 1;
        NodeProto? Next() => k < graph.Node.Count ? graph.Node[k++] : null;
        var n = Next();
        string kept = current;
        if (n is { OpType: "Min", Input.Count: 2 } && n.Input[0] == current && Single(n))
        {
            max = ScalarOf(n.Input[1]);
            kept = n.Output[0];
            n = Next();
        }
        if (n is not { OpType: "Sub", Input.Count: 2 } diff || diff.Input[1] != current || ScalarOf(diff.Input[0]) != t || !Single(diff)) return null;
        if (Next() is not { OpType: "Mul", Input.Count: 2 } mul || mul.Input[1] != diff.Output[0] || !Single(mul)) return null;
        float s = ScalarOf(mul.Input[0]);
        if (Next() is not { OpType: "Sub", Input.Count: 2 } negate || ScalarOf(negate.Input[0]) != 0 || negate.Input[1] != mul.Output[0] || !Single(negate)) return null;
        if (Next() is not { OpType: "Where", Input.Count: 3, Output.Count: 1 } where || where.Input[0] != greater.Output[0] || where.Input[1] != kept || where.Input[2] != negate.Output[0]) return null;
        if (!(t >= 0) || !(s >= 0) || !(max >= 0) || float.IsInfinity(t) || float.IsInfinity(s)) return null;
        Flush();
        Add(new ReLU(float.IsPositiveInfinity(max) ? null : max, s, t), []);
        current = where.Output[0];
        return k - 1;
    }

    /// <summary>Keras's hard_sigmoid is relu6(x + 3)/6: HardSigmoid with α = 1/6 and β = ½ (PyTorch's Hardsigmoid too).</summary>
    private static bool IsKerasHardSigmoid(NodeProto node) =>
        MathF.Abs(Float(node, "alpha", 0.2f) - 1f / 6f) <= 1e-6f && MathF.Abs(Float(node, "beta", 0.5f) - 0.5f) <= 1e-6f;

    /// <summary>Keras's Masking as <see cref="OnnxExporter"/> writes it: Equal(x, v) → Not → Cast → ReduceMax(last
    /// axis, keepdims) → Mul(x, ·); adds the layer and returns true when nodes i…i+4 are that.</summary>
    private bool MaskingAt(GraphProto graph, int i, Dictionary<string, int> consumers)
    {
        if (i + 4 >= graph.Node.Count || shape.Length != 3 || nchw || sequence != Sequence.BatchMajor) return false;
        var (equal, not, cast, max, mul) = (graph.Node[i], graph.Node[i + 1], graph.Node[i + 2], graph.Node[i + 3], graph.Node[i + 4]);
        bool Feeds(NodeProto from, NodeProto to) => from.Output.Count == 1 && to.Input.Count >= 1 && to.Input[0] == from.Output[0] && consumers.GetValueOrDefault(from.Output[0]) == 1;
        if (equal.Input.Count != 2 || equal.Input[0] != current || !constants.TryGetValue(equal.Input[1], out var v) || v.Data.Length != 1
            || not.OpType != "Not" || cast.OpType != "Cast" || max.OpType != "ReduceMax" || mul.OpType != "Mul" || mul.Input.Count != 2 || mul.Output.Count != 1
            || !Feeds(equal, not) || !Feeds(not, cast) || !Feeds(cast, max) || mul.Input[0] != current || mul.Input[1] != max.Output[0] || consumers.GetValueOrDefault(max.Output[0]) != 1
            || Int(cast, "to", 0) != (long)TensorProto.Types.DataType.Float || Int(max, "keepdims", 1) != 1)
            return false;
        long[] axes = max.Input.Count > 1 && max.Input[1] != "" ? [.. (constants.TryGetValue(max.Input[1], out var a) ? a.Data : [0f]).Select(x => (long)x)] : Ints(max, "axes");
        if (axes is not ([-1] or [2])) return false;
        Flush();
        Add(new Masking(v.Data[0]), []);
        current = mul.Output[0];
        return true;
    }

    private static string SafeName(string name) => new([.. name.Take(64).Select(c => char.IsLetterOrDigit(c) || c is '_' or '-' ? c : '_')]);

    /// <summary>Nodes must come in topological order (ONNX requires it): every input defined before it is read.</summary>
    private void CheckOrder(GraphProto graph)
    {
        var defined = new HashSet<string>(constants.Keys) { current, "" };
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input)
                if (!defined.Contains(input))
                    throw Bad($"node '{node.Name}' ({node.OpType}) reads '{input}', which no initializer, input or earlier node defines (a cycle, a missing initializer, or nodes out of order)");
            foreach (var output in node.Output) defined.Add(output);
        }
    }

    private int[] InputShape(ValueInfoProto input) => Shape(input, source);

    /// <summary>The Cortex shape (batch −1) of a graph input: float, fixed sizes after the batch axis.</summary>
    internal static int[] Shape(ValueInfoProto input, string source)
    {
        InvalidDataException Bad(string what) => new($"{source}: {what}.");
        var dims = input.Type?.TensorType?.Shape?.Dim ?? throw Bad($"the input '{input.Name}' has no tensor shape");
        if (input.Type.TensorType.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new NotSupportedException($"ONNX import ({source}): the input '{input.Name}' has element type {input.Type.TensorType.ElemType}; Cortex imports float inputs.");
        if (dims.Count < 2) throw Bad($"the input '{input.Name}' has rank {dims.Count}: expected a batch axis and at least one more");
        var result = new int[dims.Count];
        result[0] = -1;
        for (int i = 1; i < dims.Count; i++)
            result[i] = dims[i].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[i].DimValue is > 0 and <= 1 << 24
                ? (int)dims[i].DimValue
                : dims[i].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam && dims[i].DimParam.Length > 0 ? -1   // a size known when called
                : throw Bad($"the input '{input.Name}' dimension {i} is {(dims[i].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? $"'{dims[i].DimParam}'" : dims[i].DimValue.ToString())}: expected a fixed size in 1…16,777,216");
        return result;
    }

    private void AddConstant(TensorProto t)
    {
        if (string.IsNullOrEmpty(t.Name)) throw Bad("an initializer has no name");
        if (t.DataLocation != 0 || t.ExternalData.Count > 0)
            throw new NotSupportedException($"ONNX import ({source}): the initializer '{t.Name}' is stored outside the file (external data), which Cortex does not read.");
        long count = 1;
        foreach (long d in t.Dims)
        {
            if (d < 0 || (d > 0 && count > int.MaxValue / d)) throw Bad($"the initializer '{t.Name}' has shape ({string.Join(", ", t.Dims)}): not a valid size");
            count *= d;
        }
        float[] data;
        switch ((TensorProto.Types.DataType)t.DataType)
        {
            case TensorProto.Types.DataType.Float:
                data = t.RawData.Length > 0 ? Raw(t, count, 4, b => BitConverter.ToSingle(b)) : t.FloatData.Count == count ? [.. t.FloatData] : throw Count(t, count, t.FloatData.Count);
                break;
            case TensorProto.Types.DataType.Int64:
                data = t.RawData.Length > 0 ? Raw(t, count, 8, b => BitConverter.ToInt64(b)) : t.Int64Data.Count == count ? [.. t.Int64Data.Select(v => (float)v)] : throw Count(t, count, t.Int64Data.Count);
                break;
            case TensorProto.Types.DataType.Int32:
                data = t.RawData.Length > 0 ? Raw(t, count, 4, b => BitConverter.ToInt32(b)) : t.Int32Data.Count == count ? [.. t.Int32Data.Select(v => (float)v)] : throw Count(t, count, t.Int32Data.Count);
                break;
            default:
                throw new NotSupportedException($"ONNX import ({source}): the initializer '{t.Name}' has data type {t.DataType}; Cortex reads float, int32 and int64 tensors.");
        }
        constants[t.Name] = (data, [.. t.Dims]);
    }

    private InvalidDataException Count(TensorProto t, long expected, int received) =>
        Bad($"the initializer '{t.Name}' of shape ({string.Join(", ", t.Dims)}) holds {received} values: expected {expected}");

    private float[] Raw(TensorProto t, long count, int size, Func<ReadOnlySpan<byte>, float> read)
    {
        if (t.RawData.Length != count * size) throw Bad($"the initializer '{t.Name}' of shape ({string.Join(", ", t.Dims)}) has {t.RawData.Length} bytes of data: expected {count * size}");
        var bytes = t.RawData.Span;
        var result = new float[count];
        for (int i = 0; i < result.Length; i++) result[i] = read(bytes.Slice(i * size, size));
        return result;
    }

    private void AddConstantNode(NodeProto node)
    {
        var value = node.Attribute.FirstOrDefault(a => a.Name == "value")?.T ?? throw Unsupported(node, "has no tensor 'value' attribute");
        value.Name = node.Output[0];
        AddConstant(value);
    }

    private (float[] Data, long[] Dims) Constant(NodeProto node, int input) =>
        input < node.Input.Count && constants.TryGetValue(node.Input[input], out var c) ? c
            : throw Unsupported(node, $"takes a computed value as input {input}; Cortex imports it only when that input is a constant");

    private static AttributeProto? Attr(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);
    private static long Int(NodeProto node, string name, long fallback) => Attr(node, name) is { } a ? a.I : fallback;
    private static float Float(NodeProto node, string name, float fallback) => Attr(node, name) is { } a ? a.F : fallback;
    private static long[] Ints(NodeProto node, string name, params long[] fallback) => Attr(node, name) is { } a ? [.. a.Ints] : fallback;

    /// <summary>A 2-D window attribute (strides, dilations, kernel_shape): two sizes in 1…65,535.</summary>
    private long[] Pair(NodeProto node, string name, long fallback)
    {
        long[] v = Ints(node, name, fallback, fallback);
        if (v.Length != 2 || v.Any(d => d is < 1 or > 65535))
            throw Bad($"node '{node.Name}' ({node.OpType}) has {name} ({string.Join(", ", v)}): expected two sizes in 1…65,535");
        return v;
    }

    /// <summary>The node's one computed input must be the chain's live value; the others constants.</summary>
    private void RequireChain(NodeProto node)
    {
        bool recurrent = node.OpType is "RNN" or "LSTM" or "GRU";
        var computed = node.Input.Where(i => i != "" && !constants.ContainsKey(i) && !(recurrent && zeroStates.Contains(i))).Distinct().ToList();
        if (computed.Count != 1 || computed[0] != current)
            throw new NotSupportedException($"ONNX import ({source}): node '{node.Name}' ({node.OpType}) reads {string.Join(", ", computed.Select(c => $"'{c}'"))}, not only the chain's '{current}': LoadModel reads graphs with branches into a Functional.");
    }

    private static readonly HashSet<string> FoldingOps = ["Identity", "Dropout", "Cast", "Pad", "Relu", "Sigmoid", "Tanh", "Softplus", "Selu", "LeakyRelu", "Elu", "Clip", "Softmax", "Add",
        "Softsign", "HardSigmoid", "HardSwish", "Mish", "Gelu"];

    private void Node(NodeProto node, Dictionary<string, int> consumers)
    {
        ResumeTimeMajor(node);
        RequireChain(node);
        if (SequenceNode(node, consumers)) return;
        string op = node.OpType;
        if (!FoldingOps.Contains(op)) Flush(); // a Dense or Conv2D before it takes no more bias or activation
        switch (op)
        {
            case "Identity":
            case "Dropout":
                break;
            case "Relu": Activate(node, ActivationFunction.Relu); break;
            case "Sigmoid": Activate(node, ActivationFunction.Sigmoid); break;
            case "Tanh": Activate(node, ActivationFunction.Tanh); break;
            case "Softplus": Activate(node, ActivationFunction.Softplus); break;
            case "Selu":
                if (MathF.Abs(Float(node, "alpha", 1.6732632f) - 1.6732632f) > 1e-6f || MathF.Abs(Float(node, "gamma", 1.050701f) - 1.050701f) > 1e-6f)
                    throw Unsupported(node, "has alpha/gamma other than SELU's constants");
                Activate(node, ActivationFunction.Selu);
                break;
            case "LeakyRelu": Activate(node, ActivationFunction.LeakyRelu(Float(node, "alpha", 0.01f))); break;
            case "Elu": Activate(node, ActivationFunction.Elu(Float(node, "alpha", 1f))); break;
            case "Softsign": Activate(node, ActivationFunction.Softsign); break;
            case "HardSwish": Activate(node, ActivationFunction.HardSilu); break;
            case "Mish": Activate(node, ActivationFunction.Mish); break;
            case "HardSigmoid":
                if (!IsKerasHardSigmoid(node))
                    throw Unsupported(node, $"has alpha {Float(node, "alpha", 0.2f)} and beta {Float(node, "beta", 0.5f)}; Cortex's hard_sigmoid is alpha 1/6, beta 0.5");
                Activate(node, ActivationFunction.HardSigmoid);
                break;
            case "Gelu":
            {
                string approximate = Attr(node, "approximate") is { } a ? a.S.ToStringUtf8() : "none";
                if (approximate is not ("none" or "tanh")) throw Unsupported(node, $"has approximate \"{approximate}\"; ONNX allows \"none\" and \"tanh\"");
                Activate(node, ActivationFunction.Gelu(approximate == "tanh"));
                break;
            }
            case "Clip":
            {
                float lo = node.Input.Count > 1 && node.Input[1] != "" ? Constant(node, 1).Data.Single() : float.NegativeInfinity;
                float hi = node.Input.Count > 2 && node.Input[2] != "" ? Constant(node, 2).Data.Single() : float.PositiveInfinity;
                if (lo != 0 || !(hi >= 0) || float.IsPositiveInfinity(hi)) throw Unsupported(node, $"clips to [{lo}, {hi}]; Cortex imports Clip(0, max) (relu6, or a ReLU layer's maxValue)");
                if (hi == 6) Activate(node, ActivationFunction.Relu6);
                else
                {
                    Flush();
                    Add(new ReLU(maxValue: hi), []);
                }
                break;
            }
            case "Softmax":
            {
                long axis = Int(node, "axis", opset >= 13 ? -1 : 1), rank = shape.Length;
                if (axis < 0) axis += rank;
                bool last = nchw ? axis == 1 : axis == rank - 1;
                if (last) Activate(node, ActivationFunction.Softmax);
                else if (!nchw && axis > 0 && axis < rank)
                {
                    Flush();
                    Add(new Layers.Softmax([(int)axis]), []);
                }
                else throw Unsupported(node, $"normalises axis {axis} of a rank-{rank} value{(nchw ? " held channels first" : "")}; Cortex's softmax normalises axes after the batch axis");
                break;
            }
            case "Gemm": Gemm(node); break;
            case "MatMul": MatMul(node); break;
            case "Add": Add(node); break;
            case "Conv": Conv(node); break;
            case "ConvTranspose": ConvTranspose(node); break;
            case "MaxPool":
            case "AveragePool": Pool(node); break;
            case "GlobalAveragePool" or "GlobalMaxPool":
                if (shape.Length == 4 && op == "GlobalMaxPool") throw Unsupported(node, "max-pools images globally (Cortex has no GlobalMaxPooling2D)");
                if (shape.Length is not (3 or 4)) throw Unsupported(node, $"pools a rank-{shape.Length} value");
                if (shape.Length == 3 && op == "GlobalAveragePool") RequireNoMask(node);
                ToChannelsLast();
                Add(shape.Length == 4 ? new GlobalAveragePooling2D(keepDims: true)
                    : op == "GlobalMaxPool" ? new GlobalMaxPooling1D(keepDims: true) : new GlobalAveragePooling1D(keepDims: true), []);
                nchw = true; // (N, 1, 1, C) or (N, 1, C) held, ONNX's (N, C, 1, 1) or (N, C, 1)
                break;
            case "BatchNormalization": BatchNorm(node); break;
            case "Flatten":
                if (Int(node, "axis", 1) != 1) throw Unsupported(node, "flattens from an axis other than 1");
                ToOnnxOrder();
                Add(new Flatten(), []);
                break;
            case "Reshape":
            {
                var target = Constant(node, 1).Data;
                if (target.Length == 0 || target[0] is not (0 or -1)) throw Unsupported(node, "reshapes the batch axis");
                ToOnnxOrder();
                int[] t = [.. target.Skip(1).Select((d, i) => d == 0 && i + 1 < shape.Length ? shape[i + 1] : (int)d)];
                Add(new Reshape(t), []);
                break;
            }
            case "Transpose": Transpose(node); break;
            case "Pad":
                // torch.onnx writes AvgPool2d as Pad + AveragePool, the Pad adding nothing when the pool has no padding.
                if (Constant(node, 1).Data.Any(v => v != 0)) ZeroPad(node);
                break;
            case "Slice": Crop(node); break;
            case "Resize": UpSample(node); break;
            case "LayerNormalization": LayerNorm(node); break;
            case "Cast":
                break; // indices for a Gather (Embedding) arrive as floats in Cortex
            case "Gather":
            {
                var (table, dims) = Constant(node, 0);
                if (node.Input[0] == current || Int(node, "axis", 0) != 0 || dims.Length != 2) throw Unsupported(node, "is not a lookup of rows of a constant 2-D table");
                Add(new Embedding((int)dims[0], (int)dims[1]), [Tensor.FromArray(table, [(int)dims[0], (int)dims[1]])]);
                break;
            }
            case "ReduceMean" when shape.Length == 3 && !nchw:
            {
                // torch's x.mean(dim=1) over the steps of a sequence: GlobalAveragePooling1D.
                long[] axes = node.Input.Count > 1 && node.Input[1] != "" ? [.. Constant(node, 1).Data.Select(v => (long)v)] : Ints(node, "axes");
                if (axes is not ([1] or [-2]) || Int(node, "keepdims", 1) != 0) throw Unsupported(node, $"averages axes ({string.Join(", ", axes)}); Cortex imports the mean over the steps (axis 1) of a sequence");
                RequireNoMask(node);
                Add(new GlobalAveragePooling1D(), []);
                break;
            }
            case "Sub": Normalize(node, divide: false); break;
            case "Div": Normalize(node, divide: true); break;
            case "Mul": Normalize(node, divide: false, invert: true); break;
            default:
                throw Unsupported(node, "has no Cortex layer");
        }
        if (node.Output.Count > 0) current = node.Output[0];
    }

    private void Activate(NodeProto node, ActivationFunction f)
    {
        if (pending != null && pending.Activation.Name == "linear")
        {
            pending.Activation = f;
            return;
        }
        Flush();
        Add(new Activation(f), []);
    }

    private void Gemm(NodeProto node)
    {
        if (shape.Length != 2) throw Unsupported(node, $"multiplies a rank-{shape.Length} value");
        if (Int(node, "transA", 0) != 0) throw Unsupported(node, "transposes its input (transA)");
        var (b, dims) = Constant(node, 1);
        if (dims.Length != 2) throw Unsupported(node, "has a weight that is not a matrix");
        float alpha = Float(node, "alpha", 1f), beta = Float(node, "beta", 1f);
        var kernel = Int(node, "transB", 0) != 0 ? Transposed(b, (int)dims[0], (int)dims[1]) : Tensor.FromArray(b, [(int)dims[0], (int)dims[1]]);
        if (alpha != 1f) kernel *= alpha;
        Tensor? bias = null;
        if (node.Input.Count > 2 && node.Input[2] != "")
        {
            var (c, cd) = Constant(node, 2);
            if (c.Length != kernel.Shape[1]) throw Unsupported(node, $"adds a C of shape ({string.Join(", ", cd)}); Cortex imports a bias of one value per unit");
            bias = Tensor.FromArray(c) * beta;
        }
        StartDense(node, kernel, bias);
    }

    private void MatMul(NodeProto node)
    {
        var (b, dims) = Constant(node, 1);
        if (dims.Length != 2) throw Unsupported(node, "has a weight that is not a matrix");
        ToOnnxOrder();
        StartDense(node, Tensor.FromArray(b, [(int)dims[0], (int)dims[1]]), null);
    }

    private void StartDense(NodeProto node, Tensor kernel, Tensor? bias)
    {
        Flush();
        if (shape[^1] != kernel.Shape[0]) throw Bad($"node '{node.Name}' ({node.OpType}) multiplies {shape[^1]} features by a ({kernel.Shape[0]}, {kernel.Shape[1]}) weight");
        int units = kernel.Shape[1];
        pending = new Pending("dense", kernel, node.Name) { Bias = bias, Make = (f, useBias) => new Dense(units, f, useBias) };
    }

    private void Add(NodeProto node)
    {
        if (layers.Count == 2 && layers[1] is Normalization { Invert: true } && pending == null)
        {
            Normalize(node, divide: false);   // an inverted Normalization's mean
            return;
        }
        // torch writes a rank-3 Linear's bias first: Add(bias, MatMul(x, W)).
        var (b, dims) = Constant(node, node.Input.Count == 2 && node.Input[1] == current ? 0 : 1);
        if (pending is { Kind: "dense", Bias: null } p && p.Activation.Name == "linear" && b.Length == p.Kernel.Shape[1] && dims.Length == 1)
        {
            p.Bias = Tensor.FromArray(b);
            return;
        }
        throw Unsupported(node, "adds a constant that is not the bias of the Dense before it");
    }

    private void Conv(NodeProto node)
    {
        long group = Int(node, "group", 1);
        var (w, dims) = Constant(node, 1);
        if (group != 1 && dims.Length != 4) throw Unsupported(node, "is a grouped convolution of other than images");
        if (dims.Length == 3 && shape.Length == 3)
        {
            Conv1D(node, w, dims);
            return;
        }
        if (dims.Length != 4 || shape.Length != 4) throw Unsupported(node, "is not a 1-D convolution of sequences or a 2-D convolution of images");
        ToChannelsLast();
        int o = (int)dims[0], i = (int)dims[1], kh = (int)dims[2], kw = (int)dims[3];
        if (group < 1 || i * group != shape[3] || o % group != 0)
            throw Bad($"node '{node.Name}' (Conv) has a kernel for {i} channels in {group} group(s) and {o} filters; its input has {shape[3]} channels");
        long[] strides = Pair(node, "strides", 1), dilations = Pair(node, "dilations", 1);
        if (kh < 1 || kw < 1) throw Bad($"node '{node.Name}' (Conv) has a {kh}×{kw} kernel");
        string padding = Padding(node, kh, kw, strides, dilations);
        var kernel = Tensor.FromArray(w, [o, i, kh, kw]).Transpose(2, 3, 1, 0); // OIHW → (kh, kw, in / group, out)
        Tensor? bias = node.Input.Count > 2 && node.Input[2] != "" ? Tensor.FromArray(Constant(node, 2).Data) : null;
        Flush();
        Size2D size = (kh, kw), stride = ((int)strides[0], (int)strides[1]), dilation = ((int)dilations[0], (int)dilations[1]);
        // One input channel per group is Keras's DepthwiseConv2D: (kh, kw, 1, C·M) is its (kh, kw, C, M) kernel.
        bool depthwise = group > 1 && i == 1;
        if (depthwise) kernel = kernel.Reshape(kh, kw, (int)group, o / (int)group);
        pending = new Pending("conv", kernel, node.Name)
        {
            Bias = bias,
            Make = depthwise
                ? (f, useBias) => new DepthwiseConv2D(size, stride, padding, o / (int)group, f, useBias, dilation)
                : (f, useBias) => new Conv2D(o, size, stride, padding, f, useBias, dilation, (int)group),
        };
    }

    /// <summary>
    /// ConvTranspose on images as Keras's Conv2DTranspose: the (C, F, kh, kw) kernel is Keras's (kh, kw, F, C), and the
    /// padding is the Keras "valid" or "same", with or without an outputPadding, that gives the node's output size and
    /// leading pads (each combination is tried, the plain ones first). Pads no Keras padding gives (PyTorch's k 3, s 2,
    /// p 1, output_padding 1 starts one pixel further in than "same") become "valid" with the node's output_padding and a
    /// Cropping2D of the pads after it (an activation folded into the layer commutes with the crop).
    /// </summary>
    private void ConvTranspose(NodeProto node)
    {
        var (w, dims) = Constant(node, 1);
        if (dims.Length != 4 || shape.Length != 4) throw Unsupported(node, "is not a transposed convolution of images");
        if (Int(node, "group", 1) != 1) throw Unsupported(node, "is a grouped transposed convolution");
        if (Attr(node, "output_shape") != null || (Attr(node, "auto_pad")?.S.ToStringUtf8() ?? "NOTSET") is not ("NOTSET" or ""))
            throw Unsupported(node, "sets output_shape or auto_pad");
        ToChannelsLast();
        int c = (int)dims[0], f = (int)dims[1], kh = (int)dims[2], kw = (int)dims[3];
        if (c != shape[3]) throw Bad($"node '{node.Name}' (ConvTranspose) has a kernel for {c} channels; its input has {shape[3]}");
        if (kh < 1 || kw < 1) throw Bad($"node '{node.Name}' (ConvTranspose) has a {kh}×{kw} kernel");
        long[] strides = Pair(node, "strides", 1), dilations = Pair(node, "dilations", 1), pads = Ints(node, "pads", 0, 0, 0, 0),
            extra = Ints(node, "output_padding", 0, 0);
        if (pads.Length != 4 || extra.Length != 2) throw Unsupported(node, "has pads or output_padding for other than two spatial axes");
        Size2D size = (kh, kw), stride = ((int)strides[0], (int)strides[1]), dilation = ((int)dilations[0], (int)dilations[1]);
        long Out(int axis, int k) => strides[axis] * (shape[axis + 1] - 1) + extra[axis] + (k - 1) * dilations[axis] + 1 - pads[axis] - pads[axis + 2];
        long[] wanted = [Out(0, kh), Out(1, kw), pads[0], pads[1]];
        var candidates =
            from padding in new[] { "valid", "same" }
            from op in new Size2D?[] { null }.Concat(from h in Enumerable.Range(0, stride.Height) from v in Enumerable.Range(0, stride.Width) select (Size2D?)new Size2D(h, v))
            select new Conv2DTranspose(f, size, stride, padding, op, dilation);
        var match = candidates.FirstOrDefault(t =>
        {
            var win = t.Window([1, .. shape[1..]]);
            return wanted.SequenceEqual([win.H, win.W, win.PadTop, win.PadLeft]);
        });
        Layer? crop = null;
        if (match == null)
        {
            if (pads.Any(p => p < 0) || extra[0] < 0 || extra[1] < 0 || extra[0] >= stride.Height || extra[1] >= stride.Width || wanted[0] < 1 || wanted[1] < 1)
                throw Unsupported(node, $"pads ({string.Join(", ", pads)}) and output_padding ({string.Join(", ", extra)}), which match no Keras padding for a {shape[1]}×{shape[2]} input");
            match = new Conv2DTranspose(f, size, stride, "valid", ((int)extra[0], (int)extra[1]), dilation);
            crop = new Cropping2D(new Margins2D((int)pads[0], (int)pads[2], (int)pads[1], (int)pads[3]));
        }
        var kernel = Tensor.FromArray(w, [c, f, kh, kw]).Transpose(2, 3, 1, 0); // (C, F, kh, kw) → (kh, kw, F, C)
        Tensor? bias = node.Input.Count > 2 && node.Input[2] != "" ? Tensor.FromArray(Constant(node, 2).Data) : null;
        Flush();
        pending = new Pending("conv_transpose", kernel, node.Name)
        {
            Bias = bias,
            Make = (act, useBias) => new Conv2DTranspose(f, size, stride, match.Padding, match.OutputPadding, dilation, act, useBias),
            After = crop,
        };
    }

    /// <summary>"valid" or "same" for the node's pads (or auto_pad) on the live value's height and width.</summary>
    private string Padding(NodeProto node, int kh, int kw, long[] strides, long[] dilations)
    {
        string auto = Attr(node, "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        if (auto == "VALID") return "valid";
        if (auto == "SAME_UPPER") return "same";
        if (auto is not ("NOTSET" or "")) throw Unsupported(node, $"pads with auto_pad={auto}");
        long[] pads = Ints(node, "pads", 0, 0, 0, 0);
        if (pads.Length != 4) throw Unsupported(node, "has pads for other than two spatial axes");
        if (pads.All(p => p == 0)) return "valid";
        var same = Kernels.Window2D.Create(1, shape[1], shape[2], 1, kh, kw, (int)strides[0], (int)strides[1], (int)dilations[0], (int)dilations[1], same: true)!.Value;
        long bottom = Math.Max((same.OH - 1) * same.SH + (kh - 1) * same.DH + 1 - same.H, 0) - same.PadTop;
        long right = Math.Max((same.OW - 1) * same.SW + (kw - 1) * same.DW + 1 - same.W, 0) - same.PadLeft;
        if (pads.SequenceEqual([same.PadTop, same.PadLeft, bottom, right])) return "same";
        throw Unsupported(node, $"pads ({string.Join(", ", pads)}), which is neither Keras's \"valid\" nor its \"same\" for a {shape[1]}×{shape[2]} input");
    }

    private void Conv1D(NodeProto node, float[] w, long[] dims)
    {
        ToChannelsLast();
        int o = (int)dims[0], i = (int)dims[1], k = (int)dims[2];
        if (i != shape[2]) throw Bad($"node '{node.Name}' (Conv) has a kernel for {i} channels; its input has {shape[2]}");
        int stride = Single(node, "strides"), dilation = Single(node, "dilations");
        if (k < 1 || o < 1) throw Bad($"node '{node.Name}' (Conv) has a kernel of shape ({string.Join(", ", dims)})");
        string padding = Padding1D(node, k, stride, dilation, "valid", "same", "causal");
        var kernel = Tensor.FromArray(w, [o, i, k]).Transpose(2, 1, 0);  // OIW → (k, in, out)
        Tensor? bias = node.Input.Count > 2 && node.Input[2] != "" ? Tensor.FromArray(Constant(node, 2).Data) : null;
        Flush();
        pending = new Pending("conv", kernel, node.Name) { Bias = bias, Make = (f, useBias) => new Conv1D(o, k, stride, padding, dilation, f, useBias) };
    }

    /// <summary>A 1-D window attribute (strides, dilations): one size in 1…65,535.</summary>
    private int Single(NodeProto node, string name)
    {
        long[] v = Ints(node, name, 1);
        if (v.Length != 1 || v[0] is < 1 or > 65535)
            throw Bad($"node '{node.Name}' ({node.OpType}) has {name} ({string.Join(", ", v)}): expected one size in 1…65,535");
        return (int)v[0];
    }

    /// <summary>The Keras padding among <paramref name="candidates"/> whose explicit [left, right] pads are the node's.</summary>
    private string Padding1D(NodeProto node, int k, int stride, int dilation, params string[] candidates)
    {
        string auto = Attr(node, "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        if (auto == "VALID") return "valid";
        if (auto == "SAME_UPPER") return "same";
        if (auto is not ("NOTSET" or "")) throw Unsupported(node, $"pads with auto_pad={auto}");
        long[] pads = Ints(node, "pads", 0, 0);
        if (pads.Length != 2) throw Unsupported(node, "has pads for other than one axis of steps");
        foreach (string padding in candidates)
        {
            Kernels.Window2D win;
            try { win = SequenceLayers.Window(node.Name, [1, shape[1], shape[2]], k, stride, dilation, padding, "kernel size"); }
            catch (ArgumentException) { continue; }
            long total = Math.Max((win.OW - 1) * win.SW + (win.KW - 1) * win.DW + 1 - win.W, 0);
            if (pads.SequenceEqual([win.PadLeft, Math.Max(total - win.PadLeft, 0)])) return padding;
        }
        throw Unsupported(node, $"pads ({string.Join(", ", pads)}), which is none of Keras's {string.Join(", ", candidates.Select(c => $"\"{c}\""))} for {shape[1]} steps");
    }

    private void Pool1D(NodeProto node)
    {
        if (Int(node, "ceil_mode", 0) != 0) throw Unsupported(node, "rounds its output size up (ceil_mode)");
        if (Ints(node, "dilations", 1).Any(d => d != 1)) throw Unsupported(node, "has dilations");
        ToChannelsLast();
        int k = Single(node, "kernel_shape"), stride = Single(node, "strides");
        string padding = Padding1D(node, k, stride, 1, "valid", "same");
        if (node.OpType == "AveragePool" && padding == "same" && Int(node, "count_include_pad", 0) != 0)
            throw Unsupported(node, "counts the padding in its averages (count_include_pad); Keras's does not");
        Flush();
        Add(node.OpType == "MaxPool" ? new MaxPooling1D(k, stride, padding) : new AveragePooling1D(k, stride, padding), []);
    }

    private void Pool(NodeProto node)
    {
        if (Ints(node, "kernel_shape").Length == 1 && shape.Length == 3)
        {
            Pool1D(node);
            return;
        }
        if (Ints(node, "kernel_shape").Length != 2 || shape.Length != 4) throw Unsupported(node, "is not a 2-D pooling of images");
        long[] k = Pair(node, "kernel_shape", 1);
        if (Int(node, "ceil_mode", 0) != 0) throw Unsupported(node, "rounds its output size up (ceil_mode)");
        if (Ints(node, "dilations", 1, 1).Any(d => d != 1)) throw Unsupported(node, "has dilations");
        ToChannelsLast();
        long[] strides = Pair(node, "strides", 1);
        string padding = Padding(node, (int)k[0], (int)k[1], strides, [1, 1]);
        if (node.OpType == "AveragePool" && padding == "same" && Int(node, "count_include_pad", 0) != 0)
            throw Unsupported(node, "counts the padding in its averages (count_include_pad); Keras's does not");
        Flush();
        Size2D size = ((int)k[0], (int)k[1]), step = ((int)strides[0], (int)strides[1]);
        Add(node.OpType == "MaxPool" ? new MaxPooling2D(size, step, padding) : new AveragePooling2D(size, step, padding), []);
    }

    private void BatchNorm(NodeProto node)
    {
        if (node.Output.Count > 1 && node.Output.Skip(1).Any(o => o != "")) throw Unsupported(node, "is in training mode (it outputs batch statistics)");
        float[] gamma = Constant(node, 1).Data, beta = Constant(node, 2).Data, mean = Constant(node, 3).Data, variance = Constant(node, 4).Data;
        if (shape.Length == 4) ToChannelsLast();
        else if (shape.Length != 2) throw Unsupported(node, $"normalises a rank-{shape.Length} value");
        int c = shape[^1];
        if (new[] { gamma, beta, mean, variance }.Any(v => v.Length != c)) throw Bad($"node '{node.Name}' (BatchNormalization) has parameters that are not {c} long");
        Flush();
        float momentum = Float(node, "momentum", 0.9f);
        Add(new BatchNormalization(momentum: momentum, epsilon: Float(node, "epsilon", 1e-5f)),
            [Tensor.FromArray(gamma), Tensor.FromArray(beta), Tensor.FromArray(mean), Tensor.FromArray(variance)]);
    }

    /// <summary>The (height, width) axes of the live rank-4 value in ONNX's order: 2, 3 when held channels first.</summary>
    private (int H, int W) ImageAxes(NodeProto node) =>
        shape.Length == 4 ? nchw ? (2, 3) : (1, 2) : throw Unsupported(node, $"works on a rank-{shape.Length} value; Cortex imports it on images");

    /// <summary>Pad with zeros on the height and width of an image: ZeroPadding2D.</summary>
    private void ZeroPad(NodeProto node)
    {
        var (h, w) = ImageAxes(node);
        string mode = Attr(node, "mode") is { } a ? a.S.ToStringUtf8() : "constant";
        float fill = node.Input.Count > 2 && node.Input[2] != "" ? Constant(node, 2).Data.Single() : 0f;
        float[] pads = Constant(node, 1).Data;
        if (pads.Any(v => v is < -65535 or > 65535)) throw Bad($"node '{node.Name}' (Pad) has pads ({string.Join(", ", pads)}): expected sizes up to 65,535");
        if (mode != "constant" || fill != 0 || pads.Length != 8 || pads.Where((v, i) => i % 4 != h && i % 4 != w).Any(v => v != 0) || pads.Any(v => v < 0))
            throw Unsupported(node, $"pads with mode \"{mode}\", value {fill} and pads ({string.Join(", ", pads)}); Cortex imports zeros added to the height and width of an image (ZeroPadding2D)");
        Flush();
        Add(new ZeroPadding2D(new Margins2D((int)pads[h], (int)pads[h + 4], (int)pads[w], (int)pads[w + 4])), []);
    }

    /// <summary>Slice of the height and width of an image, step 1: Cropping2D.</summary>
    private void Crop(NodeProto node)
    {
        var (h, w) = ImageAxes(node);
        float[] starts = Constant(node, 1).Data, ends = Constant(node, 2).Data;
        float[] axes = node.Input.Count > 3 && node.Input[3] != "" ? Constant(node, 3).Data : [.. Enumerable.Range(0, starts.Length).Select(i => (float)i)];
        float[] steps = node.Input.Count > 4 && node.Input[4] != "" ? Constant(node, 4).Data : [.. starts.Select(_ => 1f)];
        int[] size = [shape[1], shape[2]];
        var cut = new int[4];   // top, bottom, left, right
        if (axes.Length != starts.Length || ends.Length != starts.Length || steps.Any(v => v != 1))
            throw Unsupported(node, "slices with steps other than 1 (Cortex imports Cropping2D)");
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = (int)(axes[i] < 0 ? axes[i] + 4 : axes[i]), k = axis == h ? 0 : axis == w ? 1 : -1;
            if (k < 0) throw Unsupported(node, $"slices axis {axes[i]}; Cortex imports a crop of the height and width of an image (Cropping2D)");
            double n = size[k], start = starts[i] < 0 ? starts[i] + n : starts[i], end = ends[i] < 0 ? ends[i] + n : Math.Min(ends[i], n);
            (cut[2 * k], cut[2 * k + 1]) = ((int)Math.Clamp(start, 0, n), (int)(n - Math.Clamp(end, 0, n)));
        }
        if (cut[0] + cut[1] >= shape[1] || cut[2] + cut[3] >= shape[2])
            throw Unsupported(node, $"slices an image of {shape[1]}×{shape[2]} pixels to nothing");
        Flush();
        Add(new Cropping2D(new Margins2D(cut[0], cut[1], cut[2], cut[3])), []);
    }

    /// <summary>Resize of an image by whole factors, nearest (⌊o/s⌋) or linear with half-pixel centres: UpSampling2D.</summary>
    private void UpSample(NodeProto node)
    {
        var (h, w) = ImageAxes(node);
        string Text(string name, string fallback) => Attr(node, name) is { } a ? a.S.ToStringUtf8() : fallback;
        string mode = Text("mode", "nearest"), transform = Text("coordinate_transformation_mode", "half_pixel"), rounding = Text("nearest_mode", "round_prefer_floor");
        float[] scales = node.Input.Count > 2 && node.Input[2] != "" ? Constant(node, 2).Data : [];
        bool whole = scales.Length == 4 && scales.Where((v, i) => i != h && i != w).All(v => v == 1) && scales.All(v => v is >= 1 and <= 65535 && v == MathF.Floor(v));
        string? interpolation = mode == "nearest" && transform == "asymmetric" && rounding == "floor" ? "nearest"
            : mode == "linear" && transform is "half_pixel" or "pytorch_half_pixel" ? "bilinear" : null;
        if (!whole || interpolation == null || (node.Input.Count > 3 && node.Input[3] != ""))
            throw Unsupported(node, $"resizes with mode \"{mode}\", coordinate_transformation_mode \"{transform}\", nearest_mode \"{rounding}\" and scales ({string.Join(", ", scales)}); " +
                "Cortex imports whole scales on the height and width, nearest (asymmetric, floor) or linear (half_pixel): UpSampling2D");
        Flush();
        Add(new UpSampling2D(((int)scales[h], (int)scales[w]), interpolation), []);
    }

    /// <summary>LayerNormalization from an axis to the last of a value in Cortex's order.</summary>
    private void LayerNorm(NodeProto node)
    {
        long axis = Int(node, "axis", -1), rank = shape.Length;
        if (axis < 0) axis += rank;
        if (nchw || axis <= 0 || axis >= rank) throw Unsupported(node, $"normalises from axis {Int(node, "axis", -1)} of a rank-{rank} value held {(nchw ? "channels first" : "as Cortex holds it")}; Cortex imports LayerNormalization from an axis after the batch axis to the last, in Cortex's order");
        if (node.Output.Count > 1 && node.Output.Skip(1).Any(o => o != "")) throw Unsupported(node, "outputs its mean and inverse standard deviation");
        int[] dims = shape[(int)axis..];
        int n = dims.Aggregate(1, (x, y) => x * y);
        float[] gamma = Constant(node, 1).Data;
        float[]? beta = node.Input.Count > 2 && node.Input[2] != "" ? Constant(node, 2).Data : null;
        if (gamma.Length != n || (beta != null && beta.Length != n)) throw Bad($"node '{node.Name}' (LayerNormalization) has scale or bias that are not {n} long");
        Flush();
        int[] axes = [.. Enumerable.Range((int)(axis - rank), (int)(rank - axis))];   // from the end: [-1] for the last axis
        Add(new LayerNormalization(axes, epsilon: Float(node, "epsilon", 1e-5f), center: beta != null),
            beta == null ? [Tensor.FromArray(gamma, dims)] : [Tensor.FromArray(gamma, dims), Tensor.FromArray(beta, dims)]);
    }

    /// <summary>
    /// Cortex's Normalization as <see cref="OnnxExporter"/> writes it, right after the input: Sub(mean) then Div(std),
    /// or inverted Mul(std) then Add(mean), the constants one per feature or broadcast over the sample (1 on the axes
    /// without statistics of their own, which gives the layer's axis).
    /// </summary>
    private void Normalize(NodeProto node, bool divide, bool invert = false)
    {
        var (v, dims) = Constant(node, 1);
        bool afterInput = layers.Count == 1 || (layers.Count == 2 && layers[1] is Normalization);
        int[]? kept = afterInput && !nchw ? KeptAxes(dims) : null;
        if (kept == null) throw Unsupported(node, "is not the standardisation of the input's features (a Normalization layer)");
        int[] statShape = [.. kept.Select(a => shape[a])];
        if (layers.Count == 1)
        {
            if (divide) throw Unsupported(node, "divides the input by a constant that is not after a subtraction of its mean");
            Flush();
            // Sub starts a standardisation (mean known, variance next); Mul an inverted one (variance known, mean next).
            var statistic = Tensor.FromArray(invert ? [.. v.Select(s => s * s)] : v, statShape);
            var norm = new Normalization(kept.SequenceEqual([shape.Length - 1]) ? null : [.. kept], invert: invert);
            Add(norm, invert ? [Tensor.Zeros(statShape), statistic, Tensor.Scalar(0)] : [statistic, Tensor.Ones(statShape), Tensor.Scalar(0)]);
            return;
        }
        var existing = (Normalization)layers[^1];
        bool second = existing.Invert ? !divide && !invert && weights[^1][0].AsSpan().IndexOfAnyExcept(0f) < 0 : divide;
        if (!second || v.Length != weights[^1][0].Size) throw Unsupported(node, "is not the second half of a Normalization layer's standardisation");
        if (existing.Invert) weights[^1][0] = Tensor.FromArray(v, statShape);
        else weights[^1][1] = Tensor.FromArray([.. v.Select(s => s * s)], statShape); // Normalization divides by max(√variance, ε)
    }

    /// <summary>The axes (of the live value, batch axis 0) that a constant of <paramref name="dims"/> keeps statistics
    /// for when broadcast over it — one per feature ([f]) or the sample's rank with 1 on the others — or null.</summary>
    private int[]? KeptAxes(long[] dims)
    {
        if (dims.Length == 1 && dims[0] == shape[^1] && shape.Length >= 2) return [shape.Length - 1];
        if (dims.Length != shape.Length - 1) return null;
        var kept = new List<int>();
        for (int d = 0; d < dims.Length; d++)
        {
            if (dims[d] == shape[d + 1] && dims[d] != 1) kept.Add(d + 1);
            else if (dims[d] != 1) return null;
        }
        return [.. kept];
    }

    private void Transpose(NodeProto node)
    {
        long[] perm = Ints(node, "perm", [.. Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i)]);
        if (perm.Length != shape.Length || !perm.Order().SequenceEqual(Enumerable.Range(0, shape.Length).Select(i => (long)i)))
            throw Bad($"node '{node.Name}' (Transpose) has perm ({string.Join(", ", perm)}): expected a permutation of the {shape.Length} axes");
        if (perm[0] != 0) throw Unsupported(node, "moves the batch axis");
        long[] composed = nchw ? [.. perm.Select(p => ChannelsFirst[p])] : perm;
        if (IsIdentity(composed)) nchw = false;
        else if (shape.Length is 3 or 4 && composed.SequenceEqual(ChannelsFirst)) nchw = true;
        else
        {
            nchw = false;
            Add(new Layers.Permute([.. composed.Skip(1).Select(p => (int)p)]), []);
        }
    }

    /// <summary>The ONNX channels-first order of the live value's axes: (0, 3, 1, 2) for images, (0, 2, 1) for sequences.</summary>
    private long[] ChannelsFirst => shape.Length == 3 ? [0, 2, 1] : [0, 3, 1, 2];

    /// <summary>The Permute from the Cortex tensor to its ONNX channels-first order, or back.</summary>
    private Layers.Permute ChannelsPermute(bool toFirst) => shape.Length == 3 ? new Layers.Permute([2, 1]) : new Layers.Permute(toFirst ? [3, 1, 2] : [2, 3, 1]);

    private static bool IsIdentity(long[] perm) => perm.Select((p, i) => p == i).All(b => b);

    /// <summary>Makes the Cortex tensor hold the ONNX value in ONNX's own axis order (before Flatten, Reshape, MatMul).</summary>
    private void ToOnnxOrder()
    {
        if (!nchw) return;
        Flush();
        nchw = false;
        if (shape[1] == 1 && (shape.Length == 3 || shape[2] == 1)) return; // (N, 1, 1, C) or (N, 1, C): both orders are the same floats
        Add(ChannelsPermute(toFirst: true), []);
    }

    /// <summary>Makes the Cortex tensor channels-last for an image op whose ONNX input is NCHW.</summary>
    private void ToChannelsLast()
    {
        if (nchw) return;
        if (shape.Length is not (3 or 4)) return;
        Flush();
        Add(ChannelsPermute(toFirst: false), []);
        nchw = true;
    }

    private void Flush()
    {
        if (pending == null) return;
        var p = pending;
        pending = null;
        var layer = p.Make!(p.Activation, p.Bias != null);
        Add(layer, p.Bias == null ? [p.Kernel] : [p.Kernel, p.Bias]);
        if (p.After != null) Add(p.After, []);
    }

    private void Add(Layer layer, Tensor[] values)
    {
        shape = layer.ComputeOutputShape(shape);
        timeMajorName = null;
        layers.Add(layer);
        weights.Add(values);
    }

    private static Tensor Transposed(float[] m, int rows, int cols) => Tensor.FromArray(m, [rows, cols]).Transpose();
}
