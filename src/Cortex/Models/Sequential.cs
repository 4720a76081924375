using Cortex.Layers;

namespace Cortex.Models;

/// <summary>
/// A plain stack of layers, each feeding the next: <c>a[l] = g(W[l]·a[l−1] + b[l])</c>, as
/// <c>keras.Sequential([...])</c>.
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(
///     new Dense(units: 3, activation: "sigmoid"),
///     new Dense(units: 1, activation: "sigmoid"));
/// </code>
/// </example>
public sealed class Sequential : Model
{
    /// <summary>Creates the model from layers in order.</summary>
    public Sequential(params Layer[] layers) : this(layers, null) { }

    /// <summary>Creates the model from layers in order, with a name.</summary>
    public Sequential(IEnumerable<Layer> layers, string? name) : base(name, "sequential")
    {
        ArgumentNullException.ThrowIfNull(layers);
        foreach (var l in layers) Add(l);
    }

    /// <summary>Appends a layer. An <see cref="Input"/> may only come first, and then builds the model at once.</summary>
    /// <exception cref="ArgumentException">The layer is already in the model, an Input is not first, or the layer returns
    /// several tensors (a recurrent layer with <c>returnState</c>).</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the model.</exception>
    public void Add(Layer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var use = Use("Add", exclusive: true);
        if (layers.Contains(layer)) throw new ArgumentException($"Sequential '{Name}': layer '{layer.Name}' is already in the model.");
        if (layer is Input && layers.Count > 0) throw new ArgumentException($"Sequential '{Name}': an Input layer must come first. Received it at position {layers.Count}.");
        if (layer.ReturnsState)
            throw new ArgumentException($"Sequential '{Name}': {layer.GetType().Name} '{layer.Name}' has returnState=true, so it returns its output and its final states; " +
                "all layers in a Sequential model should have a single output tensor. Use the Functional API (Layer.CallWithState) for multi-output layers.");
        if (layers.Count > 0 && Built) layer.EnsureBuilt(OutputShape());
        layers.Add(layer);
        if (layers[0] is Input input) Build([-1, .. input.SampleShape]);
    }

    /// <summary>Removes and returns the last layer.</summary>
    /// <exception cref="InvalidOperationException">The model has no layers, or another thread is using it.</exception>
    public Layer Pop()
    {
        using var use = Use("Pop", exclusive: true);
        if (layers.Count == 0) throw new InvalidOperationException($"Sequential '{Name}' has no layers to pop.");
        var last = layers[^1];
        layers.RemoveAt(layers.Count - 1);
        return last;
    }

    /// <summary>
    /// Calls this model's layers, in order, on a symbolic tensor, so that a Sequential serves as a block of a
    /// <see cref="Functional"/> model: the graph holds the Sequential's own layers (their weights shared with it, and
    /// shared again if the Sequential is called twice), each a row of the Functional's summary.
    /// </summary>
    /// <example>
    /// <code>
    /// var encoder = new Sequential(new Dense(32, "relu"), new Dense(8));
    /// var left = new Input([16]);
    /// var right = new Input([16]);
    /// var distance = new Subtract().Call(encoder.Call(left), encoder.Call(right));   // one encoder, two branches
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">The tensor's shape does not fit the model (the message names the layer).</exception>
    /// <exception cref="InvalidOperationException">The model has no layers, or another thread is using it.</exception>
    public SymbolicTensor Call(SymbolicTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var use = UseToRead("Call");
        if (layers.Count == 0) throw new InvalidOperationException($"Sequential '{Name}' has no layers.");
        return RollBackBuildOnFailure(() => // a call that fails leaves an unbuilt model unbuilt
        {
            var t = x;
            foreach (var layer in layers)
            {
                if (layer is Input input)
                {
                    // An Input declares the shape the model takes: a tensor of that shape passes through it.
                    input.CheckSymbolic(t.ShapeRef);
                    continue;
                }
                t = layer.Call(t);
            }
            return t;
        });
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor x, bool training) => Run(x, training, out _);

    private protected override Tensor[] CallAllMasked(IReadOnlyList<Tensor> x, bool training, out Tensor?[] masks)
    {
        var y = Run(x[0], training, out var mask);
        masks = [mask];
        return [y];
    }

    /// <summary>The layers in turn, each given the mask the one before made; <paramref name="mask"/> is the output's
    /// (null when the last layer drops it), which training and evaluation fold into the loss's weights.</summary>
    private Tensor Run(Tensor x, bool training, out Tensor? mask)
    {
        if (layers.Count == 0) throw new InvalidOperationException($"Sequential '{Name}' has no layers.");
        mask = null; // the steps' mask, from a Masking or Embedding(maskZero) layer on (Keras's _keras_mask)
        foreach (var layer in layers)
        {
            var y = layer.Call(x, training, mask);
            mask = layer.ComputeMask(x, mask);
            x = y;
        }
        return x;
    }

    /// <inheritdoc/>
    public override void Build(int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        using var use = Use("Build", exclusive: true);
        int[] shape = [-1, .. inputShape.Length > 0 ? inputShape[1..] : []];
        foreach (var layer in layers)
        {
            layer.EnsureBuilt(shape);
            shape = layer.ComputeOutputShape(shape);
        }
    }
}
