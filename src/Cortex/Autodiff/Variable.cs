namespace Cortex;

/// <summary>
/// A tensor whose values persist and can be updated in place — a layer's weights. Trainable variables are watched by
/// every <see cref="GradientTape"/> automatically.
/// </summary>
/// <example>
/// <code>
/// var w = new Variable(Tensor.Zeros(2, 3), name: "kernel");
/// w.AssignSub(Tensor.Ones(2, 3) * 0.1f);
/// </code>
/// </example>
public sealed class Variable : Tensor
{
    /// <summary>Creates a variable holding a copy of <paramref name="initialValue"/>.</summary>
    public Variable(Tensor initialValue, string name = "variable", bool trainable = true)
        : base(initialValue.ToArray(), initialValue.Shape)
    {
        Name = name;
        Trainable = trainable;
    }

    /// <summary>The variable's name, e.g. <c>dense/kernel</c>.</summary>
    public string Name { get; set; }

    /// <summary>Whether optimizers update it and tapes watch it.</summary>
    public bool Trainable { get; set; }

    /// <summary>A projection every optimizer applies after updating the variable (Keras's <c>variable.constraint</c>),
    /// e.g. <see cref="Constraints.MaxNorm"/>; null for none. Layers set it from <c>kernelConstraint</c>/<c>biasConstraint</c>.</summary>
    public Constraints.Constraint? Constraint { get; set; }

    /// <inheritdoc/>
    public override bool IsVariable => true;

    /// <summary>Replaces the values (same shape).</summary>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public void Assign(Tensor value)
    {
        CheckShape("Assign", value);
        value.AsSpan().CopyTo(data);
    }

    /// <summary>Subtracts <paramref name="delta"/> in place (same shape).</summary>
    public void AssignSub(Tensor delta)
    {
        CheckShape("AssignSub", delta);
        System.Numerics.Tensors.TensorPrimitives.Subtract(data, delta.AsSpan(), data);
    }

    /// <summary>Adds <paramref name="delta"/> in place (same shape).</summary>
    public void AssignAdd(Tensor delta)
    {
        CheckShape("AssignAdd", delta);
        System.Numerics.Tensors.TensorPrimitives.Add(data, delta.AsSpan(), data);
    }

    /// <summary>A plain tensor holding a copy of the current values.</summary>
    public Tensor Value() => Tensor.FromArray(ToArray(), Shape);

    private void CheckShape(string op, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!ShapeUtil.SameShape(value.ShapeRef, ShapeRef))
            throw new ArgumentException($"Variable '{Name}'.{op}: expected shape {ShapeUtil.Format(ShapeRef)}. Received: shape {ShapeUtil.Format(value.ShapeRef)}");
    }
}
