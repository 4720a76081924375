using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Cortex.Kernels;

/// <summary>
/// One vector width (<see cref="Lanes512"/>, <see cref="Lanes256"/>, <see cref="Lanes128"/>, or one float,
/// <see cref="ScalarLane"/>), so that an element-wise formula is written once, generic over the width, and an engine
/// runs it at the widest width the machine accelerates with a scalar tail. The JIT compiles the formula once per width
/// struct with every member inlined: the same instructions as the formula written with that width's vectors.
/// </summary>
/// <remarks>
/// What the optimizers' updates and the recurrent cells need. Every arithmetic member is one IEEE operation per lane,
/// never fused (no FMA), so a formula gives the same bits at every width and in the scalar tail; an activation
/// (<see cref="Activate"/>) is its operator's form for the width, as <see cref="Activations.ActivationEngine"/> runs it.
/// </remarks>
internal unsafe interface ILanes<TSelf> where TSelf : unmanaged, ILanes<TSelf>
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    /// <summary>The value in every lane.</summary>
    static abstract TSelf Broadcast(float value);

    /// <summary>Reads <see cref="Count"/> floats (no alignment needed).</summary>
    static abstract TSelf Load(float* source);

    /// <summary>Writes <see cref="Count"/> floats (no alignment needed).</summary>
    void Store(float* destination);

    /// <summary>Lane-wise sum.</summary>
    static abstract TSelf operator +(TSelf a, TSelf b);

    /// <summary>Lane-wise difference.</summary>
    static abstract TSelf operator -(TSelf a, TSelf b);

    /// <summary>Lane-wise product.</summary>
    static abstract TSelf operator *(TSelf a, TSelf b);

    /// <summary>Lane-wise quotient.</summary>
    static abstract TSelf operator /(TSelf a, TSelf b);

    /// <summary>Lane-wise square root (correctly rounded at every width).</summary>
    static abstract TSelf Sqrt(TSelf x);

    /// <summary>Lane-wise maximum with <see cref="MathF.Max(float, float)"/>'s rules: NaN if either is NaN, +0 above −0.</summary>
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>Max pooling's gradient routing at one window position: <paramref name="grad"/>'s lanes where x holds
    /// the window's maximum m (equal, or both NaN) and no earlier position took it (<paramref name="pending"/>, all bits
    /// set at the window's start), +0 elsewhere; the lanes that took it leave <paramref name="pending"/>.</summary>
    static abstract TSelf RouteMax(TSelf x, TSelf m, TSelf grad, ref TSelf pending);

    /// <summary>Lane-wise absolute value (exact: clears the sign bit).</summary>
    static abstract TSelf Abs(TSelf x);

    /// <summary>Lane-wise sign, as Keras's <c>ops.sign</c>: 1 above zero, −1 below, 0 at ±0, NaN for NaN (exact).</summary>
    static abstract TSelf Sign(TSelf x);

    /// <summary>The activation g(x), lane by lane (the operator's vector form of this width, or its scalar form).</summary>
    static abstract TSelf Activate<TOp>(TOp op, TSelf x) where TOp : struct, Activations.IActivationOperator;

    /// <summary>The activation's gradient with respect to x from the output gradient g, lane by lane.</summary>
    static abstract TSelf ActivationGradient<TOp>(TOp op, TSelf g, TSelf x, TSelf y) where TOp : struct, Activations.IActivationOperator;
}

/// <summary>16 floats: AVX-512. Use only where <see cref="Vector512.IsHardwareAccelerated"/> (emulated otherwise).</summary>
internal readonly unsafe struct Lanes512(Vector512<float> v) : ILanes<Lanes512>
{
    private readonly Vector512<float> v = v;
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Broadcast(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Load(float* source) => new(Vector512.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* destination) => v.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator +(Lanes512 a, Lanes512 b) => new(a.v + b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator -(Lanes512 a, Lanes512 b) => new(a.v - b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator *(Lanes512 a, Lanes512 b) => new(a.v * b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator /(Lanes512 a, Lanes512 b) => new(a.v / b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Sqrt(Lanes512 x) => new(Vector512.Sqrt(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Max(Lanes512 a, Lanes512 b) => new(Vector512.Max(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 RouteMax(Lanes512 x, Lanes512 m, Lanes512 grad, ref Lanes512 pending)
    {
        var hit = (Vector512.Equals(x.v, m.v) | (Vector512.IsNaN(x.v) & Vector512.IsNaN(m.v))) & pending.v;
        pending = new(Vector512.AndNot(pending.v, hit));
        return new(grad.v & hit);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Abs(Lanes512 x) => new(Vector512.Abs(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Activate<TOp>(TOp op, Lanes512 x) where TOp : struct, Activations.IActivationOperator => new(op.Invoke(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 ActivationGradient<TOp>(TOp op, Lanes512 g, Lanes512 x, Lanes512 y) where TOp : struct, Activations.IActivationOperator => new(op.Gradient(g.v, x.v, y.v));
    // (x > 0) − (x < 0) as ±1 masks, then NaN lanes (x ≠ x) keep x: three compares and selects, no branch.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Sign(Lanes512 x) => new(Vector512.ConditionalSelect(Vector512.Equals(x.v, x.v),
        Vector512.ConditionalSelect(Vector512.GreaterThan(x.v, Vector512<float>.Zero), Vector512<float>.One, Vector512<float>.Zero)
        - Vector512.ConditionalSelect(Vector512.LessThan(x.v, Vector512<float>.Zero), Vector512<float>.One, Vector512<float>.Zero), x.v));
}

/// <summary>8 floats: AVX2 (and AVX-512 machines run with <c>DOTNET_EnableAVX512=0</c>; .NET 10 ignores the older <c>DOTNET_EnableAVX512F</c>).</summary>
internal readonly unsafe struct Lanes256(Vector256<float> v) : ILanes<Lanes256>
{
    private readonly Vector256<float> v = v;
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Broadcast(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Load(float* source) => new(Vector256.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* destination) => v.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator +(Lanes256 a, Lanes256 b) => new(a.v + b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator -(Lanes256 a, Lanes256 b) => new(a.v - b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator *(Lanes256 a, Lanes256 b) => new(a.v * b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator /(Lanes256 a, Lanes256 b) => new(a.v / b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Sqrt(Lanes256 x) => new(Vector256.Sqrt(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Max(Lanes256 a, Lanes256 b) => new(Vector256.Max(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 RouteMax(Lanes256 x, Lanes256 m, Lanes256 grad, ref Lanes256 pending)
    {
        var hit = (Vector256.Equals(x.v, m.v) | (Vector256.IsNaN(x.v) & Vector256.IsNaN(m.v))) & pending.v;
        pending = new(Vector256.AndNot(pending.v, hit));
        return new(grad.v & hit);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Abs(Lanes256 x) => new(Vector256.Abs(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Activate<TOp>(TOp op, Lanes256 x) where TOp : struct, Activations.IActivationOperator => new(op.Invoke(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 ActivationGradient<TOp>(TOp op, Lanes256 g, Lanes256 x, Lanes256 y) where TOp : struct, Activations.IActivationOperator => new(op.Gradient(g.v, x.v, y.v));
    // (x > 0) − (x < 0) as ±1 masks, then NaN lanes (x ≠ x) keep x: three compares and selects, no branch.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Sign(Lanes256 x) => new(Vector256.ConditionalSelect(Vector256.Equals(x.v, x.v),
        Vector256.ConditionalSelect(Vector256.GreaterThan(x.v, Vector256<float>.Zero), Vector256<float>.One, Vector256<float>.Zero)
        - Vector256.ConditionalSelect(Vector256.LessThan(x.v, Vector256<float>.Zero), Vector256<float>.One, Vector256<float>.Zero), x.v));
}

/// <summary>4 floats: what ARM64 (NEON) runs, and x64 with <c>DOTNET_EnableAVX2=0</c>.</summary>
internal readonly unsafe struct Lanes128(Vector128<float> v) : ILanes<Lanes128>
{
    private readonly Vector128<float> v = v;
    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Broadcast(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Load(float* source) => new(Vector128.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* destination) => v.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 operator +(Lanes128 a, Lanes128 b) => new(a.v + b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 operator -(Lanes128 a, Lanes128 b) => new(a.v - b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 operator *(Lanes128 a, Lanes128 b) => new(a.v * b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 operator /(Lanes128 a, Lanes128 b) => new(a.v / b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Sqrt(Lanes128 x) => new(Vector128.Sqrt(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Max(Lanes128 a, Lanes128 b) => new(Vector128.Max(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 RouteMax(Lanes128 x, Lanes128 m, Lanes128 grad, ref Lanes128 pending)
    {
        var hit = (Vector128.Equals(x.v, m.v) | (Vector128.IsNaN(x.v) & Vector128.IsNaN(m.v))) & pending.v;
        pending = new(Vector128.AndNot(pending.v, hit));
        return new(grad.v & hit);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Abs(Lanes128 x) => new(Vector128.Abs(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Activate<TOp>(TOp op, Lanes128 x) where TOp : struct, Activations.IActivationOperator => new(op.Invoke(x.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 ActivationGradient<TOp>(TOp op, Lanes128 g, Lanes128 x, Lanes128 y) where TOp : struct, Activations.IActivationOperator => new(op.Gradient(g.v, x.v, y.v));
    // (x > 0) − (x < 0) as ±1 masks, then NaN lanes (x ≠ x) keep x: three compares and selects, no branch.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 Sign(Lanes128 x) => new(Vector128.ConditionalSelect(Vector128.Equals(x.v, x.v),
        Vector128.ConditionalSelect(Vector128.GreaterThan(x.v, Vector128<float>.Zero), Vector128<float>.One, Vector128<float>.Zero)
        - Vector128.ConditionalSelect(Vector128.LessThan(x.v, Vector128<float>.Zero), Vector128<float>.One, Vector128<float>.Zero), x.v));
}

/// <summary>One float: the tails, and the reference every width is tested against.</summary>
internal readonly unsafe struct ScalarLane(float v) : ILanes<ScalarLane>
{
    private readonly float v = v;
    public static int Count => 1;
    public static ScalarLane Broadcast(float value) => new(value);
    public static ScalarLane Load(float* source) => new(*source);
    public void Store(float* destination) => *destination = v;
    public static ScalarLane operator +(ScalarLane a, ScalarLane b) => new(a.v + b.v);
    public static ScalarLane operator -(ScalarLane a, ScalarLane b) => new(a.v - b.v);
    public static ScalarLane operator *(ScalarLane a, ScalarLane b) => new(a.v * b.v);
    public static ScalarLane operator /(ScalarLane a, ScalarLane b) => new(a.v / b.v);
    public static ScalarLane Sqrt(ScalarLane x) => new(MathF.Sqrt(x.v));
    public static ScalarLane Max(ScalarLane a, ScalarLane b) => new(MathF.Max(a.v, b.v));
    public static ScalarLane RouteMax(ScalarLane x, ScalarLane m, ScalarLane grad, ref ScalarLane pending)
    {
        bool hit = BitConverter.SingleToInt32Bits(pending.v) != 0 && (x.v == m.v || float.IsNaN(x.v) && float.IsNaN(m.v));
        if (hit) pending = new(0f);
        return new(hit ? grad.v : 0f);
    }
    public static ScalarLane Abs(ScalarLane x) => new(MathF.Abs(x.v));
    public static ScalarLane Activate<TOp>(TOp op, ScalarLane x) where TOp : struct, Activations.IActivationOperator => new(op.Invoke(x.v));
    public static ScalarLane ActivationGradient<TOp>(TOp op, ScalarLane g, ScalarLane x, ScalarLane y) where TOp : struct, Activations.IActivationOperator =>
        new(op.Gradient(g.v, x.v, y.v));
    public static ScalarLane Sign(ScalarLane x) => new(x.v > 0 ? 1f : x.v < 0 ? -1f : x.v == 0 ? 0f : x.v); // MathF.Sign throws on NaN
}
