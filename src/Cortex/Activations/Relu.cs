using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// max(x, 0). The gradient passes where x &gt; 0 and is 0 elsewhere, 0 at x = 0 as in PyTorch; it is a mask (an AND
/// with a comparison), not a multiply by 0 or 1: no branch to mispredict on a layer's half-zero outputs, and +0 rather
/// than −0 or NaN where the gradient is negative or infinite. The output answers x &gt; 0 alike, so a layer keeps
/// only its output.
/// </summary>
internal readonly struct ReluOperator : IActivationOperator
{
    public bool DerivativeFromOutput => true;

    // Max propagates NaN (IEEE 754-2019 maximum) in both the scalar and the vector forms.
    public float Invoke(float x) => MathF.Max(x, 0f);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);

    public float Gradient(float g, float x, float y) => x > 0f ? g : 0f;
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => g & Vector128.GreaterThan(x, Vector128<float>.Zero);
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => g & Vector256.GreaterThan(x, Vector256<float>.Zero);
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => g & Vector512.GreaterThan(x, Vector512<float>.Zero);
}
