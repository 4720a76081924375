using Cortex.Autodiff;

namespace Cortex;

/// <summary>What <see cref="GradientTape.Gradient(Tensor, Tensor[])"/> returns for a source the target does not depend on.</summary>
public enum UnconnectedGradients
{
    /// <summary>A tensor of zeros of the source's shape (the convenient default in C#).</summary>
    Zero,
    /// <summary>Null, as TensorFlow's default <c>UnconnectedGradients.NONE</c> does.</summary>
    None,
}

/// <summary>
/// Records the ops run while it is active so that <see cref="Gradient(Tensor, Tensor[])"/> can differentiate a target
/// with respect to variables or watched tensors by reverse-mode accumulation — the computation graph and
/// backpropagation of the course notes. Trainable <see cref="Variable"/>s are watched automatically.
/// </summary>
/// <example>
/// <code>
/// var w = new Variable(Tensor.FromArray(new float[] { 3 }));
/// using (var tape = new GradientTape())
/// {
///     Tensor j = (w * w).Sum();            // J = w²
///     Tensor[] dj = tape.Gradient(j, w);   // dJ/dw = 6
/// }
/// </code>
/// </example>
/// <remarks>
/// <c>Dispose</c> only ends the recording scope (like Python's <c>with</c>); the tape holds no unmanaged resources.
/// Ops run while no tape is active record nothing and cost nothing extra.
/// </remarks>
public sealed class GradientTape : IDisposable
{
    [ThreadStatic] private static List<GradientTape>? active;
    [ThreadStatic] private static int pauseDepth;

    private readonly List<TapeNode> nodes = [];
    private readonly HashSet<Tensor> tracked = new(ReferenceEqualityComparer.Instance);
    private readonly bool persistent;
    private readonly bool watchAccessedVariables;
    private bool recording;
    private bool used;

    /// <summary>Starts recording on the current thread.</summary>
    /// <param name="persistent">Allow more than one call to <see cref="Gradient(Tensor, Tensor[])"/>.</param>
    /// <param name="watchAccessedVariables">Watch every trainable variable an op reads (TensorFlow's default).</param>
    public GradientTape(bool persistent = false, bool watchAccessedVariables = true)
    {
        this.persistent = persistent;
        this.watchAccessedVariables = watchAccessedVariables;
        (active ??= []).Add(this);
        recording = true;
    }

    /// <summary>True when some tape is recording on this thread; ops check it before building a record.</summary>
    internal static bool IsRecording => active is { Count: > 0 } && pauseDepth == 0;

    /// <summary>Marks a tensor as a source to differentiate with respect to.</summary>
    public void Watch(params Tensor[] tensors)
    {
        foreach (var t in tensors) tracked.Add(t);
    }

    /// <summary>Ends recording. Gradients can still be taken afterwards.</summary>
    public void Dispose() => StopRecording();

    /// <summary>Stops recording ops on this tape.</summary>
    public void StopRecording()
    {
        if (!recording) return;
        recording = false;
        active?.Remove(this);
    }

    private bool Tracks(Tensor t) =>
        tracked.Contains(t) || (watchAccessedVariables && t is Variable { Trainable: true });

    /// <summary>
    /// Records an op on every active tape that tracks one of its inputs; returns the node (to attach arguments) or
    /// null when nothing tracks the inputs. Callers check <see cref="IsRecording"/> first so that untaped ops pay nothing.
    /// </summary>
    internal static TapeNode? Record(string op, Tensor output, BackwardFunction backward, params Tensor[] inputs)
    {
        var tapes = active;
        if (tapes == null || pauseDepth > 0) return null;
        TapeNode? node = null;
        for (int i = 0; i < tapes.Count; i++)
        {
            var tape = tapes[i];
            bool any = false;
            foreach (var input in inputs)
                if (tape.Tracks(input)) { any = true; break; }
            if (!any) continue;
            node ??= new TapeNode(op, output, inputs, backward);
            tape.nodes.Add(node);
            tape.tracked.Add(output);
        }
        return node;
    }

    /// <summary>Whether some active tape would take a gradient for <paramref name="t"/> — lets an op skip computing an
    /// input gradient nobody asked for (a first layer's gradient with respect to the batch).</summary>
    internal static bool AnyTracks(Tensor t)
    {
        var tapes = active;
        if (tapes == null) return false;
        foreach (var tape in tapes)
            if (tape.Tracks(t)) return true;
        return false;
    }

    /// <summary>
    /// The gradient of <paramref name="target"/> with respect to each source, in order. A non-scalar target is
    /// treated as the sum of its elements (an implicit gradient of ones), as TensorFlow does.
    /// </summary>
    public Tensor[] Gradient(Tensor target, params Tensor[] sources) =>
        Gradient(target, sources, outputGradient: null, UnconnectedGradients.Zero)!;

    /// <summary>
    /// The gradient of <paramref name="target"/> with respect to each source, starting from
    /// <paramref name="outputGradient"/> (ones when null).
    /// </summary>
    /// <exception cref="InvalidOperationException">A non-persistent tape was already used.</exception>
    /// <exception cref="ArgumentException">The output gradient's shape differs from the target's.</exception>
    public Tensor?[] Gradient(Tensor target, IReadOnlyList<Tensor> sources, Tensor? outputGradient, UnconnectedGradients unconnected)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(sources);
        if (used && !persistent)
            throw new InvalidOperationException("GradientTape.Gradient can only be called once on a non-persistent tape. Create the tape with persistent: true to call it more than once.");
        used = true;
        if (!persistent) StopRecording();
        if (outputGradient != null && !ShapeUtil.SameShape(outputGradient.ShapeRef, target.ShapeRef))
            throw new ArgumentException($"GradientTape.Gradient: the output gradient must have the target's shape {ShapeUtil.Format(target.ShapeRef)}. Received: shape {ShapeUtil.Format(outputGradient.ShapeRef)}");

        pauseDepth++;
        try
        {
            var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance)
            {
                [target] = outputGradient ?? Tensor.Full(target.ShapeRef, 1f),
            };
            for (int n = nodes.Count - 1; n >= 0; n--)
            {
                var node = nodes[n];
                if (!grads.TryGetValue(node.Output, out var g)) continue;
                Tensor?[] inputGrads = node.Backward(g, node);
                for (int i = 0; i < node.Inputs.Length; i++)
                {
                    var gi = inputGrads[i];
                    var input = node.Inputs[i];
                    if (gi == null || !Tracks(input)) continue;
                    grads[input] = grads.TryGetValue(input, out var prev) ? prev + gi : gi;
                }
            }
            var result = new Tensor?[sources.Count];
            for (int i = 0; i < sources.Count; i++)
            {
                if (grads.TryGetValue(sources[i], out var g)) result[i] = g;
                else if (unconnected == UnconnectedGradients.Zero) result[i] = Tensor.Zeros(sources[i].ShapeRef);
            }
            return result;
        }
        finally { pauseDepth--; }
    }
}
