using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>σ(x) = 1 / (1 + e^−x), with σ′ = y(1 − y) from the output. The same expression and exp as
/// TensorPrimitives.Sigmoid, so the same bits; e^−x overflowing to ∞ for x ≪ 0 gives 1/∞ = 0, not NaN.</summary>
internal readonly struct SigmoidOperator : IActivationOperator
{
    public bool DerivativeFromOutput => true;

    public float Invoke(float x) => 1f / (1f + MathF.Exp(-x));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + Vector128.Exp(-x));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));

    public float Gradient(float g, float x, float y) => g * (y * (1f - y));
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => g * (y * (Vector128<float>.One - y));
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => g * (y * (Vector256<float>.One - y));
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => g * (y * (Vector512<float>.One - y));
}
