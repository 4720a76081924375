using System.Runtime.InteropServices;
using System.Numerics.Tensors;
using Cortex.Kernels;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Add))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Subtract))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Multiply))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Average))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Maximum))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Minimum))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Concatenate))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Dot))]

namespace Cortex.Layers;

/// <summary>
/// The base of Keras's merge layers: a layer called on a list of tensors (<see cref="Layer.Call(Tensor[])"/>, or on
/// symbolic tensors in a <see cref="Models.Functional"/> model) that combines them into one. They have no weights; their
/// gradients are those of the tensor ops they are written with.
/// </summary>
/// <example><code>SymbolicTensor sum = new Add().Call(x, skip);</code></example>
public abstract class Merge : Layer
{
    /// <summary>Names the layer.</summary>
    protected Merge(string? name) : base(name) { }

    /// <summary>How many inputs the layer takes: null for any number from 1, or an exact count (2 for Subtract and Dot).</summary>
    private protected virtual int? Arity => null;

    /// <summary>Keras's message for a single tensor where a list is expected.</summary>
    protected override void Build(int[] inputShape) =>
        throw new ArgumentException($"{GetType().Name} '{Name}': a merge layer should be called on a list of inputs. Received: one input of shape {ShapeUtil.Format(inputShape)}");

    /// <summary>Nothing to create: a merge has no weights, and its checks run on every call (with the shapes received).</summary>
    protected override void Build(IReadOnlyList<int[]> inputShapes) { }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        throw new ArgumentException($"{GetType().Name} '{Name}': a merge layer should be called on a list of inputs. Received: one input of shape {ShapeUtil.Format(inputs.ShapeRef)}");

    /// <summary>Keras's message for a single tensor where a list is expected.</summary>
    public override int[] ComputeOutputShape(int[] inputShape) =>
        throw new ArgumentException($"{GetType().Name} '{Name}': a merge layer should be called on a list of inputs. Received: one input of shape {ShapeUtil.Format(inputShape)}");

    /// <inheritdoc/>
    public sealed override int[] ComputeOutputShape(IReadOnlyList<int[]> inputShapes)
    {
        ArgumentNullException.ThrowIfNull(inputShapes);
        if (Arity is int n && inputShapes.Count != n)
            throw new ArgumentException($"A `{GetType().Name}` layer ('{Name}') should be called on exactly {n} inputs. Received: {inputShapes.Count} inputs {FormatShapes(inputShapes)}");
        if (inputShapes.Count == 0)
            throw new ArgumentException($"{GetType().Name} '{Name}': a merge layer should be called on a list of at least 1 input. Received: 0 inputs");
        return OutputShape(inputShapes);
    }

    /// <summary>The output shape for inputs the arity check has passed; throws, naming the layer, for shapes it does not take.</summary>
    private protected abstract int[] OutputShape(IReadOnlyList<int[]> inputShapes);

    /// <inheritdoc/>
    protected sealed override Tensor CallCore(IReadOnlyList<Tensor> inputs, bool training)
    {
        var shapes = new int[inputs.Count][];
        for (int i = 0; i < shapes.Length; i++) shapes[i] = inputs[i].ShapeRef;
        ComputeOutputShape(shapes); // the same checks, with the same messages, as at definition time
        return Merged(inputs);
    }

    /// <summary>The merge of inputs that passed the checks, written with differentiable tensor ops.</summary>
    private protected abstract Tensor Merged(IReadOnlyList<Tensor> inputs);

    /// <summary>Shapes as Keras prints them: <c>[(None, 3), (None, 4)]</c>.</summary>
    private protected static string FormatShapes(IReadOnlyList<int[]> shapes) =>
        "[" + string.Join(", ", shapes.Select(Models.Model.FormatShape)) + "]";
}

/// <summary>The base of the element-wise merges: inputs of one shape (or shapes that broadcast, the batch axis included),
/// combined element by element.</summary>
public abstract class ElementwiseMerge : Merge
{
    /// <summary>Names the layer.</summary>
    protected ElementwiseMerge(string? name) : base(name) { }

    private protected override int[] OutputShape(IReadOnlyList<int[]> inputShapes)
    {
        int[] shape = inputShapes[0];
        foreach (var s in inputShapes.Skip(1))
        {
            if (s.Length != shape.Length) throw Incompatible(inputShapes);
            var merged = new int[s.Length];
            for (int d = 0; d < s.Length; d++)
            {
                int a = shape[d], b = s[d];
                merged[d] = a == b ? a : a == 1 ? b : b == 1 ? a : a == -1 || b == -1 ? -1 : throw Incompatible(inputShapes);
            }
            shape = merged;
        }
        return (int[])shape.Clone();
    }

    private ArgumentException Incompatible(IReadOnlyList<int[]> shapes) =>
        new($"{GetType().Name} '{Name}': inputs have incompatible shapes. Received: {FormatShapes(shapes)}");

    private protected override Tensor Merged(IReadOnlyList<Tensor> inputs)
    {
        Tensor r = inputs[0];
        for (int i = 1; i < inputs.Count; i++) r = Combine(r, inputs[i]);
        return Finish(r, inputs.Count);
    }

    /// <summary>Combines the running result with the next input.</summary>
    private protected abstract Tensor Combine(Tensor result, Tensor next);

    /// <summary>The last step on the combined inputs (Average divides by the count).</summary>
    private protected virtual Tensor Finish(Tensor result, int count) => result;

    /// <summary>Whether the fused step may run this merge of <paramref name="inputs"/> inputs of one shape (the span
    /// forms below then give the bits of the tensor forms and of their tape gradients).</summary>
    private protected virtual bool Fuses(int inputs) => false;

    /// <summary>The tensor Combine on spans: <paramref name="into"/> = result ∘ next.</summary>
    private protected virtual void Combine(ReadOnlySpan<float> result, ReadOnlySpan<float> next, Span<float> into) { }

    /// <summary>The tensor Finish on a span, in place.</summary>
    private protected virtual void Finish(Span<float> result, int count) { }

    /// <summary>The gradient reaching input <paramref name="index"/> from the output's gradient <paramref name="g"/>
    /// (<paramref name="inputs"/>: every input's buffer, whose g.Length values from <paramref name="offset"/> are the
    /// elements g covers).</summary>
    private protected virtual void Gradient(ReadOnlySpan<float> g, float[][] inputs, int index, Span<float> into, int offset) { }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        var samples = context.Samples;
        reason = samples.Length < 2 || !Fuses(samples.Length) ? $"has no fused stage for {samples.Length} input(s)"
            : samples.Any(s => !s.AsSpan().SequenceEqual(samples[0])) ? "broadcasts inputs of different shapes" : "";
        if (reason.Length > 0) return false;
        stage = new ElementwiseStage(this) { Width = context.InputWidth };
        return true;
    }

    /// <summary>The merge on the fused step's rows: the inputs combined in order, as the tape's ops combine them.</summary>
    private sealed class ElementwiseStage(ElementwiseMerge layer) : Stage
    {
        public override void Forward(float[] input, int rows) => throw new InvalidOperationException($"{layer.GetType().Name} '{layer.Name}' merges several inputs.");

        public override void Backward(float[] input, float[]? inputGrad, int rows) => Forward(input, rows);

        // The pass in hand, for the cores' ranges (set by the calling thread before it dispatches, read-only meanwhile).
        private float[][] pendingInputs = [];
        private float[]?[] pendingGrads = [];

        public override void Forward(float[][] inputs, int rows)
        {
            pendingInputs = inputs;
            InRanges(rows * Width, backward: false);
        }

        public override void Backward(float[][] inputs, float[]?[] inputGrads, int rows)
        {
            pendingInputs = inputs;
            pendingGrads = inputGrads;
            InRanges(rows * Width, backward: true);
        }

        private unsafe struct RangeJob
        {
            public GCHandle Stage;
            public bool Backward;
        }

        /// <summary>Elements [0, n) — on all cores when there are enough of them (a residual block's merge of 32 images
        /// of 13 × 13 × 32 is 173K floats: its sum and its two gradient copies ran serially while the other core
        /// waited). Element-wise, so the split changes no bit.</summary>
        private unsafe void InRanges(int n, bool backward)
        {
            int parts = OnCores.Parts(n);
            if (parts > 1)
            {
                var job = new RangeJob { Stage = GCHandle.Alloc(this), Backward = backward };
                try
                {
                    Span<int> bounds = stackalloc int[parts + 1];
                    OnCores.Bounds(n, bounds);
                    if (GemmThreads.TryRunRanges(&Part, &job, bounds)) return;
                }
                finally { job.Stage.Free(); }
            }
            Range(0, n, backward);
        }

        private static unsafe void Part(void* state, int lo, int hi)
        {
            var job = (RangeJob*)state;
            ((ElementwiseStage)job->Stage.Target!).Range(lo, hi, job->Backward);
        }

        private void Range(int lo, int hi, bool backward)
        {
            var inputs = pendingInputs;
            int n = hi - lo;
            if (!backward)
            {
                var result = Output.AsSpan(lo, n);
                layer.Combine(inputs[0].AsSpan(lo, n), inputs[1].AsSpan(lo, n), result);
                for (int i = 2; i < inputs.Length; i++) layer.Combine(result, inputs[i].AsSpan(lo, n), result);
                layer.Finish(result, inputs.Length);
                return;
            }
            for (int i = 0; i < inputs.Length; i++)
                if (pendingGrads[i] is { } into) layer.Gradient(OutputGrad.AsSpan(lo, n), inputs, i, into.AsSpan(lo, n), lo);
        }

        public override bool LendsBuffers => true; // backward reads the output's gradient only (and the inputs)

        public override bool ReadsSeveral => true;
    }
}

/// <summary>Adds its inputs element-wise, as <c>keras.layers.Add</c>: the residual connection <c>x + f(x)</c>.</summary>
/// <example><code>var y = new Add().Call(x, new Dense(64, "relu").Call(x));</code></example>
public sealed class Add(string? name = null) : ElementwiseMerge(name)
{
    private protected override Tensor Combine(Tensor result, Tensor next) => result + next;

    private protected override bool Fuses(int inputs) => true;

    private protected override void Combine(ReadOnlySpan<float> result, ReadOnlySpan<float> next, Span<float> into) => TensorPrimitives.Add(result, next, into);

    private protected override void Gradient(ReadOnlySpan<float> g, float[][] inputs, int index, Span<float> into, int offset) => g.CopyTo(into);
}

/// <summary>Subtracts the second input from the first, as <c>keras.layers.Subtract</c> (exactly two inputs).</summary>
/// <example><code>var difference = new Subtract().Call(a, b);   // a − b</code></example>
public sealed class Subtract(string? name = null) : ElementwiseMerge(name)
{
    private protected override int? Arity => 2;

    private protected override Tensor Combine(Tensor result, Tensor next) => result - next;

    private protected override bool Fuses(int inputs) => true;

    private protected override void Combine(ReadOnlySpan<float> result, ReadOnlySpan<float> next, Span<float> into) => TensorPrimitives.Subtract(result, next, into);

    private protected override void Gradient(ReadOnlySpan<float> g, float[][] inputs, int index, Span<float> into, int offset)
    {
        if (index == 0) g.CopyTo(into);
        else TensorPrimitives.Negate(g, into);
    }
}

/// <summary>Multiplies its inputs element-wise, as <c>keras.layers.Multiply</c> (a gate: <c>x · σ(g)</c>).</summary>
/// <example><code>var gated = new Multiply().Call(x, new Dense(64, "sigmoid").Call(x));</code></example>
public sealed class Multiply(string? name = null) : ElementwiseMerge(name)
{
    private protected override Tensor Combine(Tensor result, Tensor next) => result * next;

    private protected override bool Fuses(int inputs) => inputs == 2; // more: the tape's product order of the gradients

    private protected override void Combine(ReadOnlySpan<float> result, ReadOnlySpan<float> next, Span<float> into) => TensorPrimitives.Multiply(result, next, into);

    private protected override void Gradient(ReadOnlySpan<float> g, float[][] inputs, int index, Span<float> into, int offset) =>
        TensorPrimitives.Multiply(g, inputs[1 - index].AsSpan(offset, g.Length), into);
}

/// <summary>The element-wise mean of its inputs, as <c>keras.layers.Average</c>.</summary>
/// <example><code>var ensemble = new Average().Call(head1, head2, head3);</code></example>
public sealed class Average(string? name = null) : ElementwiseMerge(name)
{
    private protected override Tensor Combine(Tensor result, Tensor next) => result + next;

    private protected override Tensor Finish(Tensor result, int count) => count == 1 ? result : result / count;

    private protected override bool Fuses(int inputs) => true;

    private protected override void Combine(ReadOnlySpan<float> result, ReadOnlySpan<float> next, Span<float> into) => TensorPrimitives.Add(result, next, into);

    private protected override void Finish(Span<float> result, int count) => TensorPrimitives.Divide(result, count, result);

    private protected override void Gradient(ReadOnlySpan<float> g, float[][] inputs, int index, Span<float> into, int offset) =>
        TensorPrimitives.Divide(g, inputs.Length, into);
}

/// <summary>The element-wise maximum of its inputs, as <c>keras.layers.Maximum</c> (at ties the gradient is split evenly).</summary>
/// <example><code>var m = new Maximum().Call(a, b);</code></example>
public sealed class Maximum(string? name = null) : ElementwiseMerge(name)
{
    private protected override Tensor Combine(Tensor result, Tensor next) => Tensor.Maximum(result, next);
}

/// <summary>The element-wise minimum of its inputs, as <c>keras.layers.Minimum</c> (at ties the gradient is split evenly).</summary>
/// <example><code>var m = new Minimum().Call(a, b);</code></example>
public sealed class Minimum(string? name = null) : ElementwiseMerge(name)
{
    private protected override Tensor Combine(Tensor result, Tensor next) => Tensor.Minimum(result, next);
}

/// <summary>
/// Joins its inputs along <see cref="Axis"/> (the last by default), as <c>keras.layers.Concatenate</c>: every other
/// axis must match. <c>(N, 3)</c> and <c>(N, 5)</c> give <c>(N, 8)</c>.
/// </summary>
/// <example><code>var both = new Concatenate().Call(wide, deep);</code></example>
public sealed class Concatenate : Merge
{
    /// <summary>Creates the layer.</summary>
    /// <param name="axis">The axis to join along, batch axis included (negative counts from the end); not the batch axis.</param>
    /// <param name="name">The layer's name.</param>
    public Concatenate(int axis = -1, string? name = null) : base(name)
    {
        Axis = axis;
    }

    /// <summary>The axis the inputs are joined along.</summary>
    public int Axis { get; }

    private protected override int[] OutputShape(IReadOnlyList<int[]> inputShapes)
    {
        int rank = inputShapes[0].Length;
        int a = Axis < 0 ? Axis + rank : Axis;
        bool ok = a >= 1 && a < rank;
        int total = 0;
        foreach (var s in inputShapes)
        {
            ok &= s.Length == rank;
            for (int d = 0; ok && d < rank; d++) ok = d == a || s[d] == inputShapes[0][d] || s[d] == -1 || inputShapes[0][d] == -1;
            if (ok) total = total < 0 || s[a] < 0 ? -1 : total + s[a];
        }
        if (!ok)
            throw new ArgumentException($"A `Concatenate` layer ('{Name}', axis={Axis}) requires inputs with matching shapes except for the concatenation axis, which may not be the batch axis. Received: input_shape={FormatShapes(inputShapes)}");
        int[] shape = (int[])inputShapes[0].Clone();
        shape[a] = total;
        return shape;
    }

    private protected override Tensor Merged(IReadOnlyList<Tensor> inputs) => Tensor.Concat(inputs, Axis);

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        var samples = context.Samples;
        int rank = samples[0].Length + 1, a = (Axis < 0 ? Axis + rank : Axis) - 1;
        reason = samples.Length < 2 ? "has no fused stage for one input" : samples.Any(s => s.Contains(-1)) ? "has inputs of unknown size" : "";
        if (reason.Length > 0) return false;
        int outer = 1;
        for (int d = 0; d < a; d++) outer *= samples[0][d];
        // Each input's block at one outer position: its sizes from the axis on.
        int[] blocks = [.. samples.Select(s => s.Skip(a).Aggregate(1, (p, d) => p * d))];
        stage = new ConcatenateStage(outer, blocks) { Width = outer * blocks.Sum() };
        return true;
    }

    /// <summary>The join on the fused step's rows: each input's block copied at every outer position, and back.</summary>
    private sealed class ConcatenateStage(int outer, int[] blocks) : Stage
    {
        public override void Forward(float[] input, int rows) => throw new InvalidOperationException("Concatenate joins several inputs.");

        public override void Backward(float[] input, float[]? inputGrad, int rows) => Forward(input, rows);

        public override void Forward(float[][] inputs, int rows) => Copy(inputs, Output, rows, toJoined: true);

        public override void Backward(float[][] inputs, float[]?[] inputGrads, int rows) => Copy(inputGrads, OutputGrad, rows, toJoined: false);

        private void Copy(float[]?[] parts, float[] joined, int rows, bool toJoined)
        {
            int at = 0;
            for (int o = 0; o < rows * outer; o++)
                for (int i = 0; i < blocks.Length; i++)
                {
                    int b = blocks[i];
                    if (parts[i] is { } part)
                    {
                        if (toJoined) part.AsSpan(o * b, b).CopyTo(joined.AsSpan(at, b));
                        else joined.AsSpan(at, b).CopyTo(part.AsSpan(o * b, b));
                    }
                    at += b;
                }
        }

        public override bool LendsBuffers => true;

        public override bool ReadsSeveral => true;
    }
}

/// <summary>
/// The dot product of two inputs sample by sample, as <c>keras.layers.Dot</c>: for (N, d) inputs the (N, 1) column of
/// row-wise dot products; for (N, n, k) and (N, k, m) with <c>axes: [2, 1]</c>, the (N, n, m) batch of matrix products.
/// <see cref="Normalize"/> L2-normalises each input along its axis first, so the result is the cosine similarity.
/// </summary>
/// <example><code>var similarity = new Dot(axes: [1], normalize: true).Call(queryEmbedding, itemEmbedding);   // (N, 1)</code></example>
public sealed class Dot : Merge
{
    /// <summary>Creates the layer.</summary>
    /// <param name="axes">The axis of each input to multiply over, batch axis included: one for both, or one per input
    /// (negative counts from the end). Inputs of rank 2 or 3.</param>
    /// <param name="normalize">L2-normalise each input along its axis first (cosine proximity).</param>
    /// <param name="name">The layer's name.</param>
    /// <exception cref="ArgumentException"><paramref name="axes"/> has other than 1 or 2 entries.</exception>
    public Dot(int[] axes, bool normalize = false, string? name = null) : base(name)
    {
        ArgumentNullException.ThrowIfNull(axes);
        if (axes.Length is not (1 or 2))
            throw new ArgumentException($"Dot: axes must be one axis or one per input. Received: axes={ShapeUtil.Format(axes)}", nameof(axes));
        Axes = (int[])axes.Clone();
        Normalize = normalize;
    }

    /// <summary>The axes multiplied over, as given.</summary>
    public int[] Axes { get; }

    /// <summary>Whether the inputs are L2-normalised along their axes first.</summary>
    public bool Normalize { get; }

    private protected override int? Arity => 2;

    // The axes resolved against the inputs' ranks: 1 or 2, never the batch axis.
    private (int A, int B) Resolve(IReadOnlyList<int[]> shapes)
    {
        int ra = shapes[0].Length, rb = shapes[1].Length;
        int a = Axes[0], b = Axes[^1];
        a = a < 0 ? a + ra : a;
        b = b < 0 ? b + rb : b;
        bool ok = ra is 2 or 3 && rb is 2 or 3 && ra == rb && a >= 1 && a < ra && b >= 1 && b < rb
            && (shapes[0][a] == shapes[1][b] || shapes[0][a] == -1 || shapes[1][b] == -1);
        if (!ok)
            throw new ArgumentException($"Dot '{Name}' multiplies two inputs of rank 2 or 3 (the same rank) whose sizes on axes={ShapeUtil.Format(Axes)} match, not on the batch axis. Received: input_shape={FormatShapes(shapes)}");
        return (a, b);
    }

    private protected override int[] OutputShape(IReadOnlyList<int[]> inputShapes)
    {
        var (a, b) = Resolve(inputShapes);
        if (inputShapes[0].Length == 2) return [-1, 1];
        return [-1, inputShapes[0][3 - a], inputShapes[1][3 - b]];
    }

    private protected override Tensor Merged(IReadOnlyList<Tensor> inputs)
    {
        var (a, b) = Resolve([inputs[0].ShapeRef, inputs[1].ShapeRef]);
        Tensor x = inputs[0], y = inputs[1];
        if (Normalize)
        {
            x = L2Normalize(x, a);
            y = L2Normalize(y, b);
        }
        if (x.Rank == 2) return (x * y).Sum(1, keepDims: true);
        // (N, n, k)·(N, k, m): the contracted axis last in x and first (after the batch) in y.
        if (a == 1) x = x.Transpose(0, 2, 1);
        if (b == 2) y = y.Transpose(0, 2, 1);
        return Tensor.MatMul(x, y);
    }

    /// <summary><c>x / sqrt(max(Σx², 1e-12))</c> along <paramref name="axis"/>, as <c>tf.math.l2_normalize</c>.</summary>
    private static Tensor L2Normalize(Tensor x, int axis) =>
        x / Tensor.Maximum(x.Square().Sum(axis, keepDims: true), 1e-12f).Sqrt();
}
