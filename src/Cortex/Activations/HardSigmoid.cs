using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// Keras 3's hard sigmoid: relu6(x + 3)/6 (PyTorch's <c>hardsigmoid</c>; Keras 2's was 0.2x + 0.5). The gradient is
/// 1/6 where −3 &lt; x &lt; 3, strictly, as PyTorch's; the output answers that alike (0 &lt; y &lt; 1).
/// </summary>
internal readonly struct HardSigmoidOperator : IActivationOperator
{
    private const float Sixth = 1f / 6f;

    public bool DerivativeFromOutput => true;

    public float Invoke(float x) => MathF.Min(MathF.Max(x + 3f, 0f), 6f) / 6f;
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Min(Vector128.Max(x + Vector128.Create(3f), Vector128<float>.Zero), Vector128.Create(6f)) / Vector128.Create(6f);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Min(Vector256.Max(x + Vector256.Create(3f), Vector256<float>.Zero), Vector256.Create(6f)) / Vector256.Create(6f);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Min(Vector512.Max(x + Vector512.Create(3f), Vector512<float>.Zero), Vector512.Create(6f)) / Vector512.Create(6f);

    // From the output: x in (−3, 3) ⇔ y in (0, 1).
    public float Gradient(float g, float x, float y) => y > 0f && y < 1f ? g * Sixth : 0f;
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) =>
        g * Vector128.Create(Sixth) & Vector128.GreaterThan(y, Vector128<float>.Zero) & Vector128.LessThan(y, Vector128<float>.One);
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) =>
        g * Vector256.Create(Sixth) & Vector256.GreaterThan(y, Vector256<float>.Zero) & Vector256.LessThan(y, Vector256<float>.One);
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) =>
        g * Vector512.Create(Sixth) & Vector512.GreaterThan(y, Vector512<float>.Zero) & Vector512.LessThan(y, Vector512<float>.One);
}

/// <summary>
/// Hard SiLU (hard swish): x·relu6(x + 3)/6, Keras's <c>hard_silu</c> and PyTorch's <c>hardswish</c>. Its gradient,
/// 0 below −3, (2x + 3)/6 up to 3 and 1 above (PyTorch's choice at the kinks), needs the input: the output does not
/// determine it (not monotonic), so a layer with it runs on the tape.
/// </summary>
internal readonly struct HardSiluOperator : IActivationOperator
{
    public bool DerivativeFromOutput => false;

    public float Invoke(float x) => x * new HardSigmoidOperator().Invoke(x);
    public Vector128<float> Invoke(Vector128<float> x) => x * new HardSigmoidOperator().Invoke(x);
    public Vector256<float> Invoke(Vector256<float> x) => x * new HardSigmoidOperator().Invoke(x);
    public Vector512<float> Invoke(Vector512<float> x) => x * new HardSigmoidOperator().Invoke(x);

    // PyTorch: x < −3 → 0; x ≤ 3 → x/3 + 0.5; else 1.
    public float Gradient(float g, float x, float y) => x < -3f ? 0f : x <= 3f ? g * (x / 3f + 0.5f) : g;
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) =>
        Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(-3f)), Vector128<float>.Zero,
            Vector128.ConditionalSelect(Vector128.LessThanOrEqual(x, Vector128.Create(3f)), g * (x / Vector128.Create(3f) + Vector128.Create(0.5f)), g));
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) =>
        Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-3f)), Vector256<float>.Zero,
            Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256.Create(3f)), g * (x / Vector256.Create(3f) + Vector256.Create(0.5f)), g));
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) =>
        Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-3f)), Vector512<float>.Zero,
            Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512.Create(3f)), g * (x / Vector512.Create(3f) + Vector512.Create(0.5f)), g));
}
