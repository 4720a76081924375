using Cortex.Layers;

namespace Cortex;

/// <summary>
/// A tensor without values that stands for a layer's output in a model being defined, as Keras's <c>KerasTensor</c>:
/// it has a <see cref="Shape"/> (the batch axis as -1) and remembers the <see cref="Node"/> (the layer call) that made
/// it, so a <see cref="Models.Functional"/> model can be built from inputs and outputs.
/// </summary>
/// <example>
/// <code>
/// var inputs = new Input([784], name: "pixels");
/// SymbolicTensor x = new Dense(64, "relu").Call(inputs);
/// Console.WriteLine(x);   // &lt;SymbolicTensor shape=(None, 64), name=dense&gt;
/// </code>
/// </example>
public sealed class SymbolicTensor
{
    private readonly int[] shape;

    internal SymbolicTensor(int[] shape, string name, Node node, int index)
    {
        this.shape = shape;
        Name = name;
        Node = node;
        Index = index;
    }

    /// <summary>The shape, batch axis included as -1 (Keras's None).</summary>
    public int[] Shape => (int[])shape.Clone();

    internal int[] ShapeRef => shape;

    /// <summary>The number of axes, the batch axis included.</summary>
    public int Rank => shape.Length;

    /// <summary>The name: the producing layer's for its first call, then <c>name_1</c>, <c>name_2</c>, ….</summary>
    public string Name { get; }

    /// <summary>The layer call that made this tensor.</summary>
    public Node Node { get; }

    /// <summary>Which of its node's <see cref="Node.Outputs"/> this tensor is: 0 for a layer's output, 1, 2, … for the
    /// states a recurrent layer with <c>returnState</c> returns (Keras's <c>tensor_index</c>).</summary>
    public int Index { get; }

    /// <summary>The layer that made this tensor (an <see cref="Input"/> for a model input).</summary>
    public Layer Layer => Node.Layer;

    /// <summary>An <see cref="Input"/> layer stands for its output tensor, as Keras's <c>Input()</c> returns one.</summary>
    public static implicit operator SymbolicTensor(Input input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Output;
    }

    /// <inheritdoc/>
    public override string ToString() => $"<SymbolicTensor shape={Models.Model.FormatShape(shape)}, name={Name}>";
}

/// <summary>
/// One call of a layer on symbolic tensors (Keras's <c>Node</c>): the layer, the tensors it was called on, and the
/// tensors it made — one, or for a recurrent layer with <c>returnState</c> its output then its final states. A layer
/// called twice (shared) has two nodes and one set of weights.
/// </summary>
/// <example>
/// <code>
/// var y = dense.Call(x); Node n = y.Node;   // n.Layer == dense, n.Inputs[0] == x, n.Output == y
/// SymbolicTensor[] outs = new LSTM(8, returnState: true).CallWithState(x);   // outs[2].Node.Outputs == outs, outs[2].Index == 2
/// </code>
/// </example>
public sealed class Node
{
    internal Node(Layer layer, SymbolicTensor[] inputs, int[][] outputShapes, string name)
    {
        Layer = layer;
        Inputs = inputs;
        Outputs = [.. outputShapes.Select((shape, k) => new SymbolicTensor(shape, k == 0 ? name : $"{name}:{k}", this, k))];
    }

    /// <summary>The layer called.</summary>
    public Layer Layer { get; }

    /// <summary>The tensors it was called on (none for an <see cref="Layers.Input"/>).</summary>
    public IReadOnlyList<SymbolicTensor> Inputs { get; }

    /// <summary>The tensors the call made, in order (Keras's output tensors: <c>[output, h, c]</c> for an LSTM with
    /// <c>returnState</c>).</summary>
    public IReadOnlyList<SymbolicTensor> Outputs { get; }

    /// <summary>The call's (first) output: <c>Outputs[0]</c>.</summary>
    public SymbolicTensor Output => Outputs[0];
}
