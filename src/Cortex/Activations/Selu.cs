using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// Scaled ELU: λx for x &gt; 0, λα(e^x − 1) otherwise, with the self-normalising constants (<see cref="NN.SeluAlpha"/>,
/// <see cref="NN.SeluScale"/>); the derivative λ or y + λα comes from the output, as ELU's.
/// </summary>
internal readonly struct SeluOperator : IActivationOperator
{
    private const float Scale = NN.SeluScale, ScaleAlpha = NN.SeluScale * NN.SeluAlpha;

    public bool DerivativeFromOutput => true;

    public float Invoke(float x) => x > 0f ? Scale * x : ScaleAlpha * EluOperator.ExpM1(x);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), x * Scale, EluOperator.ExpM1(x) * ScaleAlpha);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x * Scale, EluOperator.ExpM1(x) * ScaleAlpha);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x * Scale, EluOperator.ExpM1(x) * ScaleAlpha);

    public float Gradient(float g, float x, float y) => g * (x > 0f ? Scale : y + ScaleAlpha);
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) => g * Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), Vector128.Create(Scale), y + Vector128.Create(ScaleAlpha));
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) => g * Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), Vector256.Create(Scale), y + Vector256.Create(ScaleAlpha));
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) => g * Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), Vector512.Create(Scale), y + Vector512.Create(ScaleAlpha));
}
