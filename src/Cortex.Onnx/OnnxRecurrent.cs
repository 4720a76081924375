using Cortex.Activations;
using Cortex.Layers;
using Cortex.Onnx.Proto;

namespace Cortex.Onnx;

/// <summary>
/// SimpleRNN, LSTM, GRU and Bidirectional as ONNX's RNN, LSTM and GRU ops (time-major, <c>layout</c> 0, which every
/// runtime implements): Transpose (N, T, F) → (T, N, F), the op, then its Y_h (the last state) or Y (every state)
/// back to (N, …). Weights are Keras's transposed to ONNX's (directions, gates·units, features) with the gate blocks in
/// ONNX's order; a goBackwards layer runs with <c>direction="reverse"</c>, and its Y, which ONNX gives in time order,
/// is reversed to the processing order Keras returns.
/// </summary>
internal static class RecurrentWriter
{
    /// <summary>ONNX gate block k is Keras's block <c>Order[k]</c>: LSTM i, o, f, c from Keras's i, f, c, o; GRU z, r, h as Keras.</summary>
    private static int[] Order(RecurrentLayer r) => r is LSTM ? [0, 3, 1, 2] : r is GRU ? [0, 1, 2] : [0];

    /// <summary>The ONNX op for a Keras recurrent layer.</summary>
    internal static string OpType(RecurrentLayer r) => r switch { LSTM => "LSTM", GRU => "GRU", _ => "RNN" };

    /// <summary>The activations attribute (per direction: RNN f; GRU f, g; LSTM f, g, h) in ONNX's names.</summary>
    private static IEnumerable<string> Activations(RecurrentLayer r, Layer owner)
    {
        string Name(ActivationFunction f) => f.Name switch
        {
            "sigmoid" => "Sigmoid",
            "tanh" => "Tanh",
            "relu" => "Relu",
            _ => throw new NotSupportedException($"ONNX export: {owner.GetType().Name} '{owner.Name}' has the activation '{f.Name}', which ONNX's {OpType(r)} op does not take (Tanh, Sigmoid, Relu)."),
        };
        return r switch
        {
            LSTM l => [Name(l.RecurrentActivation), Name(l.Activation), Name(l.Activation)],
            GRU gru => [Name(gru.RecurrentActivation), Name(gru.Activation)],
            _ => [Name(r.Activation)],
        };
    }

    /// <summary>Writes <paramref name="owner"/> (a recurrent layer, or a Bidirectional running
    /// <paramref name="directions"/> forward then backward and merging by <paramref name="merge"/>) on the
    /// batch-major <paramref name="value"/> of Cortex shape <paramref name="shape"/>.</summary>
    public static string Write(GraphBuilder g, Layer owner, RecurrentLayer[] directions, string merge, string value, int[] shape, int opset)
    {
        var first = directions[0];
        int d = directions.Length, u = first.Units, gates = Order(first).Length, features = shape[^1];
        if (d == 2)
        {
            var back = directions[1];
            if (first.GoBackwards || back.GetType() != first.GetType() || back.Units != u || back.UseBias != first.UseBias
                || !Activations(back, owner).SequenceEqual(Activations(first, owner)) || (first is GRU fg && back is GRU bg && fg.ResetAfter != bg.ResetAfter))
                throw new NotSupportedException($"ONNX export: {owner.GetType().Name} '{owner.Name}' has a backward layer that differs from its forward one ({back.GetType().Name} '{back.Name}'); ONNX's bidirectional op runs one configuration both ways.");
        }
        var w = new float[d * gates * u * features];
        var r = new float[d * gates * u * u];
        var b = first.UseBias ? new float[d * 2 * gates * u] : null;
        bool resetAfter = first is GRU { ResetAfter: true };
        for (int k = 0; k < d; k++)
        {
            var layer = directions[k];
            int[] order = Order(layer);
            // Keras's (in, gates·u) kernels, transposed to (gates·u, in) with ONNX's block order.
            var kt = LayerWriter.Permute(layer.Kernel!.AsSpan(), [features, gates * u], [1, 0]);
            var rt = LayerWriter.Permute(layer.RecurrentKernel!.AsSpan(), [u, gates * u], [1, 0]);
            for (int gate = 0; gate < gates; gate++)
            {
                kt.AsSpan(order[gate] * u * features, u * features).CopyTo(w.AsSpan((k * gates + gate) * u * features));
                rt.AsSpan(order[gate] * u * u, u * u).CopyTo(r.AsSpan((k * gates + gate) * u * u));
                if (b == null) continue;
                // B is [Wb, Rb]: Keras's one bias goes in Wb (Rb zeros); a reset-after GRU's (2, 3u) bias is exactly [Wb; Rb].
                var bias = layer.Bias!.AsSpan();
                bias.Slice(order[gate] * u, u).CopyTo(b.AsSpan(k * 2 * gates * u + gate * u));
                if (resetAfter) bias.Slice(gates * u + order[gate] * u, u).CopyTo(b.AsSpan(k * 2 * gates * u + (gates + gate) * u));
            }
        }
        string op = OpType(first);
        var attrs = new List<AttributeProto>
        {
            GraphBuilder.Int("hidden_size", u),
            GraphBuilder.String("direction", d == 2 ? "bidirectional" : first.GoBackwards ? "reverse" : "forward"),
        };
        var activations = directions.SelectMany(l => Activations(l, owner)).ToArray();
        string[] defaults = first switch { LSTM => ["Sigmoid", "Tanh", "Tanh"], GRU => ["Sigmoid", "Tanh"], _ => ["Tanh"] };
        if (!activations.SequenceEqual(Enumerable.Range(0, d).SelectMany(_ => defaults))) attrs.Add(GraphBuilder.Strings("activations", activations));
        if (first is GRU) attrs.Add(GraphBuilder.Int("linear_before_reset", resetAfter ? 1 : 0));
        string timeMajor = g.Node("Transpose", [value], null, GraphBuilder.Ints("perm", 1, 0, 2));
        string[] inputs =
        [
            timeMajor,
            g.Constant($"{owner.Name}/W", w, d, gates * u, features),
            g.Constant($"{owner.Name}/R", r, d, gates * u, u),
            .. b == null ? Array.Empty<string>() : [g.Constant($"{owner.Name}/B", b, d, 2 * gates * u)],
        ];
        string[] outputs = g.Nodes(op, inputs, 2, [.. attrs]);          // Y (T, D, N, u), Y_h (D, N, u)
        if (!first.ReturnSequences)
            // Concat: (2, N, u) → (N, 2, u) → (N, 2u), the forward state first, as Keras.
            return d == 1 ? g.Node("Squeeze", [outputs[1], g.Int64s("axes", 0)])
                : merge == "concat" ? g.Node("Reshape", [g.Node("Transpose", [outputs[1]], null, GraphBuilder.Ints("perm", 1, 0, 2)), g.Int64s("shape", 0, -1)])
                : Reduce(g, merge, outputs[1], 0, opset);
        if (d == 2)
            return merge == "concat"
                ? g.Node("Reshape", [g.Node("Transpose", [outputs[0]], null, GraphBuilder.Ints("perm", 2, 0, 1, 3)), g.Int64s("shape", 0, 0, -1)])
                : g.Node("Transpose", [Reduce(g, merge, outputs[0], 1, opset)], null, GraphBuilder.Ints("perm", 1, 0, 2));
        string y = g.Node("Squeeze", [outputs[0], g.Int64s("axes", 1)]);                  // (T, N, u)
        // ONNX's Y is in time order; Keras's goBackwards returns the states in processing order.
        if (first.GoBackwards) y = g.Node("Slice", [y, g.Int64s("starts", -1), g.Int64s("ends", long.MinValue), g.Int64s("axes", 0), g.Int64s("steps", -1)]);
        return g.Node("Transpose", [y], null, GraphBuilder.Ints("perm", 1, 0, 2));
    }

    /// <summary>Bidirectional's sum, mul or ave over the direction axis (ReduceSum/ReduceProd/ReduceMean; their axes
    /// are an input from opset 18, ReduceSum's from 13). Two terms: a + b, a·b and (a + b)/2 in any order are the same floats.</summary>
    private static string Reduce(GraphBuilder g, string merge, string value, int axis, int opset)
    {
        string op = merge switch { "sum" => "ReduceSum", "mul" => "ReduceProd", _ => "ReduceMean" };
        return op == "ReduceSum" || opset >= 18
            ? g.Node(op, [value, g.Int64s("axes", axis)], null, GraphBuilder.Int("keepdims", 0))
            : g.Node(op, [value], null, GraphBuilder.Ints("axes", axis), GraphBuilder.Int("keepdims", 0));
    }
}
