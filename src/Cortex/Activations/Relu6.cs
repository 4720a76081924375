using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>min(max(x, 0), 6) (Keras's relu6, PyTorch's relu6 = hardtanh(x, 0, 6)). The gradient passes where
/// 0 &lt; x &lt; 6, strictly, as PyTorch's hardtanh backward; the output answers that alike.</summary>
internal readonly struct Relu6Operator : IActivationOperator
{
    public bool DerivativeFromOutput => true;

    public float Invoke(float x) => MathF.Min(MathF.Max(x, 0f), 6f);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Min(Vector128.Max(x, Vector128<float>.Zero), Vector128.Create(6f));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Min(Vector256.Max(x, Vector256<float>.Zero), Vector256.Create(6f));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Min(Vector512.Max(x, Vector512<float>.Zero), Vector512.Create(6f));

    public float Gradient(float g, float x, float y) => x > 0f && x < 6f ? g : 0f;

    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) =>
        g & Vector128.GreaterThan(x, Vector128<float>.Zero) & Vector128.LessThan(x, Vector128.Create(6f));

    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) =>
        g & Vector256.GreaterThan(x, Vector256<float>.Zero) & Vector256.LessThan(x, Vector256.Create(6f));

    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) =>
        g & Vector512.GreaterThan(x, Vector512<float>.Zero) & Vector512.LessThan(x, Vector512.Create(6f));
}
