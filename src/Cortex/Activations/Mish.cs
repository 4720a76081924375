using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// Mish (Misra 2019): x·tanh(softplus(x)), as Keras's and PyTorch's. Its derivative tanh(s) + x·(1 − tanh²(s))·σ(x),
/// s = softplus(x), needs the input (not monotonic), so a layer with it runs on the tape.
/// </summary>
/// <remarks>
/// tanh(softplus x) is computed as n/(n + 2) with n = eˣ(eˣ + 2) — the same function, exact in form — because tanh of
/// a tiny softplus (x ≪ 0) loses all precision in the vector tanh's e^(−2s) − 1; x is capped at 20, where the ratio
/// is 1 in float32, so eˣ never overflows.
/// </remarks>
internal readonly struct MishOperator : IActivationOperator
{
    public bool DerivativeFromOutput => false;

    public float Invoke(float x) => x * TanhSoftplus(x);
    public Vector128<float> Invoke(Vector128<float> x) => x * TanhSoftplus(x);
    public Vector256<float> Invoke(Vector256<float> x) => x * TanhSoftplus(x);
    public Vector512<float> Invoke(Vector512<float> x) => x * TanhSoftplus(x);

    public float Gradient(float g, float x, float y)
    {
        float t = TanhSoftplus(x);
        return g * (t + x * (1f - t * t) * new SigmoidOperator().Invoke(x));
    }

    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y)
    {
        var t = TanhSoftplus(x);
        return g * (t + x * (Vector128<float>.One - t * t) * new SigmoidOperator().Invoke(x));
    }

    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y)
    {
        var t = TanhSoftplus(x);
        return g * (t + x * (Vector256<float>.One - t * t) * new SigmoidOperator().Invoke(x));
    }

    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y)
    {
        var t = TanhSoftplus(x);
        return g * (t + x * (Vector512<float>.One - t * t) * new SigmoidOperator().Invoke(x));
    }

    private static float TanhSoftplus(float x)
    {
        float e = MathF.Exp(MathF.Min(x, 20f)), n = e * (e + 2f);
        return n / (n + 2f);
    }

    private static Vector128<float> TanhSoftplus(Vector128<float> x)
    {
        var e = Vector128.Exp(Vector128.Min(x, Vector128.Create(20f)));
        var n = e * (e + Vector128.Create(2f));
        return n / (n + Vector128.Create(2f));
    }

    private static Vector256<float> TanhSoftplus(Vector256<float> x)
    {
        var e = Vector256.Exp(Vector256.Min(x, Vector256.Create(20f)));
        var n = e * (e + Vector256.Create(2f));
        return n / (n + Vector256.Create(2f));
    }

    private static Vector512<float> TanhSoftplus(Vector512<float> x)
    {
        var e = Vector512.Exp(Vector512.Min(x, Vector512.Create(20f)));
        var n = e * (e + Vector512.Create(2f));
        return n / (n + Vector512.Create(2f));
    }
}

/// <summary>
/// Softsign: x/(1 + |x|), as Keras's and PyTorch's. Its derivative 1/(1 + |x|)² is (1 − |y|)² from the output.
/// </summary>
internal readonly struct SoftsignOperator : IActivationOperator
{
    public bool DerivativeFromOutput => true;

    public float Invoke(float x) => x / (1f + MathF.Abs(x));
    public Vector128<float> Invoke(Vector128<float> x) => x / (Vector128<float>.One + Vector128.Abs(x));
    public Vector256<float> Invoke(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Abs(x));
    public Vector512<float> Invoke(Vector512<float> x) => x / (Vector512<float>.One + Vector512.Abs(x));

    public float Gradient(float g, float x, float y)
    {
        float d = 1f - MathF.Abs(y);
        return g * (d * d);
    }

    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y)
    {
        var d = Vector128<float>.One - Vector128.Abs(y);
        return g * (d * d);
    }

    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y)
    {
        var d = Vector256<float>.One - Vector256.Abs(y);
        return g * (d * d);
    }

    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y)
    {
        var d = Vector512<float>.One - Vector512.Abs(y);
        return g * (d * d);
    }
}
