using Cortex.Saving;
using System.Numerics.Tensors;
using System.Text.Json;

namespace Cortex.Optimizers;

/// <summary>
/// Updates variables from their gradients, as Keras optimizers do: <see cref="Build"/> creates per-variable slots
/// (momenta, velocities) filled with zeros; each <see cref="ApplyGradients(IReadOnlyList{Tensor}, IReadOnlyList{Variable})"/>
/// clips the gradients if asked, reads the learning rate (from <see cref="Schedule"/> when one is set), updates every
/// variable in place and counts one iteration.
/// </summary>
/// <remarks>
/// Updates run on the variables' storage with SIMD span loops and preallocated slots, so a training step allocates
/// nothing here once the optimizer is built. Subclasses implement <see cref="UpdateStep"/> over spans.
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
    /// <exception cref="ArgumentException">The learning rate is negative, NaN or infinite, more than one clipping
    /// option is set, or one is not a finite number &gt; 0.</exception>
    protected Optimizer(float learningRate, float? clipNorm, float? clipValue, float? globalClipNorm)
    {
        int set = (clipNorm.HasValue ? 1 : 0) + (clipValue.HasValue ? 1 : 0) + (globalClipNorm.HasValue ? 1 : 0);
        if (set > 1)
            throw new ArgumentException($"{GetType().Name}: only one of clipNorm, clipValue and globalClipNorm can be set. Received: clipNorm={clipNorm}, clipValue={clipValue}, globalClipNorm={globalClipNorm}");
        CheckPositive("clipNorm", clipNorm);
        CheckPositive("clipValue", clipValue);
        CheckPositive("globalClipNorm", globalClipNorm);
        this.learningRate = Hyperparameter.LearningRate(GetType().Name, nameof(learningRate), learningRate);
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
    /// (<see cref="Slot"/>); <see cref="Iterations"/> still counts the updates before this one.
    /// </summary>
    protected abstract void UpdateStep(ReadOnlySpan<float> gradient, Span<float> variable, int variableIndex, float learningRate);

    /// <summary>One of a variable's slots, as created by <see cref="Build"/> (zeros initially).</summary>
    protected Span<float> Slot(int variableIndex, int slot) => slots[variableIndex][slot];

    /// <summary>A built variable's slot arrays (for updates applied piece by piece), or null when it is not built.</summary>
    private protected float[][]? SlotsOf(Variable variable) => indexOf.TryGetValue(variable, out int i) ? slots[i] : null;

    /// <summary>Whether no clipping needs a variable's whole gradient (or all of them) before the update.</summary>
    private protected bool ClipsNothing => ClipNorm is null && ClipValue is null && GlobalClipNorm is null;

    /// <summary>
    /// Creates the slots of every variable not seen before. <see cref="ApplyGradients(IReadOnlyList{Tensor}, IReadOnlyList{Variable})"/>
    /// calls it for you; call it yourself before <see cref="LoadVariables"/>.
    /// </summary>
    public void Build(IReadOnlyList<Variable> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        int slotCount = SlotNames.Count;
        for (int k = 0; k < variables.Count; k++) // indexed: no enumerator allocation on the per-step path
        {
            var v = variables[k];
            ArgumentNullException.ThrowIfNull(v);
            if (indexOf.ContainsKey(v)) continue;
            indexOf.Add(v, this.variables.Count);
            this.variables.Add(v);
            var s = new float[slotCount][];
            for (int i = 0; i < slotCount; i++) s[i] = new float[v.Size];
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
            UpdateStep(Clip(g.AsSpan(), index, globalScale), v.Span, index, lr);
        }
        Iterations++;
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
        if (ClipValue is float cv)
        {
            TensorPrimitives.Max(g, -cv, scratch);
            TensorPrimitives.Min(scratch, cv, scratch);
        }
        else TensorPrimitives.Multiply(g, scale, scratch);
        return scratch;
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
            for (int s = 0; s < SlotNames.Count; s++)
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
        int expected = 1 + SlotNames.Count * variables.Count;
        if (values.Count != expected)
            throw new ArgumentException($"{GetType().Name}.LoadVariables: expected {expected} tensors (the iteration count and {SlotNames.Count} slot(s) for each of {variables.Count} built variables). Received: {values.Count}. Call Build with the model's variables first.");
        if (values[0].Size != 1)
            throw new ArgumentException($"{GetType().Name}.LoadVariables: the iteration count must be a scalar. Received: shape {ShapeUtil.Format(values[0].ShapeRef)}");
        int k = 1;
        for (int s = 0; s < SlotNames.Count; s++)
            for (int v = 0; v < variables.Count; v++, k++)
                if (!ShapeUtil.SameShape(values[k].ShapeRef, variables[v].ShapeRef))
                    throw new ArgumentException($"{GetType().Name}.LoadVariables: slot '{SlotNames[s]}' of variable '{variables[v].Name}' has shape {ShapeUtil.Format(variables[v].ShapeRef)}. Received: shape {ShapeUtil.Format(values[k].ShapeRef)}");
        k = 1;
        for (int s = 0; s < SlotNames.Count; s++)
            for (int v = 0; v < variables.Count; v++, k++)
                values[k].AsSpan().CopyTo(slots[v][s]);
        Iterations = (long)values[0].AsSpan()[0];
    }

    /// <summary>The slot names, in the order each variable's slots are saved (for the model file).</summary>
    internal IReadOnlyList<string> SavedSlotNames => SlotNames;

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
    /// still in cache: the step's constants (<see cref="PieceStep"/>) and the variable's slot arrays, or false when this
    /// optimizer cannot update that variable piecewise (the default). The pieces must get exactly the arithmetic
    /// <see cref="UpdateStep"/> gives those elements; the caller then leaves the variable out of the step's
    /// ApplyGradients.
    /// </summary>
    internal virtual bool TryBeginPieces(Variable variable, out float[] slot0, out float[] slot1, out PieceStep step)
    {
        slot0 = slot1 = [];
        step = default;
        return false;
    }

    /// <summary>The constructor arguments, Keras-named (<c>learning_rate</c>, <c>clipnorm</c>, …), for saving. A
    /// schedule is saved as <c>{"class_name": …, "config": {…}}</c> under <c>learning_rate</c>.</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    private static readonly (string Name, Func<Optimizer> Create)[] Names =
    [
        ("adam", () => new Adam()),
        ("adamw", () => new AdamW()),
        ("rmsprop", () => new RMSprop()),
        ("sgd", () => new SGD()),
    ];

    /// <summary>The optimizer for a Keras name (<c>"adam"</c>, <c>"adamw"</c>, <c>"rmsprop"</c>, <c>"sgd"</c>) with default arguments.</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the valid names.</exception>
    public static Optimizer Get(string identifier) => ConfigJson.Resolve("optimizer", identifier, Names);

    /// <summary>Rebuilds an optimizer (without its state) from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static Optimizer FromConfig(string className, JsonElement config) => ConfigRegistry.Optimizers.Create(className, config);
}

/// <summary>
/// One optimizer step's constants for updating a variable a block at a time (<see cref="Optimizer.TryBeginPieces"/>):
/// <see cref="Update"/>(step, g, offset, count) updates <c>count</c> elements of the variable <see cref="W"/> and its
/// slots <see cref="S0"/>/<see cref="S1"/> from <c>offset</c>, with <c>g</c> their gradient. The caller pins the arrays
/// and sets the pointers.
/// </summary>
internal unsafe struct PieceStep
{
    public delegate*<in PieceStep, float*, long, int, void> Update;
    public float* W, S0, S1;
    public float A1, A2, Alpha, Eps;
}
