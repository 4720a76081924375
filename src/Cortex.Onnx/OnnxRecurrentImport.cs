using Cortex.Activations;
using Cortex.Layers;
using Cortex.Onnx.Proto;

namespace Cortex.Onnx;

/// <summary>
/// ONNX's RNN, LSTM and GRU ops as Cortex's SimpleRNN, LSTM and GRU, as <see cref="RecurrentWriter"/> writes them and
/// as <c>torch.onnx.export</c> writes <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c> with <c>batch_first=True</c>:
/// Transpose to time-major, the op (initial states absent or zeros, which torch computes with Shape … ConstantOfShape),
/// Squeeze of Y or Y_h, Transpose back; <c>out[:, -1]</c> (Gather of the last step) becomes returnSequences false.
/// </summary>
internal sealed partial class ChainReader
{
    /// <summary>How the live ONNX value holds the Cortex tensor of a sequence.</summary>
    private enum Sequence
    {
        /// <summary>The same axes.</summary>
        BatchMajor,
        /// <summary>(T, N, F) for Cortex's (N, T, F).</summary>
        TimeMajor,
        /// <summary>A recurrent op's Y, (T, 1, N, u), for Cortex's (N, T, u).</summary>
        AllStates,
        /// <summary>A recurrent op's Y_h, (1, N, u), for Cortex's (N, u).</summary>
        LastState,
        /// <summary>A bidirectional op's Y, (T, 2, N, u), before the merge.</summary>
        BothStates,
        /// <summary>A bidirectional op's Y_h, (2, N, u), before the merge.</summary>
        BothLast,
        /// <summary>A bidirectional Y made (N, T, 2, u), before the Reshape that concatenates.</summary>
        BothStatesBatch,
        /// <summary>A bidirectional Y_h made (N, 2, u), before the Reshape that concatenates.</summary>
        BothLastBatch,
        /// <summary>A bidirectional Y made (T, N, 2, u) (torch), before the Reshape that concatenates.</summary>
        BothStatesTime,
    }

    private Sequence sequence;
    private bool reversePending;                           // a reverse op's Y, in time order: Keras's goBackwards returns it reversed
    private Func<bool, RecurrentLayer>? lastRecurrent;     // rebuilds the last layer with another returnSequences (out[:, -1])
    private (Func<string, Bidirectional> Make, Tensor[] Weights)? pendingBidirectional;   // added at the merge, which names its mode
    private string? timeMajorName;                         // the time-major value a Transpose to batch-major read: still the sequence
    private readonly HashSet<string> zeroStates = [];      // ConstantOfShape(…, 0) values: zero initial states
    private readonly HashSet<int> shapeNodes = [];         // the nodes that only compute those zeros' shape

    /// <summary>Finds torch's zero initial states: ConstantOfShape of 0 and the Shape/Gather/Unsqueeze/Concat nodes
    /// that only compute its shape, which the chain then skips.</summary>
    private void FindZeroStates(GraphProto graph)
    {
        var producer = new Dictionary<string, int>();
        for (int i = 0; i < graph.Node.Count; i++)
            foreach (var o in graph.Node[i].Output) producer.TryAdd(o, i);
        for (int i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            if (node.OpType != "ConstantOfShape" || node.Output.Count != 1) continue;
            var value = Attr(node, "value")?.T;
            if (value != null && (value.DataType != (int)TensorProto.Types.DataType.Float || value.RawData.Any(b => b != 0) || value.FloatData.Any(v => v != 0))) continue;
            zeroStates.Add(node.Output[0]);
            shapeNodes.Add(i);
            var stack = new Stack<string>(node.Input);
            while (stack.Count > 0)
                if (producer.TryGetValue(stack.Pop(), out int p) && graph.Node[p].OpType is "Shape" or "Gather" or "Unsqueeze" or "Concat" or "Slice" or "Cast" or "Squeeze"
                    && shapeNodes.Add(p) && graph.Node[p].OpType != "Shape")
                    foreach (var input in graph.Node[p].Input) stack.Push(input);
        }
    }

    /// <summary>torch feeds a stacked recurrent op the time-major value before the Transpose back to batch-major (which
    /// then only feeds the Shape of the next zero state): the chain resumes from that value.</summary>
    private void ResumeTimeMajor(NodeProto node)
    {
        if (node.OpType is "RNN" or "LSTM" or "GRU" && node.Input.Count > 0 && node.Input[0] == timeMajorName && sequence == Sequence.BatchMajor && layers[^1] is RecurrentLayer)
            (sequence, current) = (Sequence.TimeMajor, timeMajorName);
    }

    /// <summary>Refuses a chain that ends inside a recurrent op's layout.</summary>
    private void CheckSequenceEnd()
    {
        if (sequence != Sequence.BatchMajor || reversePending)
            throw new NotSupportedException($"ONNX import ({source}): the output is a recurrent op's value laid out as {(reversePending ? "a reverse-direction output in time order" : sequence.ToString())}; Cortex imports it back in batch-major order (Squeeze, Transpose (1, 0, 2)).");
    }

    /// <summary>Whether <paramref name="node"/> reads the live value in a layout its own case handles.</summary>
    private bool ReadsSequence(NodeProto node) => node.OpType switch
    {
        "Transpose" or "Identity" => true,
        "Squeeze" => sequence is Sequence.AllStates or Sequence.LastState,
        "ReduceSum" or "ReduceProd" or "ReduceMean" => sequence is Sequence.BothStates or Sequence.BothLast,
        "Reshape" => sequence is Sequence.BothStatesBatch or Sequence.BothLastBatch or Sequence.BothStatesTime,
        "Slice" => reversePending && sequence == Sequence.TimeMajor,
        "RNN" or "LSTM" or "GRU" => sequence == Sequence.TimeMajor,
        _ => false,
    };

    /// <summary>The handling of the nodes that change or read <see cref="sequence"/>; false when the node is not one.</summary>
    private bool SequenceNode(NodeProto node, Dictionary<string, int> consumers)
    {
        if (sequence != Sequence.BatchMajor || reversePending)
        {
            if (!ReadsSequence(node))
                throw Unsupported(node, $"reads a value laid out as a recurrent op's {(reversePending ? "reverse-direction output in time order (Keras's goBackwards returns it in processing order: a reversing Slice must follow)" : sequence.ToString())}, which Cortex has no layer for");
        }
        switch (node.OpType)
        {
            case "Transpose" when shape.Length == 3 && !nchw && Ints(node, "perm").SequenceEqual([1L, 0, 2]) && sequence is Sequence.BatchMajor or Sequence.TimeMajor:
                Flush();
                timeMajorName = sequence == Sequence.TimeMajor ? current : null;
                sequence = sequence == Sequence.TimeMajor ? Sequence.BatchMajor : Sequence.TimeMajor;
                break;
            case "Transpose" when sequence == Sequence.BothLast && Ints(node, "perm").SequenceEqual([1L, 0, 2]):
                sequence = Sequence.BothLastBatch;
                break;
            case "Transpose" when sequence == Sequence.BothStates && Ints(node, "perm").SequenceEqual([2L, 0, 1, 3]):
                sequence = Sequence.BothStatesBatch;
                break;
            case "Transpose" when sequence == Sequence.BothStates && Ints(node, "perm").SequenceEqual([0L, 2, 1, 3]):
                sequence = Sequence.BothStatesTime;
                break;
            case "Reshape" when sequence is Sequence.BothStatesBatch or Sequence.BothLastBatch or Sequence.BothStatesTime:
            {
                float[] target = Constant(node, 1).Data;
                if (!target.SequenceEqual(sequence == Sequence.BothLastBatch ? [0f, -1] : [0f, 0, -1]))
                    throw Unsupported(node, $"reshapes a bidirectional op's output to ({string.Join(", ", target)}); Cortex imports the concatenation of the two directions' states");
                Merge("concat", sequence == Sequence.BothStatesTime ? Sequence.TimeMajor : Sequence.BatchMajor);
                break;
            }
            case "ReduceSum" or "ReduceProd" or "ReduceMean" when sequence is Sequence.BothStates or Sequence.BothLast:
            {
                long axis = sequence == Sequence.BothStates ? 1 : 0;
                long[] axes = node.Input.Count > 1 && node.Input[1] != "" ? [.. Constant(node, 1).Data.Select(v => (long)v)] : Ints(node, "axes");
                if (axes.Length != 1 || axes[0] != axis || Int(node, "keepdims", 1) != 0)
                    throw Unsupported(node, $"reduces axes ({string.Join(", ", axes)}) of a bidirectional op's output; Cortex imports the merge over its direction axis {axis} without keepdims");
                Merge(node.OpType switch { "ReduceSum" => "sum", "ReduceProd" => "mul", _ => "ave" }, sequence == Sequence.BothStates ? Sequence.TimeMajor : Sequence.BatchMajor);
                break;
            }
            case "Transpose" when sequence != Sequence.BatchMajor:
                throw Unsupported(node, $"permutes ({string.Join(", ", Ints(node, "perm"))}) a recurrent op's value; Cortex imports (1, 0, 2) between batch- and time-major");
            case "RNN" or "LSTM" or "GRU":
                Recurrent(node, consumers);
                break;
            case "Squeeze" when sequence is Sequence.AllStates or Sequence.LastState:
            {
                long axis = sequence == Sequence.AllStates ? 1 : 0;
                long[] axes = node.Input.Count > 1 && node.Input[1] != "" ? [.. Constant(node, 1).Data.Select(v => (long)v)] : Ints(node, "axes");
                if (axes.Length != 1 || axes[0] != axis) throw Unsupported(node, $"squeezes axes ({string.Join(", ", axes)}) of a recurrent op's output; Cortex imports the squeeze of its direction axis {axis}");
                sequence = sequence == Sequence.AllStates ? Sequence.TimeMajor : Sequence.BatchMajor;
                break;
            }
            case "Slice" when reversePending && sequence == Sequence.TimeMajor:
            {
                int steps = shape[1];
                float[] starts = Constant(node, 1).Data, ends = Constant(node, 2).Data;
                float[] axes = node.Input.Count > 3 && node.Input[3] != "" ? Constant(node, 3).Data : [0];
                float[] step = node.Input.Count > 4 && node.Input[4] != "" ? Constant(node, 4).Data : [1];
                if (starts is not [var s] || ends is not [var e] || axes is not [0] || step is not [-1] || !(s == -1 || s >= steps - 1) || !(e <= -steps - 1))
                    throw Unsupported(node, "slices a reverse-direction recurrent output other than by reversing its time axis");
                reversePending = false;
                break;
            }
            case "Gather" when node.Input.Count == 2 && node.Input[0] == current && sequence == Sequence.BatchMajor:
            {
                // torch's out[:, -1]: the last step of a forward layer's sequence is its last state.
                float[] index = Constant(node, 1).Data;
                if (Int(node, "axis", 0) != 1 || shape.Length != 3 || index.Length != 1 || (index[0] != -1 && index[0] != shape[1] - 1) || lastRecurrent == null
                    || layers[^1] is not RecurrentLayer { ReturnSequences: true, GoBackwards: false } || constants[node.Input[1]].Dims.Length != 0)
                    throw Unsupported(node, "gathers from a computed value other than the last step of a forward recurrent layer's sequence");
                var layer = lastRecurrent(false);
                layers[^1] = layer;
                shape = [shape[0], shape[2]];
                lastRecurrent = null;
                break;
            }
            default:
                return false;
        }
        if (node.OpType is not ("RNN" or "LSTM" or "GRU"))
            current = node.Output.Count > 0 ? node.Output[0] : throw Bad($"node '{node.Name}' ({node.OpType}) has no output");
        return true;
    }

    /// <summary>Adds the pending Bidirectional with <paramref name="mode"/>; the value is then in <paramref name="next"/> layout.</summary>
    private void Merge(string mode, Sequence next)
    {
        var (make, weights) = pendingBidirectional!.Value;
        pendingBidirectional = null;
        sequence = Sequence.BatchMajor;
        Add(make(mode), weights);
        sequence = next;
    }

    private static ActivationFunction? FromOnnx(string name) => name switch
    {
        "Sigmoid" => ActivationFunction.Sigmoid,
        "Tanh" => ActivationFunction.Tanh,
        "Relu" => ActivationFunction.Relu,
        _ => null,
    };

    /// <summary>Refuses a layer that would apply the mask of a Masking before it, which the ONNX op ignores.</summary>
    private void RequireNoMask(NodeProto node)
    {
        if (layers.Any(l => l is Masking))
            throw Unsupported(node, "reads a sequence after a Masking; Cortex's layer would apply its mask, which ONNX's op does not see");
    }

    private void Recurrent(NodeProto node, Dictionary<string, int> consumers)
    {
        RequireNoMask(node);
        Flush();
        string op = node.OpType;
        int gates = op switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
        int[] order = op switch { "LSTM" => [0, 3, 1, 2], "GRU" => [0, 1, 2], _ => [0] };   // ONNX block k is Keras's block order[k]
        string direction = Attr(node, "direction")?.S.ToStringUtf8() ?? "forward";
        if (direction is not ("forward" or "reverse" or "bidirectional")) throw Unsupported(node, $"runs direction=\"{direction}\"; Cortex imports \"forward\", \"reverse\" and \"bidirectional\"");
        int d = direction == "bidirectional" ? 2 : 1;
        if (Int(node, "layout", 0) != 0) throw Unsupported(node, "is batch-major (layout=1); Cortex imports the time-major form torch and Cortex write");
        if (Attr(node, "clip") != null || Attr(node, "activation_alpha") != null || Attr(node, "activation_beta") != null || Int(node, "input_forget", 0) != 0)
            throw Unsupported(node, "has clip, activation_alpha/beta or input_forget, which Keras's layers do not");
        if (node.Input.Count > 4 && node.Input[4] != "") throw Unsupported(node, "takes sequence_lens (per-sequence lengths); Cortex imports whole sequences");
        for (int i = 5; i < node.Input.Count; i++)
            if (node.Input[i] != "" && !(i < 7 && (zeroStates.Contains(node.Input[i]) || (constants.TryGetValue(node.Input[i], out var c) && c.Data.All(v => v == 0)))))
                throw Unsupported(node, i == 7 ? "has peepholes (P)" : $"starts from initial state '{node.Input[i]}', which is not zeros");
        var (w, wd) = Constant(node, 1);
        var (r, rd) = Constant(node, 2);
        int features = shape[^1];
        long u = Int(node, "hidden_size", rd.Length == 3 ? rd[2] : 0);
        if (u is < 1 or > 1 << 16 || wd.Length != 3 || rd.Length != 3 || wd[0] != d || rd[0] != d || wd[1] != gates * u || rd[1] != gates * u || wd[2] != features || rd[2] != u)
            throw Bad($"node '{node.Name}' ({op}) has W ({string.Join(", ", wd)}) and R ({string.Join(", ", rd)}) for hidden_size {u} and {features} input features: expected ({d}, {gates * u}, {features}) and ({d}, {gates * u}, {u})");
        int units = (int)u;
        bool resetAfter = op == "GRU" && Int(node, "linear_before_reset", 0) != 0;
        float[]? b = null;
        if (node.Input.Count > 3 && node.Input[3] != "")
        {
            b = Constant(node, 3).Data;
            if (b.Length != d * 2 * gates * units) throw Bad($"node '{node.Name}' ({op}) has B of {b.Length} values: expected {d * 2 * gates * units}");
        }
        string[] names = Attr(node, "activations") is { } a ? [.. a.Strings.Select(s => s.ToStringUtf8())] : op switch { "LSTM" => ["Sigmoid", "Tanh", "Tanh"], "GRU" => ["Sigmoid", "Tanh"], _ => ["Tanh"] };
        var fs = names.Select(FromOnnx).ToArray();
        int perDirection = op switch { "LSTM" => 3, "GRU" => 2, _ => 1 };
        if (d == 2 && names.Length == 2 * perDirection && names[..perDirection].SequenceEqual(names[perDirection..])) fs = fs[..perDirection];
        if (fs.Length != perDirection || fs.Any(f => f == null) || (op == "LSTM" && names[1] != names[2]))
            throw Unsupported(node, $"has activations ({string.Join(", ", names)}); Cortex imports Tanh, Sigmoid and Relu, with an LSTM's cell and output activations equal{(d == 2 ? ", the same both ways" : "")}");
        var values = new List<Tensor>();
        for (int k = 0; k < d; k++) values.AddRange(KerasWeights(w, r, b, k, features, units, order, resetAfter));
        bool Used(int i) => i < node.Output.Count && node.Output[i] != "" && (consumers.ContainsKey(node.Output[i]) || model.Graph.Output.Any(o => o.Name == node.Output[i]));
        bool y = Used(0), yh = Used(1);
        if (y == yh || Used(2)) throw Unsupported(node, "has its outputs read other than one of Y (every state) and Y_h (the last state); Cortex imports one");
        bool backwards = direction == "reverse", useBias = b != null;
        var gate = fs[0]!;
        var act = fs.Length > 1 ? fs[1]! : fs[0]!;
        Func<bool, RecurrentLayer> make = op switch
        {
            "LSTM" => seq => new LSTM(units, act, gate, useBias, returnSequences: seq, goBackwards: backwards),
            "GRU" => seq => new GRU(units, act, gate, useBias, returnSequences: seq, goBackwards: backwards, resetAfter: resetAfter),
            _ => seq => new SimpleRNN(units, gate, useBias, returnSequences: seq, goBackwards: backwards),
        };
        current = node.Output[y ? 0 : 1];
        if (d == 2)
        {
            pendingBidirectional = (mode => new Bidirectional(make(y), mode), [.. values]);
            sequence = y ? Sequence.BothStates : Sequence.BothLast;
            return;
        }
        sequence = Sequence.BatchMajor;
        Add(make(y), [.. values]);
        lastRecurrent = make;
        sequence = y ? Sequence.AllStates : Sequence.LastState;
        reversePending = y && backwards;
    }

    /// <summary>Direction <paramref name="k"/>'s Keras weights from ONNX's W, R and B: kernels (features, gates·u) and
    /// (u, gates·u) with column blocks in Keras's order; the bias Wb + Rb, or [Wb; Rb] for a reset-after GRU.</summary>
    private static Tensor[] KerasWeights(float[] w, float[] r, float[]? b, int k, int features, int units, int[] order, bool resetAfter)
    {
        int gates = order.Length, g3 = gates * units;
        var kernel = new float[features * g3];
        var recurrent = new float[units * g3];
        int wk = k * g3 * features, rk = k * g3 * units, bk = k * 2 * g3;
        for (int gate = 0; gate < gates; gate++)
            for (int j = 0; j < units; j++)
            {
                int column = order[gate] * units + j, row = gate * units + j;
                for (int f = 0; f < features; f++) kernel[f * g3 + column] = w[wk + row * features + f];
                for (int f = 0; f < units; f++) recurrent[f * g3 + column] = r[rk + row * units + f];
            }
        if (b == null) return [Tensor.FromArray(kernel, [features, g3]), Tensor.FromArray(recurrent, [units, g3])];
        var bias = new float[resetAfter ? 2 * g3 : g3];
        for (int gate = 0; gate < gates; gate++)
            for (int j = 0; j < units; j++)
            {
                float wb = b[bk + gate * units + j], rb = b[bk + g3 + gate * units + j];
                if (resetAfter) (bias[order[gate] * units + j], bias[g3 + order[gate] * units + j]) = (wb, rb);
                else bias[order[gate] * units + j] = wb + rb;
            }
        return [Tensor.FromArray(kernel, [features, g3]), Tensor.FromArray(recurrent, [units, g3]), resetAfter ? Tensor.FromArray(bias, [2, g3]) : Tensor.FromArray(bias)];
    }
}
