using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// One element-wise activation y = g(x), defined once: its forward (<c>Invoke</c>) and its gradient
/// dL/dx = dL/dy · g′(x) (<c>Gradient</c>), each for one float and for one vector of every width, as TensorPrimitives
/// writes its operators. An operator never loops: <see cref="ActivationEngine"/> runs it over spans, so the tape op
/// (<see cref="NN"/>), the layers (<see cref="ActivationFunction"/>) and the fused training step all compute with the
/// same instructions and get the same bits.
/// </summary>
/// <remarks>
/// The scalar form is the same function as the vector forms but may round differently (MathF.Exp is not the vector
/// exp); the engine chooses the form from a span's length only, as TensorPrimitives does, so equal spans give equal bits.
/// Operators are small readonly structs (a slope at most) so that the generic engine is compiled once per operator with
/// every call inlined.
/// </remarks>
internal interface IActivationOperator
{
    /// <summary>
    /// Whether <c>Gradient</c> gives the same result when handed the output y in place of the input x, so that a layer
    /// may overwrite its pre-activation and keep only its output for the backward pass. True where the gradient reads x
    /// only through comparisons that y answers alike (relu, leaky relu and ELU with α ≥ 0) or reads y alone (sigmoid,
    /// tanh, softmax); false where it needs x itself (softplus, SiLU).
    /// </summary>
    bool DerivativeFromOutput { get; }

    /// <summary>g(x).</summary>
    float Invoke(float x);

    /// <summary>g(x), lane by lane.</summary>
    Vector128<float> Invoke(Vector128<float> x);

    /// <summary>g(x), lane by lane.</summary>
    Vector256<float> Invoke(Vector256<float> x);

    /// <summary>g(x), lane by lane.</summary>
    Vector512<float> Invoke(Vector512<float> x);

    /// <summary>The gradient with respect to x from the gradient <paramref name="g"/> with respect to the output
    /// y = g(x). At a kink the choice is PyTorch's (e.g. relu′(0) = 0).</summary>
    float Gradient(float g, float x, float y);

    /// <summary>The gradient with respect to x, lane by lane.</summary>
    Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y);

    /// <summary>The gradient with respect to x, lane by lane.</summary>
    Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y);

    /// <summary>The gradient with respect to x, lane by lane.</summary>
    Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y);
}
