using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// log(1 + e^x), computed as max(x, 0) + log1p(e^−|x|) so that it neither overflows for x ≫ 0 nor loses the small
/// values for x ≪ 0. Its derivative σ(x) needs the input (from the output it would be 1 − e^−y, which cancels to 0
/// for x ≪ 0), so a layer with softplus keeps its pre-activation and runs on the tape.
/// </summary>
internal readonly struct SoftplusOperator : IActivationOperator
{
    public bool DerivativeFromOutput => false;

    public float Invoke(float x) => MathF.Max(x, 0f) + NN.Log1p(MathF.Exp(-MathF.Abs(x)));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero) + Log1p(Vector128.Exp(-Vector128.Abs(x)));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero) + Log1p(Vector256.Exp(-Vector256.Abs(x)));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero) + Log1p(Vector512.Exp(-Vector512.Abs(x)));

    public float Gradient(float g, float x, float y) => g * new SigmoidOperator().Invoke(x);
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => g * new SigmoidOperator().Invoke(x);
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => g * new SigmoidOperator().Invoke(x);
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => g * new SigmoidOperator().Invoke(x);

    // log(1 + u) for u in [0, 1]: log(w)·u / (w − 1) with w = 1 + u (Goldberg's trick: w − 1 is exact, and the ratio
    // cancels the rounding of w), and u itself where w rounds to 1.
    private static Vector128<float> Log1p(Vector128<float> u)
    {
        var w = Vector128<float>.One + u;
        return Vector128.ConditionalSelect(Vector128.Equals(w, Vector128<float>.One), u, Vector128.Log(w) * (u / (w - Vector128<float>.One)));
    }

    private static Vector256<float> Log1p(Vector256<float> u)
    {
        var w = Vector256<float>.One + u;
        return Vector256.ConditionalSelect(Vector256.Equals(w, Vector256<float>.One), u, Vector256.Log(w) * (u / (w - Vector256<float>.One)));
    }

    private static Vector512<float> Log1p(Vector512<float> u)
    {
        var w = Vector512<float>.One + u;
        return Vector512.ConditionalSelect(Vector512.Equals(w, Vector512<float>.One), u, Vector512.Log(w) * (u / (w - Vector512<float>.One)));
    }
}
