using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>g(x) = x; the gradient passes unchanged. Kernels skip it rather than copy (<see cref="ActivationKernel.IsIdentity"/>).</summary>
internal readonly struct LinearOperator : IActivationOperator
{
    public bool DerivativeFromOutput => true;

    public float Invoke(float x) => x;
    public Vector128<float> Invoke(Vector128<float> x) => x;
    public Vector256<float> Invoke(Vector256<float> x) => x;
    public Vector512<float> Invoke(Vector512<float> x) => x;

    public float Gradient(float g, float x, float y) => g;
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => g;
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => g;
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => g;
}
