using Cortex.Layers;
using Cortex.Models;
using Cortex.Onnx.Proto;

namespace Cortex.Onnx;

/// <summary>
/// Turns an ONNX graph with branches (several inputs or outputs, values read twice, merges of computed values) into a
/// <see cref="Functional"/>: each run of single-input nodes is read by <see cref="ChainReader"/> as a Sequential block
/// (its layouts put back at its end, so every value between blocks is in ONNX's own order), called on the symbolic
/// tensor of its input; Add, Sub, Mul, Max, Min of two or more computed values and Concat become Cortex's merge layers,
/// and Mul + ReduceSum(axis 1, keepdims) of two matrices a Dot(axes: 1).
/// A layer that a Cortex model called twice comes back as two layers with equal weights (ONNX holds them per call).
/// </summary>
internal sealed class GraphReader(ModelProto model, string source)
{
    private static readonly Dictionary<string, Func<NodeProto, Merge>> Merges = new()
    {
        ["Add"] = _ => new Layers.Add(),
        ["Sub"] = _ => new Subtract(),
        ["Mul"] = _ => new Multiply(),
        ["Max"] = _ => new Maximum(),
        ["Min"] = _ => new Minimum(),
        ["Concat"] = n => new Concatenate((int)(n.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1)),
    };

    public Functional Read()
    {
        var graph = model.Graph ?? throw new InvalidDataException($"{source}: the model has no graph.");
        var constantNames = new HashSet<string>(graph.Initializer.Select(t => t.Name));
        foreach (var n in graph.Node.Where(n => n.OpType == "Constant")) constantNames.UnionWith(n.Output);
        var symbols = new Dictionary<string, SymbolicTensor>();
        var inputs = new List<SymbolicTensor>();
        foreach (var info in graph.Input.Where(i => !constantNames.Contains(i.Name)))
        {
            int[] shape = ChainReader.Shape(info, source);
            var input = new Input(shape[1..], SafeName(info.Name));
            symbols[info.Name] = input.Output;
            inputs.Add(input.Output);
        }
        var consumers = graph.Node.SelectMany(n => n.Input).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        foreach (var o in graph.Output) consumers[o.Name] = consumers.GetValueOrDefault(o.Name) + 1;
        bool IsMerge(NodeProto n) => Merges.ContainsKey(n.OpType) && n.Input.Count(i => i != "" && !constantNames.Contains(i)) >= 2;
        var segment = new List<NodeProto>();
        string? segmentInput = null;
        void Close()
        {
            if (segment.Count == 0) return;
            string output = segment[^1].Output.Count > 0 ? segment[^1].Output[0] : throw new InvalidDataException($"{source}: node '{segment[^1].Name}' has no output.");
            if (segmentInput == null || !symbols.TryGetValue(segmentInput, out var x))
                throw new NotSupportedException($"ONNX import ({source}): node '{segment[0].Name}' ({segment[0].OpType}) reads '{segmentInput}', which no input or earlier node of the graph makes.");
            symbols[output] = Block(graph, segment, segmentInput, x, output).Call(x);
            segment.Clear();
        }
        var addTerms = new Dictionary<string, SymbolicTensor[]>();   // an Add merge's output → the terms it sums
        var dotTerms = new Dictionary<string, SymbolicTensor[]>();   // a Mul whose only reader sums its features → the two matrices
        foreach (var node in graph.Node)
        {
            if (node.OpType == "Constant") continue;
            // Cortex's Average: Add(…Add(a, b)…, z) / n, the n terms' sum divided by their count.
            if (node.OpType == "Div" && node.Input.Count == 2 && node.Output.Count == 1 && addTerms.TryGetValue(node.Input[0], out var terms)
                && Scalar(graph, node.Input[1]) == terms.Length && segment.Count == 0)
            {
                symbols[node.Output[0]] = new Average().Call(terms);
                continue;
            }
            if (dotTerms.Remove(node.Input.Count > 0 ? node.Input[0] : "", out var dotted))
            {
                symbols[node.Output[0]] = new Dot([1, 1]).Call(dotted);
                continue;
            }
            if (IsMerge(node))
            {
                Close();
                var args = node.Input.Where(i => i != "").Select(i => symbols.TryGetValue(i, out var s) ? s
                    : throw new NotSupportedException($"ONNX import ({source}): node '{node.Name}' ({node.OpType}) reads '{i}', which no input or earlier node of the graph makes.")).ToArray();
                if (node.Output.Count != 1) throw new InvalidDataException($"{source}: node '{node.Name}' ({node.OpType}) has {node.Output.Count} outputs.");
                if (node.OpType == "Mul" && args.Length == 2 && args.All(a => a.ShapeRef.Length == 2) && SumsFeaturesOf(graph, node.Output[0], consumers))
                {
                    dotTerms[node.Output[0]] = args;   // Dot of two matrices over their features: Mul, then ReduceSum(axis 1, keepdims)
                    continue;
                }
                symbols[node.Output[0]] = Merges[node.OpType](node).Call(args);
                if (node.OpType == "Add")
                    addTerms[node.Output[0]] = [.. node.Input.Where(i => i != "").SelectMany(i =>
                        addTerms.TryGetValue(i, out var inner) && consumers.GetValueOrDefault(i) == 1 ? inner : [symbols[i]])];
                continue;
            }
            var computed = node.Input.Where(i => i != "" && !constantNames.Contains(i)).Distinct().ToList();
            if (computed.Count != 1) throw new NotSupportedException($"ONNX import ({source}): node '{node.Name}' ({node.OpType}) reads {computed.Count} computed values; Cortex imports merges of several with Add, Sub, Mul, Max, Min and Concat.");
            bool continues = segment.Count > 0 && segment[^1].Output.Count > 0 && segment[^1].Output[0] == computed[0] && consumers.GetValueOrDefault(computed[0]) == 1;
            if (!continues)
            {
                Close();
                segmentInput = computed[0];
            }
            segment.Add(node);
        }
        Close();
        var outputs = graph.Output.Select(o => symbols.TryGetValue(o.Name, out var s) ? s
            : throw new InvalidDataException($"{source}: the output '{o.Name}' is made by no node.")).ToList();
        if (outputs.Count == 0) throw new InvalidDataException($"{source}: the graph has no outputs.");
        return new Functional(inputs, outputs, string.IsNullOrEmpty(graph.Name) ? null : SafeName(graph.Name));
    }

    /// <summary>Whether the only node that reads <paramref name="value"/> is a ReduceSum over axis 1 (or −1) of a
    /// matrix that keeps the axis: with a Mul of two matrices before it, Keras's Dot(axes: 1).</summary>
    private static bool SumsFeaturesOf(GraphProto graph, string value, Dictionary<string, int> consumers)
    {
        if (consumers.GetValueOrDefault(value) != 1) return false;
        var sum = graph.Node.FirstOrDefault(n => n.Input.Count > 0 && n.Input[0] == value);
        if (sum is not { OpType: "ReduceSum" } || sum.Output.Count != 1) return false;
        if ((sum.Attribute.FirstOrDefault(a => a.Name == "keepdims")?.I ?? 1) != 1) return false;
        long[] axes = sum.Input.Count > 1 && sum.Input[1] != ""
            ? Int64s(graph, sum.Input[1])
            : [.. sum.Attribute.FirstOrDefault(a => a.Name == "axes")?.Ints ?? []];
        return axes is [1] or [-1];
    }

    /// <summary>The values of a small int64 initializer or Constant (ReduceSum's axes), or none.</summary>
    private static long[] Int64s(GraphProto graph, string name)
    {
        var t = graph.Initializer.FirstOrDefault(i => i.Name == name)
            ?? graph.Node.FirstOrDefault(n => n.OpType == "Constant" && n.Output.Count == 1 && n.Output[0] == name)?.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
        if (t == null || t.DataType != (int)TensorProto.Types.DataType.Int64 || t.Dims.Count != 1 || t.Dims[0] is < 1 or > 8) return [];
        if (t.Int64Data.Count > 0) return t.Int64Data.Count == t.Dims[0] ? [.. t.Int64Data] : [];
        return t.RawData.Length == 8 * t.Dims[0] ? [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(t.RawData.Span)] : [];
    }

    /// <summary>The value of a one-float initializer, or NaN.</summary>
    private static float Scalar(GraphProto graph, string name)
    {
        var t = graph.Initializer.FirstOrDefault(i => i.Name == name);
        if (t == null || t.DataType != (int)TensorProto.Types.DataType.Float || t.Dims.Any(d => d != 1)) return float.NaN;
        return t.RawData.Length == 4 ? BitConverter.ToSingle(t.RawData.Span) : t.FloatData.Count == 1 ? t.FloatData[0] : float.NaN;
    }

    private static string SafeName(string name) => new([.. name.Take(64).Select(c => char.IsLetterOrDigit(c) || c is '_' or '-' ? c : '_')]);

    /// <summary>The nodes of one run as a Sequential, read by <see cref="ChainReader"/> from a graph of their own.</summary>
    private Sequential Block(GraphProto graph, List<NodeProto> nodes, string input, SymbolicTensor x, string output)
    {
        var sub = new GraphProto { Name = "" };
        sub.Node.AddRange(graph.Node.Where(n => n.OpType == "Constant"));
        sub.Node.AddRange(nodes);
        sub.Initializer.AddRange(graph.Initializer);
        var dims = new TensorShapeProto();
        dims.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        foreach (int d in x.ShapeRef[1..]) dims.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        sub.Input.Add(new ValueInfoProto { Name = input, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = dims } } });
        sub.Output.Add(new ValueInfoProto { Name = output });
        var proto = new ModelProto { Graph = sub };
        proto.OpsetImport.AddRange(model.OpsetImport);
        return new ChainReader(proto, source).Read();
    }
}
