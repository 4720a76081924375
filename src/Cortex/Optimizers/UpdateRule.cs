using Cortex.Kernels;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Cortex.Optimizers;

/// <summary>
/// An optimizer's update of a block of elements, written once for every vector width: a small readonly struct holding
/// the step's constants (the learning rate with any bias correction folded in, decay rates, ε) whose
/// <see cref="Invoke"/> updates one vector of the variable and of its slots from their gradient. <see cref="UpdateEngine"/>
/// runs it over a range, and <see cref="PieceStep"/> carries it to the fused training step, so the whole-variable update
/// (ApplyGradients) and the piecewise one do the same arithmetic and give the same bits.
/// </summary>
/// <remarks>
/// Options of a rule (momentum, Nesterov, AMSGrad, …) are fields tested inside <see cref="Invoke"/>: loop-invariant
/// branches the CPU always predicts, in steps bound by their square root and division (Adam, RMSprop) or by memory
/// (SGD). Keeping them out of the type keeps one compiled engine per optimizer rather than one per combination.
/// Multiplies and adds stay separate (no FMA, which <see cref="ILanes{TSelf}"/> does not offer): the same bits at every
/// width, in the scalar tail, and as Cortex's earlier updates gave.
/// </remarks>
internal unsafe interface IUpdateRule
{
    /// <summary>
    /// Updates the <c>V.Count</c> elements of the variable at <paramref name="w"/> and the same elements of its slots
    /// (<paramref name="s0"/> to <paramref name="s2"/>: as many as the optimizer keeps, in its SlotNames order; the
    /// others are not read) from their gradient <paramref name="g"/>.
    /// </summary>
    void Invoke<V>(V g, float* w, float* s0, float* s1, float* s2) where V : unmanaged, ILanes<V>;
}

/// <summary>Runs an <see cref="IUpdateRule"/> over a range of elements: whole vectors of the machine's widest width,
/// then one element at a time.</summary>
internal static unsafe class UpdateEngine
{
    /// <summary>
    /// Elements [0, <paramref name="n"/>) of the variable <paramref name="w"/> and its slots, from the gradient
    /// <paramref name="g"/>, on this thread.
    /// </summary>
    /// <remarks>
    /// The width is fixed when the JIT compiles this (IsHardwareAccelerated is a constant to it): 512 bits where AVX-512
    /// runs natively (the updates are bound by √ and ÷, which 512-bit units halve), never where Vector512 would be
    /// emulated; else 256, else 128 (ARM64's NEON). The tail is scalar rather than one overlapping vector because the
    /// update is not idempotent: an element updated twice would be wrong. Each element's result depends only on its
    /// own values, so any split of a variable into ranges or pieces gives the same bits.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<R>(R rule, float* g, float* w, float* s0, float* s1, float* s2, int n) where R : unmanaged, IUpdateRule
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) i = Run<R, Lanes512>(rule, g, w, s0, s1, s2, 0, n);
        else if (Vector256.IsHardwareAccelerated) i = Run<R, Lanes256>(rule, g, w, s0, s1, s2, 0, n);
        else if (Vector128.IsHardwareAccelerated) i = Run<R, Lanes128>(rule, g, w, s0, s1, s2, 0, n);
        Run<R, ScalarLane>(rule, g, w, s0, s1, s2, i, n);
    }

    /// <summary>Whole vectors of width <typeparamref name="V"/> from <paramref name="lo"/> while they fit below
    /// <paramref name="hi"/>; returns where it stopped. (Tests run every width through this.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Run<R, V>(R rule, float* g, float* w, float* s0, float* s1, float* s2, int lo, int hi)
        where R : unmanaged, IUpdateRule where V : unmanaged, ILanes<V>
    {
        int i = lo, last = hi - V.Count;
        // A do-while, so the body is known to run on every pass and the JIT hoists the rule's broadcast constants.
        if (i <= last)
            do
            {
                rule.Invoke(V.Load(g + i), w + i, s0 + i, s1 + i, s2 + i);
                i += V.Count;
            }
            while (i <= last);
        return i;
    }
}

/// <summary>
/// One optimizer step's update of one variable, ready to run on any block of it: the optimizer's
/// <see cref="IUpdateRule"/> with this step's constants, the engine compiled for that rule, and where the variable and
/// its slots are. <see cref="Optimizer.UpdateStep"/> runs it over the whole variable; the fused training step, through
/// <see cref="Optimizer.TryBeginPieces"/>, a block at a time while each block's gradient is still in cache. An
/// unmanaged value: it allocates nothing and can sit in a job that threads share.
/// </summary>
internal unsafe struct PieceStep
{
    private delegate*<in PieceStep, float*, long, int, void> run;
    private RuleStorage rule;  // the rule struct's bytes, read back only by run, which was compiled for its type

    /// <summary>The variable's elements, pinned; set by whoever pinned them.</summary>
    public float* W;

    /// <summary>The variable's slots (on the pinned heap, so these stay valid); null where the optimizer keeps fewer.</summary>
    public float* S0, S1, S2;

    /// <summary>Clip every gradient element to [−ClipValue, ClipValue] before the update (<see cref="Update"/>); 0 for none.</summary>
    public float ClipValue;

    /// <summary>The step that runs <paramref name="rule"/>.</summary>
    public static PieceStep Of<R>(R rule) where R : unmanaged, IUpdateRule
    {
        if (sizeof(R) > sizeof(RuleStorage))
            throw new InvalidOperationException($"{typeof(R).Name} holds {sizeof(R)} bytes; a PieceStep carries at most {sizeof(RuleStorage)}.");
        var step = new PieceStep { run = &Run<R> };
        Unsafe.As<RuleStorage, R>(ref step.rule) = rule;
        return step;
    }

    /// <summary>
    /// Updates <paramref name="count"/> elements from <paramref name="offset"/>, with <paramref name="g"/> their
    /// gradient: clipped first, in place, when <see cref="ClipValue"/> is set (the same clip ApplyGradients applies).
    /// </summary>
    public readonly void Update(float* g, long offset, int count)
    {
        if (ClipValue > 0) Optimizer.ClipValues(new ReadOnlySpan<float>(g, count), ClipValue, new Span<float>(g, count));
        run(in this, g, offset, count);
    }

    /// <summary>As <see cref="Update"/>, with <paramref name="g"/> already clipped.</summary>
    public readonly void Run(float* g, long offset, int count) => run(in this, g, offset, count);

    private static void Run<R>(in PieceStep step, float* g, long offset, int count) where R : unmanaged, IUpdateRule
    {
        R rule = Unsafe.As<RuleStorage, R>(ref Unsafe.AsRef(in step.rule));
        UpdateEngine.Run(rule, g, step.W + offset, step.S0 + offset, step.S1 + offset, step.S2 + offset, count);
    }

    /// <summary>Room for a rule's constants (twelve floats' worth; Nadam's with weight decay, the largest, needs nine).</summary>
    [InlineArray(12)]
    private struct RuleStorage
    {
        private float element;
    }
}

/// <summary>
/// Keras's decoupled weight decay in front of any rule: the variable first shrinks, <c>w = w·(−lr·wd) + w</c>, then
/// <typeparamref name="R"/> updates it — what Keras's <c>_apply_weight_decay</c> does to every variable before the
/// optimizer's step, folded into the same pass so the fused step's pieces decay too.
/// </summary>
/// <param name="rule">The optimizer's own rule.</param>
/// <param name="decay">−lr·weightDecay for this step.</param>
internal readonly struct DecayedRule<R>(R rule, float decay) : IUpdateRule where R : unmanaged, IUpdateRule
{
    private readonly R rule = rule;
    private readonly float decay = decay;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Invoke<V>(V g, float* w, float* s0, float* s1, float* s2) where V : unmanaged, ILanes<V>
    {
        // Stored and reloaded by the rule: the store is to a line already in L1, and it leaves every rule unchanged.
        V wk = V.Load(w);
        (wk * V.Broadcast(decay) + wk).Store(w);
        rule.Invoke(g, w, s0, s1, s2);
    }
}
