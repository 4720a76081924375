using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// tanh x, with tanh′ = 1 − y² from the output. The vector forms compute tanh|x| = −z / (z + 2), z = e^(−2|x|) − 1, and
/// restore the sign, as TensorPrimitives.Tanh does (AMD's AOCL vrs4_tanhf), so they give its bits; e^(−2|x|) never
/// overflows, so ±1000 gives ±1.
/// </summary>
internal readonly struct TanhOperator : IActivationOperator
{
    public bool DerivativeFromOutput => true;

    public float Invoke(float x) => MathF.Tanh(x);

    public Vector128<float> Invoke(Vector128<float> x)
    {
        var z = Vector128.Exp(Vector128.Create(-2f) * Vector128.Abs(x)) - Vector128<float>.One;
        var sign = x.AsUInt32() & Vector128.Create(0x8000_0000u);
        return (sign ^ (-z / (z + Vector128.Create(2f))).AsUInt32()).AsSingle();
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        var z = Vector256.Exp(Vector256.Create(-2f) * Vector256.Abs(x)) - Vector256<float>.One;
        var sign = x.AsUInt32() & Vector256.Create(0x8000_0000u);
        return (sign ^ (-z / (z + Vector256.Create(2f))).AsUInt32()).AsSingle();
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        var z = Vector512.Exp(Vector512.Create(-2f) * Vector512.Abs(x)) - Vector512<float>.One;
        var sign = x.AsUInt32() & Vector512.Create(0x8000_0000u);
        return (sign ^ (-z / (z + Vector512.Create(2f))).AsUInt32()).AsSingle();
    }

    public float Gradient(float g, float x, float y) => g * (1f - y * y);
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => g * (Vector128<float>.One - y * y);
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => g * (Vector256<float>.One - y * y);
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => g * (Vector512<float>.One - y * y);
}
