using System.Reflection;
using System.Runtime.InteropServices;
using Cortex.Activations;
using Cortex.Kernels;
using Cortex.Layers;
using Cortex.Models;
using Cortex.Onnx.Proto;
using Cortex.Saving;
using Google.Protobuf;

namespace Cortex.Onnx;

/// <summary>
/// Writes a Cortex model as an ONNX file (<see href="https://onnx.ai"/>) that ONNX Runtime, or any ONNX consumer, runs
/// with the same results: <c>OnnxExporter.Save(model, "digits.onnx")</c>.
/// </summary>
/// <remarks>
/// <para>The exported graph takes and returns tensors in Cortex's layout: input <c>"input"</c> of shape (N, …sample)
/// — images channels-last, (N, H, W, C) — and output <c>"output"</c>, with a dynamic batch dimension <c>N</c>. A
/// <see cref="Functional"/> model has one input per Input layer, named after it, and one output per model output,
/// named after the layer that makes it (Keras's output names); its merge layers become Add, Sub, Mul, Div (Average),
/// Max, Min, Concat, and Mul + ReduceSum (Dot of two matrices).
/// Convolutions and pooling run in ONNX's NCHW layout inside the graph: one Transpose before the first of them and one
/// back before the first layer that needs channels last (Flatten, Dense, Reshape, the output), so kernels keep their
/// values, permuted to ONNX's (out, in, kh, kw). Keras's "same" padding becomes explicit, possibly asymmetric, pads.</para>
/// <para>Exported layers: Input, Dense (Gemm, or MatMul + Add on higher ranks), Activation and every layer's activation
/// (Relu, Sigmoid, Tanh, LeakyRelu, Elu, Selu, Softmax, Softplus, relu6 as Clip, silu as x·Sigmoid(x), softsign, hard_sigmoid, hard_silu (HardSwish), mish (Mish from opset 18, else x·Tanh(Softplus(x))), gelu (Gelu from opset 20, else ½x(1 + Erf(x/√2)); the tanh approximation from opset 20)), Conv2D (Conv, with
/// <c>group</c> for groups), DepthwiseConv2D (Conv, one group per channel), SeparableConv2D (that Conv, then a 1×1 Conv), Conv2DTranspose (ConvTranspose),
/// MaxPooling2D (MaxPool), AveragePooling2D (AveragePool without the padding in the count), GlobalAveragePooling2D
/// (GlobalAveragePool), BatchNormalization in its inference form, Flatten, Reshape, Permute (Transpose), ReLU (Relu, LeakyRelu, Clip or Where), Softmax (Softmax on one axis, Exp(x − ReduceLogSumExp) on several), Dropout, SpatialDropout2D and GaussianNoise (left out: inference),
/// ZeroPadding2D (Pad), Cropping2D (Slice), UpSampling2D (Resize, nearest or half-pixel linear), LayerNormalization
/// (LayerNormalization from opset 17 on the last axis, else ReduceMean, Sub, Mul, Div, Sqrt), GroupNormalization (its
/// decomposition over (N, positions, groups, channels per group); channels last),
/// Normalization (Sub, Div; inverted Mul, Add), Embedding (Cast, Gather), SimpleRNN/LSTM/GRU (RNN/LSTM/GRU, time-major) and Bidirectional
/// (one bidirectional op and its merge), Conv1D (Conv on (N, C, W)), MaxPooling1D/AveragePooling1D,
/// GlobalAveragePooling1D/GlobalMaxPooling1D, TimeDistributed(Dense) and Masking (its zeroing of padded steps). A
/// recurrent layer or GlobalAveragePooling1D that would read a mask (Embedding with maskZero or Masking before it) is
/// refused: ONNX's ops have no mask. Any other layer is refused with an
/// <see cref="NotSupportedException"/> naming it, before anything is written. Weights are stored inside the file;
/// ONNX's external-data form (for models over 2 GB) is not written.</para>
/// </remarks>
/// <example>
/// <code>
/// var model = Zoo.DigitsMlp();
/// model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
/// model.Fit(x, y, epochs: 5);
/// OnnxExporter.Save(model, "digits.onnx");             // or model.SaveOnnx("digits.onnx")
/// </code>
/// </example>
public static class OnnxExporter
{
    /// <summary>The ONNX operator set written when none is asked for.</summary>
    public const int DefaultOpset = 17;

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> as ONNX (atomically: a failed call leaves any
    /// existing file as it was).</summary>
    /// <param name="model">A built model (call it on data, Fit it, or start it with an <see cref="Input"/>).</param>
    /// <param name="path">The file to write, e.g. <c>model.onnx</c>.</param>
    /// <param name="opset">The ONNX operator set version, 13 or later (Softmax over one axis, Clip with inputs).</param>
    /// <exception cref="InvalidOperationException">The model is not built.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form yet; the message names it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="opset"/> is below 13.</exception>
    public static void Save(Model model, string path, int opset = DefaultOpset)
    {
        ArgumentNullException.ThrowIfNull(path);
        var proto = ToProto(model, opset);
        AtomicFile.Write(path, stream => proto.WriteTo(stream));
    }

    /// <summary>The ONNX file's bytes for <paramref name="model"/> (see <see cref="Save"/>).</summary>
    /// <exception cref="InvalidOperationException">The model is not built.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form yet; the message names it.</exception>
    public static byte[] ToBytes(Model model, int opset = DefaultOpset) => ToProto(model, opset).ToByteArray();

    internal static ModelProto ToProto(Model model, int opset)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (opset < 13)
            throw new ArgumentOutOfRangeException(nameof(opset), $"ONNX export: opset must be 13 or later. Received: opset={opset}");
        if (model is not (Sequential or Functional))
            throw new NotSupportedException($"ONNX export: model '{model.Name}' is a subclassed model ({model.GetType().Name}), whose forward pass is C# code that export cannot read. Build the same layers as a Sequential or a Functional to export them.");
        var graph = new GraphBuilder(model.Name, opset);
        if (model is Functional functional) FunctionalWriter.Write(graph, functional);
        else Chain(graph, model);
        return new ModelProto
        {
            IrVersion = 8,
            ProducerName = "Cortex",
            ProducerVersion = typeof(Model).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
            Graph = graph.Graph,
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = opset } },
        };
    }

    /// <summary>A Sequential: input "input", the layers in turn, output "output".</summary>
    private static void Chain(GraphBuilder graph, Model model)
    {
        int[] shape = model.InputShape
            ?? throw new InvalidOperationException($"ONNX export: model '{model.Name}' is not built yet: call it on data, Fit it, or start it with an Input layer.");
        graph.Value("input", shape);
        string value = "input";
        bool nchw = false;
        bool masked = false;
        foreach (var layer in model.Layers)
        {
            // ONNX's recurrent ops have no per-step mask: a masked sequence would be read as if every step were real.
            if (masked && layer is RecurrentLayer or Bidirectional)
                throw new NotSupportedException($"ONNX export: {layer.GetType().Name} '{layer.Name}' reads a masked sequence (Embedding with maskZero or Masking before it); ONNX's recurrent ops have no mask.");
            if (masked && layer is GlobalAveragePooling1D)
                throw new NotSupportedException($"ONNX export: GlobalAveragePooling1D '{layer.Name}' averages the unmasked steps of a masked sequence (Embedding with maskZero or Masking before it); ONNX's pooling has no mask.");
            masked |= layer is Embedding { MaskZero: true } or Masking;
            value = LayerWriter.Write(graph, layer, value, shape, ref nchw);
            shape = layer.ComputeOutputShape(shape);
        }
        if (nchw) value = graph.ToChannelsLast(value, shape.Length);
        graph.Output(value, "output", shape);
    }
}

/// <summary>Extension methods that put ONNX export where a model's other save methods are.</summary>
public static class OnnxModelExtensions
{
    /// <summary>Writes the model as ONNX; see <see cref="OnnxExporter.Save"/>.</summary>
    /// <example><code>model.SaveOnnx("digits.onnx");</code></example>
    public static void SaveOnnx(this Model model, string path, int opset = OnnxExporter.DefaultOpset) => OnnxExporter.Save(model, path, opset);
}

/// <summary>Builds a GraphProto: named values, initializers and nodes.</summary>
internal sealed class GraphBuilder(string name, int opset)
{
    /// <summary>The operator set written (some ops' attributes became inputs).</summary>
    public int Opset { get; } = opset;

    private int counter;

    public GraphProto Graph { get; } = new() { Name = name };

    /// <summary>A fresh value name from a stem.</summary>
    public string Fresh(string stem) => $"{stem}_{counter++}";

    /// <summary>Declares the graph input <paramref name="valueName"/> of Cortex shape (batch axis −1 → dynamic "N").</summary>
    public void Value(string valueName, int[] shape) => Graph.Input.Add(Info(valueName, shape));

    /// <summary>Names <paramref name="value"/> as the graph output <paramref name="outputName"/>.</summary>
    public void Output(string value, string outputName, int[] shape)
    {
        Node("Identity", [value], outputName);
        Graph.Output.Add(Info(outputName, shape));
    }

    private static ValueInfoProto Info(string valueName, int[] shape)
    {
        var dims = new TensorShapeProto();
        for (int i = 0; i < shape.Length; i++)
            dims.Dim.Add(i == 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" }
                : shape[i] < 0 ? new TensorShapeProto.Types.Dimension { DimParam = $"d{i}" }   // known only when called, its own name
                : new TensorShapeProto.Types.Dimension { DimValue = shape[i] });
        return new ValueInfoProto
        {
            Name = valueName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = dims } },
        };
    }

    /// <summary>A float initializer holding <paramref name="values"/> with <paramref name="dims"/>; returns its name.</summary>
    public string Constant(string stem, ReadOnlySpan<float> values, params long[] dims)
    {
        var t = new TensorProto { Name = Fresh(stem), DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
        t.Dims.AddRange(dims);
        Graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>An int64 initializer (a shape); returns its name.</summary>
    public string Int64s(string stem, params long[] values)
    {
        var t = new TensorProto { Name = Fresh(stem), DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.Add(values.Length);
        Graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>Adds a node with several outputs; returns their names.</summary>
    public string[] Nodes(string op, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Fresh(op) };
        node.Input.AddRange(inputs);
        for (int i = 0; i < outputs; i++) node.Output.Add(Fresh(op.ToLowerInvariant()));
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return [.. node.Output];
    }

    /// <summary>Adds a node; returns its (one) output's name.</summary>
    public string Node(string op, string[] inputs, string? output = null, params AttributeProto[] attributes)
    {
        output ??= Fresh(op.ToLowerInvariant());
        var node = new NodeProto { OpType = op, Name = Fresh(op) };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    public static AttributeProto Int(string attr, long v) => new() { Name = attr, Type = AttributeProto.Types.AttributeType.Int, I = v };
    public static AttributeProto String(string attr, string v) => new() { Name = attr, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };
    public static AttributeProto Strings(string attr, IEnumerable<string> v)
    {
        var a = new AttributeProto { Name = attr, Type = AttributeProto.Types.AttributeType.Strings };
        a.Strings.AddRange(v.Select(ByteString.CopyFromUtf8));
        return a;
    }
    public static AttributeProto Float(string attr, float v) => new() { Name = attr, Type = AttributeProto.Types.AttributeType.Float, F = v };
    public static AttributeProto Ints(string attr, params long[] v)
    {
        var a = new AttributeProto { Name = attr, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    /// <summary>NHWC → NCHW (rank 4), or NWC → NCW (rank 3).</summary>
    public string ToChannelsFirst(string value, int rank = 4) => Node("Transpose", [value], null, rank == 3 ? Ints("perm", 0, 2, 1) : Ints("perm", 0, 3, 1, 2));

    /// <summary>NCHW → NHWC (rank 4), or NCW → NWC (rank 3).</summary>
    public string ToChannelsLast(string value, int rank = 4) => Node("Transpose", [value], null, rank == 3 ? Ints("perm", 0, 2, 1) : Ints("perm", 0, 2, 3, 1));
}

/// <summary>
/// A Functional graph: one ONNX input per Input layer (named after it), each layer call's nodes on the values of the
/// tensors it was called on, the merge layers as Add, Sub, Mul, Sum/Div (Average), Max, Min, Concat and Dot (of two
/// matrices over their features) as Mul + ReduceSum, and one output per model output, named as Keras names them.
/// </summary>
internal static class FunctionalWriter
{
    public static void Write(GraphBuilder g, Functional model)
    {
        var layers = model.Nodes.Select(n => n.Layer).ToList();
        if (layers.Any(l => l is Embedding { MaskZero: true } or Masking) && layers.Any(l => l is RecurrentLayer or Bidirectional or GlobalAveragePooling1D))
            throw new NotSupportedException($"ONNX export: model '{model.Name}' carries a mask (Embedding with maskZero or Masking) in a graph with a layer that reads masks; ONNX's ops have no mask.");
        var values = new Dictionary<SymbolicTensor, (string Name, bool Nchw)>();
        foreach (var input in model.Inputs)
        {
            g.Value(input.Layer.Name, input.ShapeRef);
            values[input] = (input.Layer.Name, false);
        }
        foreach (var node in model.Nodes)
        {
            if (node.Layer is Input) continue;
            if (node.Layer is Merge merge)
            {
                var args = node.Inputs.Select(t => ChannelsLast(g, values[t], t.ShapeRef)).ToArray();
                values[node.Output] = (Merged(g, merge, args, node.Inputs[0].ShapeRef), false);
                continue;
            }
            if (node.Layer is RecurrentLayer or Bidirectional && (node.Inputs.Count > 1 || node.Outputs.Count > 1))
                throw new NotSupportedException($"ONNX export: {node.Layer.GetType().Name} '{node.Layer.Name}' " +
                    (node.Inputs.Count > 1 ? $"starts from {node.Inputs.Count - 1} initial state(s)" : $"returns its final state(s) (returnState: {node.Outputs.Count} outputs)") +
                    ", which export does not write yet (ONNX's recurrent ops' initial_h/initial_c inputs and Y_h/Y_c outputs are not mapped). Export a model whose recurrent layers start from zeros and return their output only.");
            if (node.Inputs.Count != 1) throw new NotSupportedException($"ONNX export: {node.Layer.GetType().Name} '{node.Layer.Name}' is called on {node.Inputs.Count} tensors; only merge layers take several.");
            var (value, nchw) = values[node.Inputs[0]];
            value = LayerWriter.Write(g, node.Layer, value, node.Inputs[0].ShapeRef, ref nchw);
            values[node.Output] = (value, nchw);
        }
        var names = model.Outputs.Select(t => t.Layer.Name).ToArray();
        for (int k = 0; k < model.Outputs.Count; k++)
        {
            var t = model.Outputs[k];
            string name = names.Count(n => n == names[k]) > 1 ? $"{names[k]}_{k}" : names[k];
            g.Output(ChannelsLast(g, values[t], t.ShapeRef), name, t.ShapeRef);
        }
    }

    private static string ChannelsLast(GraphBuilder g, (string Name, bool Nchw) v, int[] shape) => v.Nchw ? g.ToChannelsLast(v.Name, shape.Length) : v.Name;

    private static string Merged(GraphBuilder g, Merge merge, string[] args, int[] shape)
    {
        string Fold(string op) => args.Skip(1).Aggregate(args[0], (a, b) => g.Node(op, [a, b]));
        return merge switch
        {
            Layers.Add => Fold("Add"),
            Subtract => g.Node("Sub", [args[0], args[1]]),
            Multiply => Fold("Mul"),
            Average => g.Node("Div", [Fold("Add"), g.Constant($"{merge.Name}/count", [(float)args.Length])]),
            Maximum => g.Node("Max", args),
            Minimum => g.Node("Min", args),
            Concatenate c => g.Node("Concat", args, null, GraphBuilder.Int("axis", c.Axis)),
            Dot { Normalize: false } d when shape.Length == 2 && args.Length == 2 && d.Axes.All(a => a is 1 or -1) =>
                g.Node("ReduceSum", [g.Node("Mul", [args[0], args[1]]), g.Int64s("axes", 1)], null, GraphBuilder.Int("keepdims", 1)),   // axes an input from opset 13
            _ => throw new NotSupportedException($"ONNX export: {merge.GetType().Name} '{merge.Name}' has no ONNX form yet{(merge is Dot ? " (Dot exports for two matrices over their features, without normalize)" : "")}."),
        };
    }
}

/// <summary>Each exportable layer's ONNX nodes.</summary>
internal static class LayerWriter
{
    /// <summary>Writes <paramref name="layer"/> applied to <paramref name="value"/> (Cortex shape <paramref name="shape"/>;
    /// when <paramref name="nchw"/> a rank-4 value is held channels first) and returns the result's name.</summary>
    public static string Write(GraphBuilder g, Layer layer, string value, int[] shape, ref bool nchw)
    {
        switch (layer)
        {
            case Input:
            case Dropout:
            case SpatialDropout2D:
            case GaussianNoise:
                return value;                                               // training only: nothing at inference
            case ZeroPadding2D pad:
            {
                var p = pad.Padding;                                        // ONNX's pads: every axis's start, then every end
                long[] pads = nchw ? [0, 0, p.Top, p.Left, 0, 0, p.Bottom, p.Right] : [0, p.Top, p.Left, 0, 0, p.Bottom, p.Right, 0];
                return g.Node("Pad", [value, g.Int64s($"{pad.Name}/pads", pads)]);   // mode "constant", value 0: the defaults
            }
            case Cropping2D crop:
            {
                var m = crop.Cropping;
                long[] axes = nchw ? [2, 3] : [1, 2];
                return g.Node("Slice", [value, g.Int64s($"{crop.Name}/starts", m.Top, m.Left),
                    g.Int64s($"{crop.Name}/ends", shape[1] - m.Bottom, shape[2] - m.Right), g.Int64s($"{crop.Name}/axes", axes)]);
            }
            case UpSampling2D up:
            {
                if (!nchw) (value, nchw) = (g.ToChannelsFirst(value), true);
                // nearest: input index ⌊o/s⌋ (asymmetric, floor); bilinear: half-pixel centres, as Keras and PyTorch.
                bool nearest = up.Interpolation == "nearest";
                string scales = g.Constant($"{up.Name}/scales", [1f, 1f, up.Size.Height, up.Size.Width], 4);
                return g.Node("Resize", [value, "", scales], null, GraphBuilder.String("mode", nearest ? "nearest" : "linear"),
                    GraphBuilder.String("coordinate_transformation_mode", nearest ? "asymmetric" : "half_pixel"), GraphBuilder.String("nearest_mode", "floor"));
            }
            case LayerNormalization ln:
                return LayerNorm(g, ln, value, shape, ref nchw);
            case GroupNormalization gn:
                return GroupNorm(g, gn, value, shape, ref nchw);
            case Dense dense:
            {
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                string w = g.Constant($"{dense.Name}/kernel", dense.Kernel!.AsSpan(), dense.Kernel.ShapeRef[0], dense.Kernel.ShapeRef[1]);
                string? b = dense.Bias == null ? null : g.Constant($"{dense.Name}/bias", dense.Bias.AsSpan(), dense.Bias.ShapeRef[0]);
                string z = shape.Length == 2
                    ? g.Node("Gemm", b == null ? [value, w] : [value, w, b])
                    : b == null ? g.Node("MatMul", [value, w]) : g.Node("Add", [g.Node("MatMul", [value, w]), b]);
                return Activation(g, dense.Activation, z, channelsAxis: -1, layer);
            }
            case Activation act:
                return Activation(g, act.Function, value, nchw ? 1 : -1, layer);
            case Conv2D conv:
            {
                // channels_first: Cortex's tensor is ONNX's NCHW already; the result stays in Cortex's layout.
                bool first = conv.DataFormat == "channels_first";
                if (first) (value, nchw) = (nchw ? g.ToChannelsLast(value) : value, false);
                else if (!nchw) (value, nchw) = (g.ToChannelsFirst(value), true);
                var win = conv.Window(first ? [shape[0], shape[2], shape[3], shape[1]] : shape);
                var k = conv.Kernel!;
                string w = g.Constant($"{conv.Name}/kernel", Permute(k.AsSpan(), k.ShapeRef, [3, 2, 0, 1]), k.ShapeRef[3], k.ShapeRef[2], k.ShapeRef[0], k.ShapeRef[1]);
                var inputs = conv.Bias == null ? new[] { value, w } : [value, w, g.Constant($"{conv.Name}/bias", conv.Bias.AsSpan(), conv.Bias.ShapeRef[0])];
                string y = g.Node("Conv", inputs, null, GraphBuilder.Ints("kernel_shape", win.KH, win.KW), GraphBuilder.Ints("strides", win.SH, win.SW),
                    GraphBuilder.Ints("dilations", win.DH, win.DW), Pads(win, conv.Padding), GraphBuilder.Int("group", conv.Groups));
                return Activation(g, conv.Activation, y, channelsAxis: 1, layer);
            }
            case DepthwiseConv2D or SeparableConv2D or Conv2DTranspose:
            {
                bool first = layer switch { DepthwiseConv2D d => d.DataFormat, SeparableConv2D s => s.DataFormat, _ => ((Conv2DTranspose)layer).DataFormat } == "channels_first";
                if (first)
                {
                    // Cortex's tensor is ONNX's NCHW already, and the result stays in Cortex's (channels-first) layout.
                    (value, nchw) = (nchw ? g.ToChannelsLast(value) : value, false);
                    return ConvVariant(g, layer, value, [shape[0], shape[2], shape[3], shape[1]]);
                }
                if (!nchw) (value, nchw) = (g.ToChannelsFirst(value), true);
                return ConvVariant(g, layer, value, shape);
            }
            case MaxPooling2D or AveragePooling2D:
            {
                bool first = ((Pooling2D)layer).DataFormat == "channels_first";
                if (first) (value, nchw) = (nchw ? g.ToChannelsLast(value) : value, false);
                else if (!nchw) (value, nchw) = (g.ToChannelsFirst(value), true);
                var win = ((Pooling2D)layer).Window(first ? [shape[0], shape[2], shape[3], shape[1]] : shape);
                var attrs = new List<AttributeProto> { GraphBuilder.Ints("kernel_shape", win.KH, win.KW), GraphBuilder.Ints("strides", win.SH, win.SW), Pads(win, ((Pooling2D)layer).Padding) };
                if (layer is AveragePooling2D) attrs.Add(GraphBuilder.Int("count_include_pad", 0));
                return g.Node(layer is MaxPooling2D ? "MaxPool" : "AveragePool", [value], null, [.. attrs]);
            }
            case GlobalAveragePooling2D gap:
            {
                bool first = gap.DataFormat == "channels_first";
                if (first) value = nchw ? g.ToChannelsLast(value) : value;
                else if (!nchw) value = g.ToChannelsFirst(value);
                nchw = false;
                string pooled = g.Node("GlobalAveragePool", [value]);               // (N, C, 1, 1)
                if (first && gap.KeepDims) return pooled;                            // Cortex's channels-first (N, C, 1, 1)
                return gap.KeepDims ? g.ToChannelsLast(pooled) : g.Node("Flatten", [pooled], null, GraphBuilder.Int("axis", 1));
            }
            case BatchNormalization bn:
                return BatchNorm(g, bn, value, shape, ref nchw);
            case Flatten:
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                return g.Node("Flatten", [value], null, GraphBuilder.Int("axis", 1));
            case Reshape reshape:
            {
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                int[] target = reshape.ComputeOutputShape(shape);
                return g.Node("Reshape", [value, g.Int64s($"{reshape.Name}/shape", [0, .. target[1..].Select(d => (long)d)])]);
            }
            case ReLU relu:
                return Relu(g, relu, value);
            case Layers.Softmax softmax:
            {
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                long[] axes = [.. softmax.Axis.Select(a => (long)(a < 0 ? a + shape.Length : a)).Order()];
                if (axes.Length == 1) return g.Node("Softmax", [value], null, GraphBuilder.Int("axis", axes[0]));
                // Several axes at once: e^(x − logΣe^x) over them (ReduceLogSumExp takes its axes as an input from opset 18).
                string lse = g.Opset >= 18
                    ? g.Node("ReduceLogSumExp", [value, g.Int64s($"{softmax.Name}/axes", axes)], null, GraphBuilder.Int("keepdims", 1))
                    : g.Node("ReduceLogSumExp", [value], null, GraphBuilder.Ints("axes", axes), GraphBuilder.Int("keepdims", 1));
                return g.Node("Exp", [g.Node("Sub", [value, lse])]);
            }
            case Layers.Permute permute:
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                return g.Node("Transpose", [value], null, GraphBuilder.Ints("perm", [0, .. permute.Dims.Select(d => (long)d)]));
            case Normalization norm:
            {
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                int f = norm.MeanWeight!.Size;
                var std = new float[f];
                for (int i = 0; i < f; i++) std[i] = MathF.Max(MathF.Sqrt(norm.VarianceWeight!.AsSpan()[i]), Normalization.Epsilon);
                // The statistics broadcast over the sample: one per feature ([f]), or the sample's rank with 1 on every axis they do not keep.
                long[] dims = norm.MeanWeight.Rank == 1 && norm.Axis is [-1] ? [f] : [.. shape[1..].Select((d, i) => norm.KeepsAxis(i + 1, shape.Length) ? (long)d : 1L)];
                string mean = g.Constant($"{norm.Name}/mean", norm.MeanWeight.AsSpan(), dims), scale = g.Constant($"{norm.Name}/std", std, dims);
                return norm.Invert ? g.Node("Add", [g.Node("Mul", [value, scale]), mean]) : g.Node("Div", [g.Node("Sub", [value, mean]), scale]);
            }
            case RecurrentLayer rnn:
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                return RecurrentWriter.Write(g, rnn, [rnn], "", value, shape, g.Opset);
            case Bidirectional bi:
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                return RecurrentWriter.Write(g, bi, [bi.Forward, bi.Backward], bi.MergeMode, value, shape, g.Opset);
            case Conv1D conv:
            {
                bool first = conv.DataFormat == "channels_first";   // Cortex's (N, C, L) is ONNX's own layout
                if (first) (value, nchw) = (nchw ? g.ToChannelsLast(value, 3) : value, false);
                else if (!nchw) (value, nchw) = (g.ToChannelsFirst(value, 3), true);
                var win = SequenceLayers.Window(conv.Name, first ? [shape[0], shape[2], shape[1]] : shape, conv.KernelSize, conv.Strides, conv.DilationRate, conv.Padding, "kernel size");
                var k = conv.Kernel!;                                     // (k, in, out) → ONNX's (out, in, k)
                string w = g.Constant($"{conv.Name}/kernel", Permute(k.AsSpan(), k.ShapeRef, [2, 1, 0]), k.ShapeRef[2], k.ShapeRef[1], k.ShapeRef[0]);
                var inputs = conv.Bias == null ? new[] { value, w } : [value, w, g.Constant($"{conv.Name}/bias", conv.Bias.AsSpan(), conv.Bias.ShapeRef[0])];
                string y = g.Node("Conv", inputs, null, GraphBuilder.Ints("kernel_shape", win.KW), GraphBuilder.Ints("strides", win.SW),
                    GraphBuilder.Ints("dilations", win.DW), Pads1D(win, conv.Padding));
                return Activation(g, conv.Activation, y, channelsAxis: 1, layer);
            }
            case Pooling1D pool:
            {
                bool first = pool.DataFormat == "channels_first";
                if (first) (value, nchw) = (nchw ? g.ToChannelsLast(value, 3) : value, false);
                else if (!nchw) (value, nchw) = (g.ToChannelsFirst(value, 3), true);
                var win = SequenceLayers.Window(pool.Name, first ? [shape[0], shape[2], shape[1]] : shape, pool.PoolSize, pool.Strides, 1, pool.Padding, "pool size");
                var attrs = new List<AttributeProto> { GraphBuilder.Ints("kernel_shape", win.KW), GraphBuilder.Ints("strides", win.SW), Pads1D(win, pool.Padding) };
                if (pool is AveragePooling1D) attrs.Add(GraphBuilder.Int("count_include_pad", 0));
                return g.Node(pool is MaxPooling1D ? "MaxPool" : "AveragePool", [value], null, [.. attrs]);
            }
            case GlobalPooling1D gp:
            {
                bool first = gp.DataFormat == "channels_first";
                if (first) value = nchw ? g.ToChannelsLast(value, 3) : value;
                else if (!nchw) value = g.ToChannelsFirst(value, 3);
                nchw = false;
                string pooled = g.Node(gp is GlobalMaxPooling1D ? "GlobalMaxPool" : "GlobalAveragePool", [value]);     // (N, C, 1)
                if (first && gp.KeepDims) return pooled;                                                               // Cortex's channels-first (N, C, 1)
                return gp.KeepDims ? g.ToChannelsLast(pooled, 3) : g.Node("Flatten", [pooled], null, GraphBuilder.Int("axis", 1));
            }
            case TimeDistributed { Layer: Dense inner }:
                return Write(g, inner, value, shape, ref nchw);             // Dense already maps the last axis of any rank
            case Masking masking:
            {
                // Keras's Masking zeroes the steps whose features all equal the mask value: x · max_f(x_f ≠ v).
                if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
                string differs = g.Node("Cast", [g.Node("Not", [g.Node("Equal", [value, g.Constant($"{masking.Name}/mask_value", [masking.MaskValue])])])], null,
                    GraphBuilder.Int("to", (long)TensorProto.Types.DataType.Float));
                string keep = g.Opset >= 18
                    ? g.Node("ReduceMax", [differs, g.Int64s("axes", -1)], null, GraphBuilder.Int("keepdims", 1))
                    : g.Node("ReduceMax", [differs], null, GraphBuilder.Ints("axes", -1), GraphBuilder.Int("keepdims", 1));
                return g.Node("Mul", [value, keep]);
            }
            case Embedding emb:
            {
                string indices = g.Node("Cast", [value], null, GraphBuilder.Int("to", (long)TensorProto.Types.DataType.Int64));
                string table = g.Constant($"{emb.Name}/embeddings", emb.Embeddings!.AsSpan(), emb.InputDim, emb.OutputDim);
                return g.Node("Gather", [table, indices], null, GraphBuilder.Int("axis", 0));
            }
            default:
                throw new NotSupportedException($"ONNX export: {layer.GetType().Name} '{layer.Name}' has no ONNX form yet.");
        }
    }

    /// <summary>
    /// DepthwiseConv2D as a Conv with one group per channel (its (KH, KW, C, M) kernel is (KH, KW, 1, C·M), output
    /// channel c·M + m, as ONNX groups them); SeparableConv2D as that Conv then a 1×1 Conv with the bias; Conv2DTranspose
    /// as ConvTranspose, its explicit pads cropping the full result to Keras's size (or output_padding extending it
    /// where Keras's output is longer, when the kernel is smaller than the stride or outputPadding is set). NCHW in and out.
    /// </summary>
    private static string ConvVariant(GraphBuilder g, Layer layer, string value, int[] shape)
    {
        string Depthwise(Window2D win, Variable k, Variable? bias, string name)
        {
            int c = k.ShapeRef[2], m = k.ShapeRef[3];
            string w = g.Constant($"{name}/{(layer is SeparableConv2D ? "depthwise_kernel" : "kernel")}",
                Permute(k.AsSpan(), [win.KH, win.KW, 1, c * m], [3, 2, 0, 1]), c * m, 1, win.KH, win.KW);
            string[] inputs = bias == null ? [value, w] : [value, w, g.Constant($"{name}/bias", bias.AsSpan(), bias.ShapeRef[0])];
            return g.Node("Conv", inputs, null, GraphBuilder.Ints("kernel_shape", win.KH, win.KW), GraphBuilder.Ints("strides", win.SH, win.SW),
                GraphBuilder.Ints("dilations", win.DH, win.DW), Pads(win, layer is SeparableConv2D sep ? sep.Padding : ((DepthwiseConv2D)layer).Padding), GraphBuilder.Int("group", c));
        }
        switch (layer)
        {
            case DepthwiseConv2D dw:
                return Activation(g, dw.Activation, Depthwise(dw.Window(shape), dw.Kernel!, dw.Bias, dw.Name), channelsAxis: 1, layer);
            case SeparableConv2D sep:
            {
                string mid = Depthwise(sep.Window(shape), sep.DepthwiseKernel!, null, sep.Name);
                var p = sep.PointwiseKernel!;
                string w = g.Constant($"{sep.Name}/pointwise_kernel", Permute(p.AsSpan(), p.ShapeRef, [3, 2, 0, 1]), p.ShapeRef[3], p.ShapeRef[2], 1, 1);
                string[] inputs = sep.Bias == null ? [mid, w] : [mid, w, g.Constant($"{sep.Name}/bias", sep.Bias.AsSpan(), sep.Bias.ShapeRef[0])];
                return Activation(g, sep.Activation, g.Node("Conv", inputs, null, GraphBuilder.Ints("kernel_shape", 1, 1)), channelsAxis: 1, layer);
            }
            default:
            {
                var tr = (Conv2DTranspose)layer;
                if (shape[1] < 0 || shape[2] < 0)
                    throw new NotSupportedException($"ONNX export: Conv2DTranspose '{tr.Name}' gets images whose size is known only when called; its exported pads need the size.");
                var win = tr.Window(shape);   // H, W: the output; OH, OW: the input
                var k = tr.Kernel!;           // (KH, KW, F, C) → ONNX's (C, F, KH, KW)
                string w = g.Constant($"{tr.Name}/kernel", Permute(k.AsSpan(), k.ShapeRef, [3, 2, 0, 1]), k.ShapeRef[3], k.ShapeRef[2], k.ShapeRef[0], k.ShapeRef[1]);
                string[] inputs = tr.Bias == null ? [value, w] : [value, w, g.Constant($"{tr.Name}/bias", tr.Bias.AsSpan(), tr.Bias.ShapeRef[0])];
                // The full result is (in − 1)·s + (k − 1)·d + 1 long; Keras's output starts PadTop into it.
                int fullH = (win.OH - 1) * win.SH + (win.KH - 1) * win.DH + 1, fullW = (win.OW - 1) * win.SW + (win.KW - 1) * win.DW + 1;
                int endH = fullH - win.PadTop - win.H, endW = fullW - win.PadLeft - win.W;
                string y = g.Node("ConvTranspose", inputs, null, GraphBuilder.Ints("kernel_shape", win.KH, win.KW), GraphBuilder.Ints("strides", win.SH, win.SW),
                    GraphBuilder.Ints("dilations", win.DH, win.DW), GraphBuilder.Ints("pads", win.PadTop, win.PadLeft, Math.Max(endH, 0), Math.Max(endW, 0)),
                    GraphBuilder.Ints("output_padding", Math.Max(-endH, 0), Math.Max(-endW, 0)));
                return Activation(g, tr.Activation, y, channelsAxis: 1, layer);
            }
        }
    }

    /// <summary>Explicit pads [top, left, bottom, right] for a window: Keras's "same" puts the odd pixel at the bottom/right.</summary>
    private static AttributeProto Pads(Window2D w, string padding)
    {
        // A size known only when the model is called (−1): ONNX works Keras's "same" out per call (SAME_UPPER puts the
        // odd pixel at the bottom and right, as Keras); "valid" has none.
        if (w.H < 0 || w.W < 0) return padding == "same" ? GraphBuilder.String("auto_pad", "SAME_UPPER") : GraphBuilder.Ints("pads", 0, 0, 0, 0);
        int totalH = Math.Max((w.OH - 1) * w.SH + (w.KH - 1) * w.DH + 1 - w.H, 0), totalW = Math.Max((w.OW - 1) * w.SW + (w.KW - 1) * w.DW + 1 - w.W, 0);
        return GraphBuilder.Ints("pads", w.PadTop, w.PadLeft, Math.Max(totalH - w.PadTop, 0), Math.Max(totalW - w.PadLeft, 0));
    }

    /// <summary>Explicit pads [left, right] for a 1-D window (height 1): "same" puts the odd step on the right, "causal"
    /// all of the padding on the left.</summary>
    private static AttributeProto Pads1D(Window2D w, string padding)
    {
        if (w.W < 0 && padding != "causal") return padding == "same" ? GraphBuilder.String("auto_pad", "SAME_UPPER") : GraphBuilder.Ints("pads", 0, 0);
        int total = Math.Max((w.OW - 1) * w.SW + (w.KW - 1) * w.DW + 1 - w.W, 0);
        return GraphBuilder.Ints("pads", w.PadLeft, Math.Max(total - w.PadLeft, 0));
    }

    /// <summary>The inference form: ONNX's BatchNormalization when the normalised axis is axis 1 in the value's
    /// layout (channels of an NCHW image, features of a matrix); otherwise x·scale + shift with broadcast constants.</summary>
    private static string BatchNorm(GraphBuilder g, BatchNormalization bn, string value, int[] shape, ref bool nchw)
    {
        int axis = bn.Axis < 0 ? bn.Axis + shape.Length : bn.Axis, c = shape[axis];
        if (shape.Length == 4 && axis == 3 && !nchw) (value, nchw) = (g.ToChannelsFirst(value), true);
        if (shape.Length != 4 && nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
        var ones = Enumerable.Repeat(1f, c).ToArray();
        string gamma = g.Constant($"{bn.Name}/gamma", bn.Gamma == null ? ones : bn.Gamma.AsSpan(), c);
        string beta = g.Constant($"{bn.Name}/beta", bn.Beta == null ? new float[c] : bn.Beta.AsSpan(), c);
        string mean = g.Constant($"{bn.Name}/moving_mean", bn.MovingMean!.AsSpan(), c);
        string variance = g.Constant($"{bn.Name}/moving_variance", bn.MovingVariance!.AsSpan(), c);
        if ((shape.Length == 4 && axis == 3) || axis == 1)
            return g.Node("BatchNormalization", [value, gamma, beta, mean, variance], null, GraphBuilder.Float("epsilon", bn.Epsilon));
        // Another axis (channels last of a sequence, …): scale = γ/√(σ² + ε), shift = β − μ·scale, broadcast from the axis.
        var scale = new float[c];
        var shift = new float[c];
        for (int i = 0; i < c; i++)
        {
            scale[i] = (bn.Gamma == null ? 1f : bn.Gamma.AsSpan()[i]) / MathF.Sqrt(bn.MovingVariance.AsSpan()[i] + bn.Epsilon);
            shift[i] = (bn.Beta == null ? 0f : bn.Beta.AsSpan()[i]) - bn.MovingMean.AsSpan()[i] * scale[i];
        }
        long[] dims = [c, .. Enumerable.Repeat(1L, shape.Length - 1 - axis)];
        return g.Node("Add", [g.Node("Mul", [value, g.Constant($"{bn.Name}/scale", scale, dims)]), g.Constant($"{bn.Name}/shift", shift, dims)]);
    }

    /// <summary>ONNX's LayerNormalization (opset 17) when the axes run to the last (it normalises from an axis to the
    /// end); otherwise (an earlier opset, other axes) its decomposition, γ and β broadcast from the first axis.</summary>
    private static string LayerNorm(GraphBuilder g, LayerNormalization ln, string value, int[] shape, ref bool nchw)
    {
        if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
        int[] axes = [.. ln.Axis.Select(a => a < 0 ? a + shape.Length : a).Order()];
        int first = axes[0];
        long[] dims = [.. Enumerable.Range(first, shape.Length - first).Select(d => axes.Contains(d) ? (long)shape[d] : 1L)];
        if (axes.Length == shape.Length - first && g.Opset >= 17)
        {
            int n = (int)dims.Aggregate(1L, (x, y) => x * y);
            string gamma = g.Constant($"{ln.Name}/gamma", ln.Gamma == null ? Enumerable.Repeat(1f, n).ToArray() : ln.Gamma.AsSpan(), dims);
            string[] inputs = ln.Beta == null ? [value, gamma] : [value, gamma, g.Constant($"{ln.Name}/beta", ln.Beta.AsSpan(), dims)];
            return g.Node("LayerNormalization", inputs, null, GraphBuilder.Int("axis", first), GraphBuilder.Float("epsilon", ln.Epsilon));
        }
        return ScaleShift(g, ln.Name, Standardize(g, value, [.. axes.Select(a => (long)a)], ln.Epsilon), ln.Gamma, ln.Beta, dims);
    }

    /// <summary>Channels last: reshaped to (N, positions, groups, channels per group), standardised over axes 1 and 3,
    /// reshaped back, then γ and β per channel (ONNX's own GroupNormalization changed meaning between opsets 18 and 21).</summary>
    private static string GroupNorm(GraphBuilder g, GroupNormalization gn, string value, int[] shape, ref bool nchw)
    {
        int axis = gn.Axis < 0 ? gn.Axis + shape.Length : gn.Axis, c = shape[axis];
        if (axis != shape.Length - 1)
            throw new NotSupportedException($"ONNX export: GroupNormalization '{gn.Name}' groups axis {gn.Axis} of a rank-{shape.Length} input; its ONNX form groups the last (channel) axis.");
        if (nchw) (value, nchw) = (g.ToChannelsLast(value, shape.Length), false);
        long positions = shape[1..^1].Aggregate(1L, (a, b) => a * b);
        string grouped = g.Node("Reshape", [value, g.Int64s($"{gn.Name}/groups", 0, positions, gn.Groups, c / gn.Groups)]);
        string normalized = Standardize(g, grouped, [1, 3], gn.Epsilon);
        string back = g.Node("Reshape", [normalized, g.Int64s($"{gn.Name}/shape", [0, .. shape[1..].Select(d => (long)d)])]);
        return ScaleShift(g, gn.Name, back, gn.Gamma, gn.Beta, c);
    }

    /// <summary>(x − mean)/√(var + ε) over <paramref name="axes"/> (biased variance), each reduction keeping its axes.</summary>
    private static string Standardize(GraphBuilder g, string value, long[] axes, float epsilon)
    {
        string Mean(string x) => g.Opset >= 18
            ? g.Node("ReduceMean", [x, g.Int64s("axes", axes)], null, GraphBuilder.Int("keepdims", 1))
            : g.Node("ReduceMean", [x], null, GraphBuilder.Ints("axes", axes), GraphBuilder.Int("keepdims", 1));
        string centred = g.Node("Sub", [value, Mean(value)]);
        string variance = Mean(g.Node("Mul", [centred, centred]));
        return g.Node("Div", [centred, g.Node("Sqrt", [g.Node("Add", [variance, g.Constant("epsilon", [epsilon])])])]);
    }

    /// <summary>x·γ + β with constants of <paramref name="dims"/> (each left out when the layer has none).</summary>
    private static string ScaleShift(GraphBuilder g, string name, string value, Variable? gamma, Variable? beta, params long[] dims)
    {
        if (gamma != null) value = g.Node("Mul", [value, g.Constant($"{name}/gamma", gamma.AsSpan(), dims)]);
        if (beta != null) value = g.Node("Add", [value, g.Constant($"{name}/beta", beta.AsSpan(), dims)]);
        return value;
    }

    /// <summary>An activation's nodes; <paramref name="channelsAxis"/> is where softmax normalises (the last axis in
    /// Cortex's layout: 1 in NCHW).</summary>
    private static string Activation(GraphBuilder g, ActivationFunction f, string value, int channelsAxis, Layer layer) => f.Name switch
    {
        "linear" => value,
        "relu" => g.Node("Relu", [value]),
        "sigmoid" => g.Node("Sigmoid", [value]),
        "tanh" => g.Node("Tanh", [value]),
        "softplus" => g.Node("Softplus", [value]),
        "selu" => g.Node("Selu", [value]),
        "softmax" => g.Node("Softmax", [value], null, GraphBuilder.Int("axis", channelsAxis)),
        "leaky_relu" => g.Node("LeakyRelu", [value], null, GraphBuilder.Float("alpha", f.Alpha)),
        "elu" => g.Node("Elu", [value], null, GraphBuilder.Float("alpha", f.Alpha)),
        "relu6" => g.Node("Clip", [value, g.Constant("zero", [0f]), g.Constant("six", [6f])]),
        "silu" => g.Node("Mul", [value, g.Node("Sigmoid", [value])]),
        "softsign" => g.Node("Softsign", [value]),
        "hard_sigmoid" => HardSigmoid(g, value),
        "hard_silu" => g.Opset >= 14 ? g.Node("HardSwish", [value]) : g.Node("Mul", [value, HardSigmoid(g, value)]),
        "mish" => g.Opset >= 18 ? g.Node("Mish", [value]) : g.Node("Mul", [value, g.Node("Tanh", [g.Node("Softplus", [value])])]),
        // ½·x·(1 + erf(x/√2)) in the order torch.onnx writes it (Div, Erf, Add, Mul, Mul), which the importer reads back.
        "gelu" => g.Opset >= 20 ? g.Node("Gelu", [value])
            : g.Node("Mul", [g.Node("Mul", [value, g.Node("Add", [g.Node("Erf", [g.Node("Div", [value, g.Constant("sqrt2", [MathF.Sqrt(2f)])])]), g.Constant("one", [1f])])]), g.Constant("half", [0.5f])]),
        "gelu_approximate" => g.Opset >= 20 ? g.Node("Gelu", [value], null, GraphBuilder.String("approximate", "tanh"))
            : throw new NotSupportedException($"ONNX export: {layer.GetType().Name} '{layer.Name}' has the activation gelu(approximate: true), whose ONNX form (Gelu with approximate=\"tanh\") needs opset 20 or later. Received: opset={g.Opset}"),
        _ => throw new NotSupportedException($"ONNX export: {layer.GetType().Name} '{layer.Name}' has the activation '{f.Name}', which has no ONNX form yet."),
    };

    /// <summary>
    /// Keras's ReLU layer: Relu, LeakyRelu or Clip(0, max) when its threshold is 0 and it has those forms; otherwise
    /// x &gt; t ? min(x, max) : 0 − s·(t − x) as Where(Greater(x, t), Min(x, max), Sub(0, Mul(s, Sub(t, x)))), the
    /// order <see cref="ChainReader"/> reads back as the layer.
    /// </summary>
    private static string Relu(GraphBuilder g, ReLU relu, string value)
    {
        float t = relu.Threshold, s = relu.NegativeSlope;
        if (t == 0 && relu.MaxValue == null) return s == 0 ? g.Node("Relu", [value]) : g.Node("LeakyRelu", [value], null, GraphBuilder.Float("alpha", s));
        if (t == 0 && s == 0) return g.Node("Clip", [value, g.Constant("zero", [0f]), g.Constant($"{relu.Name}/max_value", [relu.MaxValue!.Value])]);
        string threshold = g.Constant($"{relu.Name}/threshold", [t]);
        string above = g.Node("Greater", [value, threshold]);
        string kept = relu.MaxValue is float max ? g.Node("Min", [value, g.Constant($"{relu.Name}/max_value", [max])]) : value;
        string below = g.Node("Sub", [g.Constant("zero", [0f]), g.Node("Mul", [g.Constant($"{relu.Name}/negative_slope", [s]), g.Node("Sub", [threshold, value])])]);
        return g.Node("Where", [above, kept, below]);
    }

    /// <summary>Keras's hard_sigmoid, relu6(x + 3)/6: ONNX's HardSigmoid with α = 1/6, β = ½ (as PyTorch's Hardsigmoid).</summary>
    private static string HardSigmoid(GraphBuilder g, string value) =>
        g.Node("HardSigmoid", [value], null, GraphBuilder.Float("alpha", 1f / 6f), GraphBuilder.Float("beta", 0.5f));

    /// <summary>A copy of <paramref name="values"/> (of <paramref name="shape"/>) with its axes permuted: output axis i is input axis perm[i].</summary>
    internal static float[] Permute(ReadOnlySpan<float> values, int[] shape, int[] perm)
    {
        var result = new float[values.Length];
        Kernels.Permute.Run(values, shape, perm, result);
        return result;
    }
}
