using Cortex.Kernels;
using Cortex.Saving;
using System.Numerics.Tensors;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Cortex.Optimizers;

/// <summary>
/// Updates variables from their gradients, as Keras optimizers do: <see cref="Build"/> creates per-variable slots
/// (momenta, velocities) filled with zeros; each <see cref="ApplyGradients(IReadOnlyList{Tensor}, IReadOnlyList{Variable})"/>
/// clips the gradients if asked, reads the learning rate (from <see cref="Schedule"/> when one is set), updates every
/// variable in place and counts one iteration.
/// </summary>
/// <remarks>
/// Cortex's optimizers each define their update once, as an element-wise rule that one SIMD engine runs over the
/// variables' storage and preallocated slots, so a training step allocates nothing here once the optimizer is built,
/// and the fused training step applies the same rule to a weight a block at a time, with the same bits. A subclass
/// written outside Cortex overrides <see cref="UpdateStep"/> over spans.
/// </remarks>
/// <example>
/// <code>
/// var w = new Variable(Tensor.FromArray(new float[] { 3 }), "w");
/// var opt = new Adam(learningRate: 0.1f);
/// for (int i = 0; i &lt; 100; i++)
/// {
///     using var tape = new GradientTape();
///     Tensor j = (w * w).Sum();
///     opt.ApplyGradients(tape.Gradient(j, w), [w]);
/// }
/// </code>
/// </example>
public abstract class Optimizer
{
    private float learningRate;
    private readonly List<Variable> variables = [];
    private readonly Dictionary<Variable, int> indexOf = new(ReferenceEqualityComparer.Instance);
    private readonly List<float[][]> slots = [];      // slots[variable][slot]
    private readonly List<float[]?> clipScratch = []; // per variable, allocated on the first clipped update

    /// <summary>Stores the hyperparameters shared by every optimizer.</summary>
    /// <param name="learningRate">The step size, finite and ≥ 0.</param>
    /// <include file="OptimizerArguments.xml" path="arguments/param"/>
    /// <exception cref="ArgumentException">The learning rate is negative, NaN or infinite, more than one clipping
    /// option is set, or one is not a finite number &gt; 0, the weight decay is negative or not finite, the EMA
    /// momentum is outside [0, 1] or the overwrite frequency is below 1.</exception>
    protected Optimizer(float learningRate, float? clipNorm, float? clipValue, float? globalClipNorm, float? weightDecay = null,
        bool useEma = false, float emaMomentum = 0.99f, int? emaOverwriteFrequency = null)
    {
        int set = (clipNorm.HasValue ? 1 : 0) + (clipValue.HasValue ? 1 : 0) + (globalClipNorm.HasValue ? 1 : 0);
        if (set > 1)
            throw new ArgumentException($"{GetType().Name}: only one of clipNorm, clipValue and globalClipNorm can be set. Received: clipNorm={clipNorm}, clipValue={clipValue}, globalClipNorm={globalClipNorm}");
        CheckPositive("clipNorm", clipNorm);
        CheckPositive("clipValue", clipValue);
        CheckPositive("globalClipNorm", globalClipNorm);
        this.learningRate = Hyperparameter.LearningRate(GetType().Name, nameof(learningRate), learningRate);
        if (weightDecay is float wd) ConfigJson.NonNegative(GetType().Name, nameof(weightDecay), wd);
        WeightDecay = weightDecay;
        UseEma = useEma;
        EmaMomentum = Hyperparameter.Momentum(GetType().Name, nameof(emaMomentum), emaMomentum);
        if (emaOverwriteFrequency is < 1)
            throw new ArgumentException($"{GetType().Name}: invalid value for argument emaOverwriteFrequency: expected a whole number ≥ 1 or null. Received: emaOverwriteFrequency={emaOverwriteFrequency}", nameof(emaOverwriteFrequency));
        EmaOverwriteFrequency = emaOverwriteFrequency;
        ClipNorm = clipNorm;
        ClipValue = clipValue;
        GlobalClipNorm = globalClipNorm;
    }

    // An infinite clipNorm would scale by ∞/∞ = NaN, so "positive" means finite too.
    private void CheckPositive(string name, float? value)
    {
        if (value is float v) Hyperparameter.Positive(GetType().Name, name, v);
    }

    /// <summary>
    /// The learning rate of the next update: the schedule's rate for <see cref="Iterations"/> when
    /// <see cref="Schedule"/> is set, else the constant rate. Setting it sets a constant rate and removes any schedule.
    /// </summary>
    /// <exception cref="ArgumentException">The value set is negative, NaN or infinite (nothing changes).</exception>
    public float LearningRate
    {
        get => Schedule?.GetRate(Iterations) ?? learningRate;
        set { learningRate = Hyperparameter.LearningRate(GetType().Name, nameof(LearningRate), value); Schedule = null; }
    }

    /// <summary>A schedule that supplies the learning rate per step; null for a constant rate. Saved in its place,
    /// under <c>learning_rate</c>, as <c>{"class_name": …, "config": {…}}</c>.</summary>
    [Config(Key = "learning_rate")]
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>
    /// Keras's decoupled weight decay: before each update every variable shrinks by <c>w −= lr·weightDecay·w</c>,
    /// independently of its gradient (folded into the optimizer's rule, so the fused step decays too); null for none.
    /// </summary>
    public float? WeightDecay { get; }

    /// <summary>
    /// Whether the optimizer keeps an exponential moving average of every variable it updates (Keras's <c>use_ema</c>):
    /// after each update <c>average = m·average + (1 − m)·w</c> with m = <see cref="EmaMomentum"/> (0 on the first
    /// update, which copies w), saved with the optimizer's state as the slot <c>average</c>.
    /// <see cref="FinalizeVariableValues"/> (Keras calls it at the end of <c>fit</c>) and
    /// <see cref="EmaOverwriteFrequency"/> write the averages into the variables.
    /// </summary>
    public bool UseEma { get; }

    /// <summary>The momentum m of the moving average (Keras default 0.99).</summary>
    public float EmaMomentum { get; }

    /// <summary>Every this many updates the variables are overwritten with their moving averages; null for never
    /// (Keras's <c>ema_overwrite_frequency</c>).</summary>
    public int? EmaOverwriteFrequency { get; }

    /// <summary>Rescales each gradient whose L2 norm exceeds this to have this norm (Keras's <c>clipnorm</c>, per variable).</summary>
    [Config(Key = "clipnorm")]
    public float? ClipNorm { get; }

    /// <summary>Clips every gradient element to [−value, value] (Keras's <c>clipvalue</c>).</summary>
    [Config(Key = "clipvalue")]
    public float? ClipValue { get; }

    /// <summary>Rescales all gradients together when their joint L2 norm exceeds this (Keras's <c>global_clipnorm</c>).</summary>
    [Config(Key = "global_clipnorm")]
    public float? GlobalClipNorm { get; }

    /// <summary>The number of updates applied so far.</summary>
    public long Iterations { get; private set; }

    /// <summary>The names of the slots each variable gets (e.g. <c>momentum</c>, <c>velocity</c>), in saving order.</summary>
    protected abstract IReadOnlyList<string> SlotNames { get; }

    /// <summary>
    /// Updates one variable in place. <paramref name="variableIndex"/> identifies the variable's slots
    /// (<see cref="Slot"/>); <see cref="Iterations"/> still counts the updates before this one. Cortex's optimizers run
    /// their rule for this step here; a subclass defined outside Cortex overrides this.
    /// </summary>
    /// <exception cref="NotImplementedException">A subclass outside Cortex that does not override this.</exception>
    protected virtual unsafe void UpdateStep(ReadOnlySpan<float> gradient, Span<float> variable, int variableIndex, float learningRate)
    {
        if (Rule(learningRate) is not { } step)
            throw new NotImplementedException($"{GetType().Name} must override UpdateStep: it defines no update of its own.");
        SetSlots(ref step, variableIndex);
        fixed (float* g = gradient, w = variable)
        {
            step.W = w;
            var job = new WholeJob { Step = step, G = g };
            int n = variable.Length;
            // Large variables (784×128 and up) split across the cores: the updates are compute-bound on √ and ÷ (or
            // stream three arrays), and each element is independent, so the split cannot change the result. Parts
            // start on whole 512-bit vectors.
            if (n >= ParallelThreshold && GemmThreads.MaxParts > 1)
            {
                int parts = Math.Min(GemmThreads.MaxParts, 8);
                Span<int> bounds = stackalloc int[parts + 1];
                for (int part = 0; part <= parts; part++) bounds[part] = (int)((long)n * part / parts) & ~15;
                bounds[parts] = n;
                if (GemmThreads.TryRunRanges(&RunPart, &job, bounds)) return;
            }
            RunPart(&job, 0, n);
        }
    }

    /// <summary>
    /// This optimizer's update for the coming step at <paramref name="learningRate"/>, as a <see cref="PieceStep"/>
    /// (<c>PieceStep.Of(new …Rule(…))</c>) with the constants of this step (<see cref="Iterations"/> has not yet
    /// counted it); null for an optimizer that overrides <see cref="UpdateStep"/> instead.
    /// </summary>
    private protected virtual PieceStep? Rule(float learningRate) => null;

    /// <summary><paramref name="rule"/> as this step's <see cref="PieceStep"/>, behind Keras's decoupled weight decay
    /// (<see cref="DecayedRule{R}"/>) when <see cref="WeightDecay"/> is set and not 0.</summary>
    private protected PieceStep Step<R>(R rule, float learningRate) where R : unmanaged, IUpdateRule =>
        WeightDecay is float wd && wd != 0 && !skipDecay ? PieceStep.Of(new DecayedRule<R>(rule, -wd * learningRate)) : PieceStep.Of(rule);

    private bool skipDecay;   // the variable being updated is excluded from weight decay (set around Rule's calls)
    private readonly HashSet<Variable> excludedVariables = [];
    private string[] excludedNames = [];

    /// <summary>
    /// Keras's <c>exclude_from_weight_decay</c>: leaves <paramref name="variables"/>, and every variable whose name
    /// contains one of <paramref name="names"/>, out of <see cref="WeightDecay"/> (biases and normalisation scales, as
    /// AdamW's users usually do). Call it before the optimizer's first update.
    /// </summary>
    /// <example><code>var opt = new AdamW(weightDecay: 0.01f);
    /// opt.ExcludeFromWeightDecay(names: ["bias", "gamma", "beta"]);</code></example>
    /// <exception cref="InvalidOperationException">The optimizer has already built (updated) variables.</exception>
    /// <exception cref="ArgumentException">Neither argument is given.</exception>
    public void ExcludeFromWeightDecay(IEnumerable<Variable>? variables = null, IEnumerable<string>? names = null)
    {
        if (variables is null && names is null)
            throw new ArgumentException($"{GetType().Name}.ExcludeFromWeightDecay: give the variables, or names they contain, to exclude.");
        if (this.variables.Count > 0)
            throw new InvalidOperationException($"{GetType().Name}.ExcludeFromWeightDecay can only be configured before the optimizer is built (before its first update).");
        foreach (var v in variables ?? []) excludedVariables.Add(v ?? throw new ArgumentNullException(nameof(variables)));
        excludedNames = [.. excludedNames, .. (names ?? []).Select(n => n ?? throw new ArgumentNullException(nameof(names)))];
    }

    /// <summary>Whether <see cref="WeightDecay"/> leaves <paramref name="variable"/> alone (<see cref="ExcludeFromWeightDecay"/>).</summary>
    private bool Excluded(Variable variable)
    {
        if (excludedVariables.Count == 0 && excludedNames.Length == 0) return false;
        if (excludedByVariable.TryGetValue(variable, out bool excluded)) return excluded;   // decided once: no allocation per step
        excluded = excludedVariables.Contains(variable) || NamedForExclusion(variable.Name);
        excludedByVariable[variable] = excluded;
        return excluded;
    }

    // Apart from Excluded: a lambda there would allocate its closure on every call, before any early return.
    private bool NamedForExclusion(string name) => excludedNames.Any(n => name.Contains(n, StringComparison.Ordinal));

    private readonly Dictionary<Variable, bool> excludedByVariable = [];

    /// <summary>The value slot <paramref name="slot"/> starts at (Keras's initializer for it): 0 unless an optimizer
    /// says otherwise (Adagrad's accumulator).</summary>
    private protected virtual float InitialSlotValue(int slot) => 0f;

    /// <summary>Elements per update below which one core does the whole step (waking a worker costs ~1 µs).</summary>
    private const int ParallelThreshold = 1 << 13;

    private unsafe struct WholeJob
    {
        public PieceStep Step;
        public float* G;
    }

    private static unsafe void RunPart(void* state, int lo, int hi)
    {
        var job = (WholeJob*)state;
        job->Step.Run(job->G + lo, lo, hi - lo);
    }

    /// <summary>Points <paramref name="step"/> at a variable's slots (pinned since <see cref="Build"/>).</summary>
    private unsafe void SetSlots(ref PieceStep step, int variableIndex)
    {
        float[][] s = slots[variableIndex];
        step.S0 = s.Length > 0 ? Pinned(s[0]) : null;
        step.S1 = s.Length > 1 ? Pinned(s[1]) : null;
        step.S2 = s.Length > 2 ? Pinned(s[2]) : null;
        static float* Pinned(float[] slot) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(slot));
    }

    /// <summary>One of a variable's slots, as created by <see cref="Build"/> (zeros initially).</summary>
    protected Span<float> Slot(int variableIndex, int slot) => slots[variableIndex][slot];

    /// <summary>
    /// Creates the slots of every variable not seen before. <see cref="ApplyGradients(IReadOnlyList{Tensor}, IReadOnlyList{Variable})"/>
    /// calls it for you; call it yourself before <see cref="LoadVariables"/>.
    /// </summary>
    public void Build(IReadOnlyList<Variable> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        int slotCount = AllSlotNames.Count;
        for (int k = 0; k < variables.Count; k++) // indexed: no enumerator allocation on the per-step path
        {
            var v = variables[k];
            ArgumentNullException.ThrowIfNull(v);
            if (indexOf.ContainsKey(v)) continue;
            indexOf.Add(v, this.variables.Count);
            this.variables.Add(v);
            var s = new float[slotCount][];
            // On the pinned heap: a PieceStep holds their addresses across a fused step's threads without pinning them.
            for (int i = 0; i < slotCount; i++)
            {
                s[i] = GC.AllocateArray<float>(v.Size, pinned: true);
                if (InitialSlotValue(i) is float initial and not 0) s[i].AsSpan().Fill(initial);
            }
            slots.Add(s);
            clipScratch.Add(null);
        }
    }

    /// <summary>
    /// Applies one update: <c>gradients[i]</c> to <c>variables[i]</c>. A null gradient leaves its variable unchanged,
    /// as in Keras.
    /// </summary>
    /// <exception cref="ArgumentException">The lists differ in length, every gradient is null, or a gradient's shape
    /// differs from its variable's.</exception>
    public void ApplyGradients(IReadOnlyList<Tensor?> gradients, IReadOnlyList<Variable> variables)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        ArgumentNullException.ThrowIfNull(variables);
        if (gradients.Count != variables.Count)
            throw new ArgumentException($"{GetType().Name}.ApplyGradients: got {gradients.Count} gradients for {variables.Count} variables.");
        bool any = false;
        for (int i = 0; i < gradients.Count; i++)
        {
            var g = gradients[i];
            if (g == null) continue;
            any = true;
            var v = variables[i];
            if (!ShapeUtil.SameShape(g.ShapeRef, v.ShapeRef))
                throw new ArgumentException($"{GetType().Name}.ApplyGradients: the gradient for variable '{v.Name}' has shape {ShapeUtil.Format(g.ShapeRef)} but the variable has shape {ShapeUtil.Format(v.ShapeRef)}.");
        }
        if (!any)
            throw new ArgumentException($"{GetType().Name}.ApplyGradients: no gradients provided for any variable ({string.Join(", ", variables.Select(v => v.Name))}).");
        Build(variables);

        float globalScale = 1f;
        if (GlobalClipNorm is float gc)
        {
            double sq = 0;
            for (int i = 0; i < gradients.Count; i++)
                if (gradients[i] is Tensor g) sq += TensorPrimitives.SumOfSquares(g.AsSpan());
            float norm = (float)Math.Sqrt(sq);
            globalScale = gc / MathF.Max(norm, gc);
        }

        float lr = LearningRate;
        for (int i = 0; i < gradients.Count; i++)
        {
            if (gradients[i] is not Tensor g) continue;
            var v = variables[i];
            int index = indexOf[v];
            skipDecay = Excluded(v);
            // A subclass's own UpdateStep gets Keras's decay here; Cortex's rules fold it in (Step).
            if (WeightDecay is float wd && wd != 0 && !UpdatesByRule && !skipDecay)
                TensorPrimitives.MultiplyAdd(v.Span, -wd * lr, v.Span, v.Span);
            UpdateStep(Clip(g.AsSpan(), index, globalScale), v.Span, index, lr);
            skipDecay = false;
        }
        if (UseEma) UpdateMovingAverages();
        Iterations++;
        // Keras applies each updated variable's constraint last, after the update and the moving averages.
        for (int i = 0; i < gradients.Count; i++)
            if (gradients[i] != null && variables[i].Constraint is { } constraint) constraint.Apply(variables[i].Span, variables[i].ShapeRef);
    }

    /// <summary>
    /// Keras's EMA step, after the update and before the count: every built variable's average moves towards it
    /// (a copy on the first update), and every <see cref="EmaOverwriteFrequency"/> updates the variables take their
    /// averages. Over all built variables, as Keras averages every variable it was built with, so a fused step whose
    /// pieces updated a kernel (its gradient null here) averages it too.
    /// </summary>
    private void UpdateMovingAverages()
    {
        float m = Iterations == 0 ? 0f : EmaMomentum;
        int slot = AllSlotNames.Count - 1;
        bool overwrite = EmaOverwriteFrequency is int f && (Iterations + 1) % f == 0;
        for (int v = 0; v < variables.Count; v++)
        {
            Span<float> average = slots[v][slot], w = variables[v].Span;
            TensorPrimitives.Multiply(average, m, average);
            TensorPrimitives.MultiplyAdd(w, 1 - m, average, average);
            if (overwrite) average.CopyTo(w);
        }
    }

    /// <summary>
    /// Keras's <c>finalize_variable_values</c>: with <see cref="UseEma"/>, writes each of <paramref name="variables"/>'
    /// moving average into it (Keras does this at the end of <c>fit</c>); otherwise does nothing.
    /// </summary>
    /// <exception cref="ArgumentException">A variable was never updated by this optimizer.</exception>
    public void FinalizeVariableValues(IReadOnlyList<Variable> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        if (!UseEma) return;
        for (int i = 0; i < variables.Count; i++)
        {
            if (!indexOf.TryGetValue(variables[i], out int index))
                throw new ArgumentException($"{GetType().Name}.FinalizeVariableValues: variable '{variables[i].Name}' is not one this optimizer was built with.");
            slots[index][^1].CopyTo(variables[i].Span);
        }
    }

    /// <summary>Applies one update to each (gradient, variable) pair; a null gradient is skipped.</summary>
    /// <exception cref="ArgumentException">Every gradient is null, or a gradient's shape differs from its variable's.</exception>
    public void ApplyGradients(IEnumerable<(Tensor? Gradient, Variable Variable)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var list = pairs.ToList();
        ApplyGradients([.. list.Select(p => p.Gradient)], [.. list.Select(p => p.Variable)]);
    }

    /// <summary>The gradient after clipping: the caller's tensor is never modified, a per-variable scratch is.</summary>
    private ReadOnlySpan<float> Clip(ReadOnlySpan<float> g, int index, float globalScale)
    {
        float scale = globalScale;
        if (ClipNorm is float cn)
        {
            float norm = TensorPrimitives.Norm(g);
            scale = cn / MathF.Max(norm, cn);
        }
        if (scale == 1f && ClipValue is null) return g;
        var scratch = clipScratch[index] ??= new float[g.Length];
        if (ClipValue is float cv) ClipValues(g, cv, scratch);
        else TensorPrimitives.Multiply(g, scale, scratch);
        return scratch;
    }

    /// <summary>Keras's <c>clipvalue</c>: each element of <paramref name="g"/> clipped to [−<paramref name="value"/>,
    /// <paramref name="value"/>] (NaN stays NaN). The whole-gradient and the piecewise paths both clip here.</summary>
    internal static void ClipValues(ReadOnlySpan<float> g, float value, Span<float> destination)
    {
        TensorPrimitives.Max(g, -value, destination);
        TensorPrimitives.Min(destination, value, destination);
    }

    /// <summary>
    /// The optimizer's state for saving: the iteration count as a scalar, then every slot — for each slot name in
    /// <see cref="SlotNames"/> order, every variable in the order first built. Copies, not views.
    /// </summary>
    public IReadOnlyList<Tensor> Variables
    {
        get
        {
            var result = new List<Tensor> { Tensor.Scalar(Iterations) };
            for (int s = 0; s < AllSlotNames.Count; s++)
                for (int v = 0; v < variables.Count; v++)
                    result.Add(Tensor.FromArray(slots[v][s], variables[v].Shape));
            return result;
        }
    }

    /// <summary>Restores the state <see cref="Variables"/> returned, after <see cref="Build"/> with the same variables.</summary>
    /// <exception cref="ArgumentException">The number of tensors or a shape differs from this optimizer's state.</exception>
    public void LoadVariables(IReadOnlyList<Tensor> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int expected = 1 + AllSlotNames.Count * variables.Count;
        if (values.Count != expected)
            throw new ArgumentException($"{GetType().Name}.LoadVariables: expected {expected} tensors (the iteration count and {AllSlotNames.Count} slot(s) for each of {variables.Count} built variables). Received: {values.Count}. Call Build with the model's variables first.");
        if (values[0].Size != 1)
            throw new ArgumentException($"{GetType().Name}.LoadVariables: the iteration count must be a scalar. Received: shape {ShapeUtil.Format(values[0].ShapeRef)}");
        int k = 1;
        for (int s = 0; s < AllSlotNames.Count; s++)
            for (int v = 0; v < variables.Count; v++, k++)
                if (!ShapeUtil.SameShape(values[k].ShapeRef, variables[v].ShapeRef))
                    throw new ArgumentException($"{GetType().Name}.LoadVariables: slot '{AllSlotNames[s]}' of variable '{variables[v].Name}' has shape {ShapeUtil.Format(variables[v].ShapeRef)}. Received: shape {ShapeUtil.Format(values[k].ShapeRef)}");
        k = 1;
        for (int s = 0; s < AllSlotNames.Count; s++)
            for (int v = 0; v < variables.Count; v++, k++)
                values[k].AsSpan().CopyTo(slots[v][s]);
        Iterations = (long)values[0].AsSpan()[0];
    }

    /// <summary>The slot names, in the order each variable's slots are saved (for the model file).</summary>
    internal IReadOnlyList<string> SavedSlotNames => AllSlotNames;

    /// <summary>The optimizer's slots and, with <see cref="UseEma"/>, the moving average last (slots the rule never
    /// reads: it is handed the first three).</summary>
    private IReadOnlyList<string> AllSlotNames => allSlotNames ??= UseEma ? [.. SlotNames, "average"] : SlotNames;
    private IReadOnlyList<string>? allSlotNames;

    /// <summary>
    /// For saving with a model: each built variable that is one of <paramref name="owned"/> — in the order first
    /// built — as its position in that list and its slot arrays (live, not copies). Slots of variables outside the
    /// list (a popped layer's) are left out: nothing can reach those variables once the model is reloaded.
    /// </summary>
    internal List<(int Position, float[][] Slots)> SlotsOwnedBy(IReadOnlyList<Variable> owned)
    {
        var position = new Dictionary<Variable, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < owned.Count; i++) position[owned[i]] = i;
        var result = new List<(int, float[][])>();
        for (int v = 0; v < variables.Count; v++)
            if (position.TryGetValue(variables[v], out int i)) result.Add((i, slots[v]));
        return result;
    }

    /// <summary>
    /// For loading: builds exactly <paramref name="state"/>'s variables, in that order, with those slot values, and
    /// sets the iteration count — so the next update is the one the saved optimizer would have made, including for a
    /// variable that is frozen now and unfrozen later.
    /// </summary>
    /// <exception cref="InvalidOperationException">This optimizer has already built variables.</exception>
    internal void Restore(long iterations, IReadOnlyList<(Variable Variable, float[][] Slots)> state)
    {
        if (variables.Count > 0)
            throw new InvalidOperationException($"{GetType().Name}: optimizer state can only be restored into an optimizer that has not built any variable yet. Received one that has built {variables.Count}.");
        foreach (var (v, values) in state)
        {
            Build([v]);
            for (int s = 0; s < values.Length; s++) values[s].CopyTo(slots[^1][s], 0);
        }
        Iterations = iterations;
    }

    /// <summary>
    /// For the fused training step, which updates a weight matrix a block at a time while each block's gradient is
    /// still in cache: this step's update of <paramref name="variable"/> with its slots set (the caller pins the
    /// variable and sets <see cref="PieceStep.W"/>), the same rule and constants <see cref="UpdateStep"/> would use, so
    /// the pieces get exactly its bits; the caller then leaves the variable out of the step's ApplyGradients. False
    /// when the variable is not built yet, has a constraint (which projects the whole updated variable), when clipping needs its whole gradient (<see cref="ClipNorm"/>) or all of
    /// them (<see cref="GlobalClipNorm"/>) first, or when a subclass overrides <see cref="UpdateStep"/>.
    /// <see cref="ClipValue"/> is element-wise, so the pieces clip themselves.
    /// </summary>
    internal bool TryBeginPieces(Variable variable, out PieceStep step)
    {
        step = default;
        if (ClipNorm is not null || GlobalClipNorm is not null || !UpdatesByRule || variable.Constraint != null || !indexOf.TryGetValue(variable, out int index))
            return false;
        skipDecay = Excluded(variable);
        var made = Rule(LearningRate);
        skipDecay = false;
        if (made is not { } rule) return false;
        step = rule;
        step.ClipValue = ClipValue ?? 0f;
        SetSlots(ref step, index);
        return true;
    }

    /// <summary>Whether <see cref="UpdateStep"/> is the base's (the rule's): a subclass that overrides it changes the
    /// update, and the pieces would not follow. Looked up once.</summary>
    private bool UpdatesByRule => updatesByRule ??=
        GetType().GetMethod(nameof(UpdateStep), BindingFlags.Instance | BindingFlags.NonPublic)!.DeclaringType == typeof(Optimizer);
    private bool? updatesByRule;

    /// <summary>The constructor arguments, Keras-named (<c>learning_rate</c>, <c>clipnorm</c>, …), for saving. A
    /// schedule is saved as <c>{"class_name": …, "config": {…}}</c> under <c>learning_rate</c>.</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Optimizer> Create)[] Names =
    [
        ("adadelta", () => new Adadelta()),
        ("adagrad", () => new Adagrad()),
        ("adam", () => new Adam()),
        ("adamax", () => new Adamax()),
        ("adamw", () => new AdamW()),
        ("lion", () => new Lion()),
        ("nadam", () => new Nadam()),
        ("rmsprop", () => new RMSprop()),
        ("sgd", () => new SGD()),
    ];

    /// <summary>The optimizer for a Keras name (<c>"adadelta"</c>, <c>"adagrad"</c>, <c>"adam"</c>, <c>"adamax"</c>,
    /// <c>"adamw"</c>, <c>"lion"</c>, <c>"nadam"</c>, <c>"rmsprop"</c>, <c>"sgd"</c>) with default arguments.</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Optimizer Get(string identifier) => ConfigJson.Resolve("optimizer", identifier, Names);

    /// <summary>Rebuilds an optimizer (without its state) from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static Optimizer FromConfig(string className, JsonElement config) => ConfigRegistry.Optimizers.Create(className, config);
}
