using System.Runtime.Intrinsics;

namespace Cortex.Activations;

/// <summary>
/// GELU, Keras's default (<c>approximate=False</c>): x·Φ(x) = ½x(1 + erf(x/√2)), as PyTorch's <c>gelu</c>. Its
/// derivative Φ(x) + x·φ(x) needs the input (GELU is not monotonic), so a layer with it runs on the tape.
/// </summary>
/// <remarks>
/// .NET has no erf, scalar or vector; <see cref="Erf(float)"/> (and its vector forms) is the rational approximation Eigen and XLA use for float32
/// (odd degree-13 over even degree-8 on |x| ≤ 4, where erf reaches 1 in float32), within 2 ulp of 1 everywhere —
/// written once per width with separate multiplies and adds, so every width gives the same bits.
/// </remarks>
internal readonly struct GeluOperator : IActivationOperator
{
    private const float Rsqrt2 = 0.70710678118654752f, Rsqrt2Pi = 0.39894228040143268f;

    public bool DerivativeFromOutput => false;

    public float Invoke(float x) => 0.5f * x * (1f + Erf(x * Rsqrt2));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Create(0.5f) * x * (Vector128<float>.One + Erf(x * Vector128.Create(Rsqrt2)));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Create(0.5f) * x * (Vector256<float>.One + Erf(x * Vector256.Create(Rsqrt2)));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Create(0.5f) * x * (Vector512<float>.One + Erf(x * Vector512.Create(Rsqrt2)));

    public float Gradient(float g, float x, float y) =>
        g * (0.5f * (1f + Erf(x * Rsqrt2)) + x * MathF.Exp(-0.5f * x * x) * Rsqrt2Pi);
    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y) =>
        g * (Vector128.Create(0.5f) * (Vector128<float>.One + Erf(x * Vector128.Create(Rsqrt2))) + x * Vector128.Exp(Vector128.Create(-0.5f) * x * x) * Vector128.Create(Rsqrt2Pi));
    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y) =>
        g * (Vector256.Create(0.5f) * (Vector256<float>.One + Erf(x * Vector256.Create(Rsqrt2))) + x * Vector256.Exp(Vector256.Create(-0.5f) * x * x) * Vector256.Create(Rsqrt2Pi));
    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y) =>
        g * (Vector512.Create(0.5f) * (Vector512<float>.One + Erf(x * Vector512.Create(Rsqrt2))) + x * Vector512.Exp(Vector512.Create(-0.5f) * x * x) * Vector512.Create(Rsqrt2Pi));

    // Eigen's generic_fast_erf_float coefficients: numerator odd in x, denominator even.
    private const float A1 = -1.60960333262415e-02f, A3 = -2.95459980854025e-03f, A5 = -7.34990630326855e-04f,
        A7 = -5.69250639462346e-05f, A9 = -2.10102402082508e-06f, A11 = 2.77068142495902e-08f, A13 = -2.72614225801306e-10f;
    private const float B0 = -1.42647390514189e-02f, B2 = -7.37332916720468e-03f, B4 = -1.68282697438203e-03f,
        B6 = -2.13374055278905e-04f, B8 = -1.45660718464996e-05f;

    /// <summary>erf(x) for one float (the same operations as the vector forms).</summary>
    internal static float Erf(float x)
    {
        x = MathF.Min(MathF.Max(x, -4f), 4f);
        float x2 = x * x;
        float p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
        float q = (((B8 * x2 + B6) * x2 + B4) * x2 + B2) * x2 + B0;
        return p / q;
    }

    /// <summary>erf, lane by lane.</summary>
    internal static Vector128<float> Erf(Vector128<float> x)
    {
        x = Vector128.Min(Vector128.Max(x, Vector128.Create(-4f)), Vector128.Create(4f));
        var x2 = x * x;
        var p = ((((((Vector128.Create(A13) * x2 + Vector128.Create(A11)) * x2 + Vector128.Create(A9)) * x2 + Vector128.Create(A7)) * x2
            + Vector128.Create(A5)) * x2 + Vector128.Create(A3)) * x2 + Vector128.Create(A1)) * x;
        var q = (((Vector128.Create(B8) * x2 + Vector128.Create(B6)) * x2 + Vector128.Create(B4)) * x2 + Vector128.Create(B2)) * x2 + Vector128.Create(B0);
        return p / q;
    }

    /// <summary>erf, lane by lane.</summary>
    internal static Vector256<float> Erf(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-4f)), Vector256.Create(4f));
        var x2 = x * x;
        var p = ((((((Vector256.Create(A13) * x2 + Vector256.Create(A11)) * x2 + Vector256.Create(A9)) * x2 + Vector256.Create(A7)) * x2
            + Vector256.Create(A5)) * x2 + Vector256.Create(A3)) * x2 + Vector256.Create(A1)) * x;
        var q = (((Vector256.Create(B8) * x2 + Vector256.Create(B6)) * x2 + Vector256.Create(B4)) * x2 + Vector256.Create(B2)) * x2 + Vector256.Create(B0);
        return p / q;
    }

    /// <summary>erf, lane by lane.</summary>
    internal static Vector512<float> Erf(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-4f)), Vector512.Create(4f));
        var x2 = x * x;
        var p = ((((((Vector512.Create(A13) * x2 + Vector512.Create(A11)) * x2 + Vector512.Create(A9)) * x2 + Vector512.Create(A7)) * x2
            + Vector512.Create(A5)) * x2 + Vector512.Create(A3)) * x2 + Vector512.Create(A1)) * x;
        var q = (((Vector512.Create(B8) * x2 + Vector512.Create(B6)) * x2 + Vector512.Create(B4)) * x2 + Vector512.Create(B2)) * x2 + Vector512.Create(B0);
        return p / q;
    }
}

/// <summary>
/// GELU with Keras's <c>approximate=True</c>: ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), PyTorch's
/// <c>gelu(approximate='tanh')</c>. Its derivative needs the input, so a layer with it runs on the tape.
/// </summary>
/// <remarks>
/// Computed as x·σ(2u), the same function: ½(1 + tanh u) = σ(2u) without the cancellation of 1 + tanh u near −1
/// (below x ≈ −3), and the gradient s + 2x·s(1 − s)·u′ with s = σ(2u), u′ = √(2/π)(1 + 3·0.044715x²).
/// </remarks>
internal readonly struct GeluTanhOperator : IActivationOperator
{
    private const float C2 = 2f * 0.79788456080286536f, K = 0.044715f;

    public bool DerivativeFromOutput => false;

    public float Invoke(float x) => x * new SigmoidOperator().Invoke(C2 * (x + K * x * x * x));
    public Vector128<float> Invoke(Vector128<float> x) => x * new SigmoidOperator().Invoke(Vector128.Create(C2) * (x + Vector128.Create(K) * x * x * x));
    public Vector256<float> Invoke(Vector256<float> x) => x * new SigmoidOperator().Invoke(Vector256.Create(C2) * (x + Vector256.Create(K) * x * x * x));
    public Vector512<float> Invoke(Vector512<float> x) => x * new SigmoidOperator().Invoke(Vector512.Create(C2) * (x + Vector512.Create(K) * x * x * x));

    public float Gradient(float g, float x, float y)
    {
        float s = new SigmoidOperator().Invoke(C2 * (x + K * x * x * x));
        return g * (s + x * s * (1f - s) * C2 * (1f + 3f * K * x * x));
    }

    public Vector128<float> Gradient(Vector128<float> g, Vector128<float> x, Vector128<float> y)
    {
        var s = new SigmoidOperator().Invoke(Vector128.Create(C2) * (x + Vector128.Create(K) * x * x * x));
        return g * (s + x * s * (Vector128<float>.One - s) * Vector128.Create(C2) * (Vector128<float>.One + Vector128.Create(3f * K) * x * x));
    }

    public Vector256<float> Gradient(Vector256<float> g, Vector256<float> x, Vector256<float> y)
    {
        var s = new SigmoidOperator().Invoke(Vector256.Create(C2) * (x + Vector256.Create(K) * x * x * x));
        return g * (s + x * s * (Vector256<float>.One - s) * Vector256.Create(C2) * (Vector256<float>.One + Vector256.Create(3f * K) * x * x));
    }

    public Vector512<float> Gradient(Vector512<float> g, Vector512<float> x, Vector512<float> y)
    {
        var s = new SigmoidOperator().Invoke(Vector512.Create(C2) * (x + Vector512.Create(K) * x * x * x));
        return g * (s + x * s * (Vector512<float>.One - s) * Vector512.Create(C2) * (Vector512<float>.One + Vector512.Create(3f * K) * x * x));
    }
}
