using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>x for x &gt; 0, αx otherwise; the gradient is 1 or α, α at x = 0 as in PyTorch. With α ≥ 0 the output has
/// the input's sign, so a layer keeps only its output; a negative α (allowed, as in PyTorch) needs the input.</summary>
internal readonly struct LeakyReluOperator(float alpha) : IActivationOperator
{
    private readonly float alpha = alpha;

    public bool DerivativeFromOutput => alpha >= 0f;

    public float Invoke(float x) => x > 0f ? x : alpha * x;
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), x, x * alpha);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, x * alpha);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * alpha);

    public float Gradient(float g, float x, float y) => x > 0f ? g : g * alpha;
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), g, g * alpha);
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), g, g * alpha);
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), g, g * alpha);
}
