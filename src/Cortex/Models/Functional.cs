using Cortex.Layers;

namespace Cortex.Models;

/// <summary>
/// A model defined as a graph of layers, as Keras's Functional API: <see cref="Input"/>s, layers called on symbolic
/// tensors (<see cref="Layer.Call(SymbolicTensor[])"/>), and the model made from the inputs and the outputs. Layers may
/// take several inputs (<see cref="Add"/>, <see cref="Concatenate"/>) and may be called more than once (shared
/// weights). It trains, evaluates, predicts, prints its summary and saves like any <see cref="Model"/>; it trains on the
/// GradientTape, or, with one input and one output and no shared layer, on the fused step when every layer has a stage.
/// </summary>
/// <example>
/// <code>
/// var inputs = new Input([784], name: "pixels");
/// SymbolicTensor x = new Dense(64, "relu").Call(inputs);
/// var skip = x;
/// x = new Dense(64, "relu").Call(x);
/// x = new Add().Call(x, skip);
/// var outputs = new Dense(10).Call(x);
/// var model = new Functional(inputs, outputs, name: "mlp");
/// model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
/// model.Fit(xTrain, yTrain, epochs: 5);
/// </code>
/// </example>
/// <remarks>The graph is fixed when the model is made (its layers are built then), so the thread rules of
/// <see cref="Model"/> hold as they are: a forward pass reads the graph and the weights and writes only its own
/// tensors.</remarks>
public sealed class Functional : Model
{
    private readonly SymbolicTensor[] inputs, outputs;
    private readonly Node[] nodes;        // topological order, the inputs' nodes first
    private readonly (int Node, int Index)[][] nodeInputs;  // for each node, where its inputs came from: a node's position in nodes, and which of its outputs
    private readonly (int Node, int Index)[] outputNodes;   // where the outputs come from
    private readonly Dictionary<Layer, List<Node>> calls = new(ReferenceEqualityComparer.Instance); // each layer's nodes, in order

    /// <summary>Makes a model from one input and one output.</summary>
    /// <exception cref="ArgumentException">The output does not depend on the input alone (graph disconnected), the
    /// input is not an <see cref="Input"/>'s tensor, or two layers share a name.</exception>
    public Functional(SymbolicTensor inputs, SymbolicTensor outputs, string? name = null)
        : this([inputs], [outputs], name) { }

    /// <summary>Makes a model from its inputs and outputs (each an <see cref="Input"/>'s tensor and a tensor computed
    /// from them); the layers are those on the paths between them.</summary>
    /// <exception cref="ArgumentException">No inputs or outputs; an output needs an input that is not listed (graph
    /// disconnected); an input is unused, listed twice or not an <see cref="Input"/>'s tensor; two layers share a name;
    /// the graph has a cycle.</exception>
    public Functional(IReadOnlyList<SymbolicTensor> inputs, IReadOnlyList<SymbolicTensor> outputs, string? name = null)
        : base(name, "functional")
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        if (inputs.Count == 0 || outputs.Count == 0)
            throw new ArgumentException($"Functional '{Name}' needs at least one input and one output. Received: {inputs.Count} inputs, {outputs.Count} outputs");
        this.inputs = [.. inputs];
        this.outputs = [.. outputs];
        if (this.inputs.Contains(null!) || this.outputs.Contains(null!)) throw new ArgumentNullException(nameof(inputs), $"Functional '{Name}': an input or output is null.");
        nodes = Order(this.inputs, this.outputs);
        var position = new Dictionary<Node, int>();
        for (int i = 0; i < nodes.Length; i++) position[nodes[i]] = i;
        nodeInputs = [.. nodes.Select(n => n.Inputs.Select(t => (position[t.Node], t.Index)).ToArray())];
        outputNodes = [.. this.outputs.Select(t => (position[t.Node], t.Index))];

        foreach (var node in nodes)
        {
            if (!calls.TryGetValue(node.Layer, out var own))
            {
                calls[node.Layer] = own = [];
                layers.Add(node.Layer);
            }
            own.Add(node);
        }
        var duplicate = layers.GroupBy(l => l.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null)
            throw new ArgumentException($"Functional '{Name}': the name \"{duplicate.Key}\" is used {duplicate.Count()} times in the model. All layer names should be unique.");
        foreach (var t in this.inputs)
        {
            var input = (Input)t.Layer;
            input.EnsureBuilt([-1, .. input.SampleShape]);
        }
    }

    /// <summary>The model's input tensors.</summary>
    public IReadOnlyList<SymbolicTensor> Inputs => inputs;

    /// <summary>The model's output tensors.</summary>
    public IReadOnlyList<SymbolicTensor> Outputs => outputs;

    /// <summary>The layer calls in the order a forward pass runs them (the inputs first).</summary>
    public IReadOnlyList<Node> Nodes => nodes;

    /// <summary>The graph's calls for the fused step, which takes one input, one output and no shared layer.</summary>
    internal override (Layer Layer, int[] From)[]? StageGraph(out string reason)
    {
        var shared = calls.Values.FirstOrDefault(c => c.Count > 1);
        var states = nodes.FirstOrDefault(n => n.Outputs.Count > 1);
        reason = inputs.Length != 1 || outputs.Length != 1 ? "the model has several inputs or outputs"
            : shared != null ? $"layer '{shared[0].Layer.Name}' is shared (called {shared.Count} times)"
            : states != null ? $"layer '{states.Layer.Name}' returns several tensors (its states)"
            : "";
        if (reason.Length > 0) return null;
        var graph = new (Layer, int[])[nodes.Length];
        for (int k = 0; k < nodes.Length; k++) graph[k] = (nodes[k].Layer, k == 0 ? [-1] : [.. nodeInputs[k].Select(i => i.Node)]);
        return graph;
    }

    /// <summary>
    /// The nodes between the inputs and the outputs, each after the nodes it reads: the inputs' nodes in the given order,
    /// then a depth-first walk from the outputs (iterative, so a deep graph cannot overflow the stack).
    /// </summary>
    private Node[] Order(SymbolicTensor[] ins, SymbolicTensor[] outs)
    {
        var order = new List<Node>();
        var done = new HashSet<Node>();
        foreach (var t in ins)
        {
            if (t.Layer is not Input)
                throw new ArgumentException($"Functional '{Name}': every input must be an Input's tensor (new Input(shape)). Received: {t}, made by {t.Layer.GetType().Name} '{t.Layer.Name}'");
            if (!done.Add(t.Node)) throw new ArgumentException($"Functional '{Name}': input {t} is listed twice.");
            order.Add(t.Node);
        }
        var used = new HashSet<Node>();
        var visiting = new HashSet<Node>(); // the nodes on the current path from an output: meeting one again is a cycle
        var stack = new Stack<(Node Node, int Next, SymbolicTensor Output)>();
        foreach (var output in outs)
        {
            stack.Push((output.Node, 0, output));
            while (stack.Count > 0)
            {
                var (node, next, from) = stack.Pop();
                if (done.Contains(node))
                {
                    used.Add(node);
                    continue;
                }
                if (next == 0 && !visiting.Add(node))
                    throw new ArgumentException($"Functional '{Name}': the graph has a cycle: {node.Output} ({node.Layer.GetType().Name} '{node.Layer.Name}') depends on itself. A graph of layers must be acyclic.");
                if (node.Layer is Input)
                    throw new ArgumentException($"Functional '{Name}': graph disconnected: output {from} depends on {node.Output} (Input '{node.Layer.Name}'), which is not among the model's inputs [{string.Join(", ", ins.Select(t => t.Name))}]. Pass it as an input, or compute the output from the given inputs.");
                if (next < node.Inputs.Count)
                {
                    stack.Push((node, next + 1, from));
                    stack.Push((node.Inputs[next].Node, 0, from));
                    continue;
                }
                done.Add(node);
                visiting.Remove(node);
                order.Add(node);
            }
        }
        foreach (var t in ins)
            if (!used.Contains(t.Node))
                throw new ArgumentException($"Functional '{Name}': input {t} is not connected to any output. Remove it from the inputs, or use it.");
        return [.. order];
    }

    /// <summary>Runs the graph on one tensor per input; returns one tensor per output.</summary>
    private Tensor[] Run(IReadOnlyList<Tensor> xs, bool training)
    {
        if (xs.Count != inputs.Length)
            throw new ArgumentException($"Functional '{Name}' expects {inputs.Length} inputs ({string.Join(", ", inputs.Select(t => FormatShape(t.ShapeRef)))}). Received: {xs.Count}");
        var values = new Tensor[nodes.Length][]; // each node's outputs
        for (int i = 0; i < inputs.Length; i++) values[i] = [nodes[i].Layer.Call(xs[i], training)]; // the Input checks the shape
        for (int k = inputs.Length; k < nodes.Length; k++)
        {
            var from = nodeInputs[k];
            if (from.Length == 1 && nodes[k].Outputs.Count == 1) values[k] = [nodes[k].Layer.Call(values[from[0].Node][from[0].Index], training)];
            else
            {
                var args = new Tensor[from.Length];
                for (int j = 0; j < from.Length; j++) args[j] = values[from[j].Node][from[j].Index];
                values[k] = nodes[k].Layer.CallNode(args, training); // a recurrent layer's: the sequence, then initial states
            }
        }
        var result = new Tensor[outputNodes.Length];
        for (int j = 0; j < result.Length; j++) result[j] = values[outputNodes[j].Node][outputNodes[j].Index];
        return result;
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor x, bool training)
    {
        if (outputs.Length != 1 || inputs.Length != 1)
            throw new InvalidOperationException($"Functional '{Name}' has {inputs.Length} inputs and {outputs.Length} outputs: pass one tensor per input, as an array, to Call, Predict, Evaluate or Fit (which then return one per output).");
        return Run([x], training)[0];
    }

    /// <summary>
    /// Calls this model, as a block, on a symbolic tensor: its layers are called again on it, in the graph's order, so
    /// a Functional nests in another with its weights shared (each call shares them again), as a Keras model called
    /// on a tensor. The model needs one input and one output; see <see cref="Call(IReadOnlyList{SymbolicTensor})"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// var block = new Functional(blockIn, blockOut);            // e.g. a residual block
    /// var x = new Input([64]);
    /// var y = block.Call(block.Call(x));                         // the same block twice, one set of weights
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">The tensor's shape does not fit the model's input.</exception>
    /// <exception cref="InvalidOperationException">The model has several inputs or outputs, or another thread is changing it.</exception>
    public SymbolicTensor Call(SymbolicTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (inputs.Length != 1 || outputs.Length != 1)
            throw new InvalidOperationException($"Functional '{Name}' has {inputs.Length} inputs and {outputs.Length} outputs: call it on a list of symbolic tensors, one per input.");
        return Call([x])[0];
    }

    /// <summary>Calls this model, as a block, on one symbolic tensor per input; returns one per output.</summary>
    /// <exception cref="ArgumentException">The number of tensors or a shape does not fit the model's inputs.</exception>
    /// <exception cref="InvalidOperationException">Another thread is changing the model.</exception>
    public SymbolicTensor[] Call(IReadOnlyList<SymbolicTensor> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Count != inputs.Length)
            throw new ArgumentException($"Functional '{Name}' takes {inputs.Length} input(s). Received: {x.Count} tensors", nameof(x));
        using var use = UseToRead("Call");
        var values = new IReadOnlyList<SymbolicTensor>[nodes.Length]; // each node's outputs
        for (int i = 0; i < inputs.Length; i++)
        {
            values[i] = [x[i] ?? throw new ArgumentNullException(nameof(x))];
            nodes[i].Layer.CheckSymbolic(values[i][0].ShapeRef); // the Input's message for a shape it does not take
        }
        for (int k = inputs.Length; k < nodes.Length; k++)
            values[k] = nodes[k].Layer.Call([.. nodeInputs[k].Select(j => values[j.Node][j.Index])]).Node.Outputs;
        return [.. outputNodes.Select(j => values[j.Node][j.Index])];
    }

    /// <summary>Checks that <paramref name="inputShape"/> fits the model's input (the layers were built when the model was made).</summary>
    /// <exception cref="ArgumentException">The shape does not fit.</exception>
    public override void Build(int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        var sample = ((Input)inputs[0].Layer).SampleShape;
        if (inputShape.Length != sample.Length + 1 || !inputShape.AsSpan(1).SequenceEqual(sample))
            throw new ArgumentException($"Functional '{Name}' expects input shape {FormatShape(inputs[0].ShapeRef)}. Received: {ShapeUtil.Format(inputShape)}");
    }

    /// <inheritdoc/>
    public override int[] OutputShape() => outputs[0].Shape;

    /// <summary>Every Input, and every layer that reads one directly, checks all its rows (an Embedding's indices)
    /// before Fit's first update.</summary>
    private protected override void CheckAllRows(Tensor[] x)
    {
        for (int k = 0; k < nodes.Length; k++)
        {
            if (k < inputs.Length) nodes[k].Layer.CheckData(x[k]);
            // One input, or a recurrent layer's sequence (its initial states follow).
            else if ((nodeInputs[k].Length == 1 || nodes[k].Layer.States != null) && nodeInputs[k][0].Node is int i && i < inputs.Length)
                nodes[k].Layer.CheckData(x[i]);
        }
    }

    /// <inheritdoc/>
    internal override int InputCount => inputs.Length;

    /// <summary>The names of the layers that make the outputs (Keras's output names: <c>dense_1_loss</c> in the logs); a
    /// layer that makes several outputs names them <c>{layer}_{output index}</c> so that no two share a key.</summary>
    internal override IReadOnlyList<string> OutputNames
    {
        get
        {
            var names = outputs.Select(t => t.Layer.Name).ToArray();
            return [.. names.Select((n, k) => names.Count(o => o == n) > 1 ? $"{n}_{k}" : n)];
        }
    }

    /// <inheritdoc/>
    private protected override Tensor[] CallAll(IReadOnlyList<Tensor> x, bool training) => Run(x, training);

    /// <inheritdoc/>
    internal override int[] OutputShapeOf(int k) => outputs[k].Shape;

    /// <summary>The calls of <paramref name="layer"/> in this model, in the order the forward pass runs them.</summary>
    internal IReadOnlyList<Node> NodesOf(Layer layer) => calls[layer];

    /// <summary>Where a tensor of this model comes from, as Keras saves it: the producing layer's name, the index of the
    /// call among that layer's calls in this model, and the output's index among the call's outputs (0, or 1, 2, … for
    /// the states of a recurrent layer with <c>returnState</c>).</summary>
    internal (string Layer, int Node, int Tensor) History(SymbolicTensor t) => (t.Layer.Name, calls[t.Layer].IndexOf(t.Node), t.Index);

    /// <summary>One row per layer; "Connected to" names, for each call, the tensors it read as
    /// <c>layer[node][tensor]</c> (<c>lstm[0][1]</c>: the h state of lstm's first call); a call with several outputs
    /// shows their shapes as a list, as Keras.</summary>
    private protected override IEnumerable<SummaryRow> SummaryRows()
    {
        foreach (var layer in layers)
        {
            var own = calls[layer];
            var shapes = own.Select(n => n.Outputs.Count == 1 ? FormatShape(n.Output.ShapeRef)
                : $"[{string.Join(", ", n.Outputs.Select(t => FormatShape(t.ShapeRef)))}]").Distinct().ToList();
            var links = own.SelectMany(n => n.Inputs).Select(History).Select(h => $"{h.Layer}[{h.Node}][{h.Tensor}]").ToList();
            yield return new SummaryRow(layer, shapes.Count == 1 ? shapes[0] : "multiple", links);
        }
    }
}
