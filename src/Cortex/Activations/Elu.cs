using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// x for x &gt; 0, α(e^x − 1) otherwise. For x ≤ 0 the derivative αe^x is y + α, so it comes from the output; PyTorch
/// takes that branch at x = 0 too. With α ≥ 0 the output has the input's sign, so a layer keeps only its output.
/// </summary>
/// <remarks>The vector forms evaluate e^x in every lane and select: for x &gt; 0 it may overflow to ∞, in a lane that is
/// not selected.</remarks>
internal readonly struct EluOperator(float alpha) : IActivationOperator
{
    private readonly float alpha = alpha;

    public bool DerivativeFromOutput => alpha >= 0f;

    public float Invoke(float x) => x > 0f ? x : alpha * ExpM1(x);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), x, ExpM1(x) * alpha);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, ExpM1(x) * alpha);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, ExpM1(x) * alpha);

    public float Gradient(float g, float x, float y) => x > 0f ? g : g * (y + alpha);
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), g, g * (y + Vector128.Create(alpha)));
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), g, g * (y + Vector256.Create(alpha)));
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), g, g * (y + Vector512.Create(alpha)));

    // e^x − 1 for x ≤ 0 (also SELU's), held at ≤ 0: the vector exp rounds e^0 up to 1 + 2^−23, which would give ELU(0) > 0, unlike
    // PyTorch's 0, and an output whose sign no longer tells the input's (which the derivative from the output relies on).
    internal static float ExpM1(float x) => MathF.Min(MathF.Exp(x) - 1f, 0f);
    internal static Vector128<float> ExpM1(Vector128<float> x) => Vector128.Min(Vector128.Exp(x) - Vector128<float>.One, Vector128<float>.Zero);
    internal static Vector256<float> ExpM1(Vector256<float> x) => Vector256.Min(Vector256.Exp(x) - Vector256<float>.One, Vector256<float>.Zero);
    internal static Vector512<float> ExpM1(Vector512<float> x) => Vector512.Min(Vector512.Exp(x) - Vector512<float>.One, Vector512<float>.Zero);
}
