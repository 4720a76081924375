using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// SiLU (swish): x·σ(x), computed as x / (1 + e^−x) as PyTorch does. Its derivative σ(x)(1 + x(1 − σ(x))) needs the
/// input: the output does not determine it (SiLU is not monotonic), so a layer with SiLU runs on the tape.
/// </summary>
internal readonly struct SiluOperator : IActivationOperator
{
    public bool DerivativeFromOutput => false;

    public float Invoke(float x) => x / (1f + MathF.Exp(-x));
    public Vector128<float> Invoke(Vector128<float> x) => x / (Vector128<float>.One + Vector128.Exp(-x));
    public Vector256<float> Invoke(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));
    public Vector512<float> Invoke(Vector512<float> x) => x / (Vector512<float>.One + Vector512.Exp(-x));

    public float Gradient(float g, float x, float y)
    {
        float s = new SigmoidOperator().Invoke(x);
        return g * (s * (1f + x * (1f - s)));
    }

    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y)
    {
        var s = new SigmoidOperator().Invoke(x);
        return g * (s * (Vector128<float>.One + x * (Vector128<float>.One - s)));
    }

    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y)
    {
        var s = new SigmoidOperator().Invoke(x);
        return g * (s * (Vector256<float>.One + x * (Vector256<float>.One - s)));
    }

    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y)
    {
        var s = new SigmoidOperator().Invoke(x);
        return g * (s * (Vector512<float>.One + x * (Vector512<float>.One - s)));
    }
}
