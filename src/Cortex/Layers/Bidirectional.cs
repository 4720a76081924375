using System.Numerics.Tensors;
using System.Text.Json;
using Cortex.Saving;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Bidirectional))]

namespace Cortex.Layers;

/// <summary>
/// Runs a recurrent layer over a sequence in both directions and merges the two, as
/// <c>keras.layers.Bidirectional</c>: <see cref="Forward"/> is a copy of the given layer (named <c>forward_lstm</c>
/// for an LSTM named <c>lstm</c>), <see cref="Backward"/> a copy with <c>goBackwards</c> flipped (<c>backward_lstm</c>)
/// or the <c>backwardLayer</c> given. With <c>returnSequences</c> the backward layer's outputs are put back in time
/// order before merging, so step t of the output sees the sequence up to t and from t on.
/// </summary>
/// <remarks>
/// The weights are the forward layer's then the backward layer's (Keras's order), listed, saved, trained and frozen
/// with this layer; <c>Bidirectional(new LSTM(64))</c> has twice the LSTM's parameters. A mask reaches both layers; with
/// <c>returnSequences</c> their masked steps' outputs are zeros (Keras forces <c>zero_output_for_mask</c> there). In
/// the fused training step its stage runs both layers' stages on the same input and merges. With the wrapped layer's
/// <c>returnState</c>, <see cref="Layer.CallWithState(Tensor, IReadOnlyList{Tensor}?, bool, Tensor?)"/> returns
/// <c>[output, forward states…, backward states…]</c> and takes initial states in that order, as Keras.
/// </remarks>
/// <example>
/// <code>
/// var model = new Sequential(new Input([20]), new Embedding(1000, 16, maskZero: true), new Bidirectional(new LSTM(32)), new Dense(2));
/// </code>
/// </example>
public sealed class Bidirectional : Layer
{
    private static readonly string[] Modes = ["concat", "sum", "mul", "ave"];

    /// <summary>Wraps <paramref name="layer"/>.</summary>
    /// <param name="layer">The recurrent layer (SimpleRNN, LSTM, GRU) to run forwards; it is copied, not used itself.</param>
    /// <param name="mergeMode">How the two outputs combine: <c>"concat"</c> (Keras's default; twice the units),
    /// <c>"sum"</c>, <c>"mul"</c> or <c>"ave"</c>.</param>
    /// <param name="backwardLayer">The layer to run backwards, used as given; by default a copy of
    /// <paramref name="layer"/> with <c>goBackwards</c> flipped. It must return sequences as <paramref name="layer"/>
    /// does and go the other way.</param>
    /// <param name="name">Layer name; <c>bidirectional</c>, … when null.</param>
    /// <exception cref="ArgumentException">An unknown merge mode, or a backward layer that does not match.</exception>
    public Bidirectional(RecurrentLayer layer, string mergeMode = "concat", RecurrentLayer? backwardLayer = null, string? name = null) : base(name)
    {
        Layer = layer ?? throw new ArgumentNullException(nameof(layer));
        MergeMode = mergeMode?.ToLowerInvariant() ?? "";
        if (!Modes.Contains(MergeMode))
            throw new ArgumentException($"Bidirectional: mergeMode must be one of \"concat\", \"sum\", \"mul\", \"ave\". Received: mergeMode=\"{mergeMode}\"", nameof(mergeMode));
        if (backwardLayer != null && (backwardLayer.GoBackwards == layer.GoBackwards || backwardLayer.ReturnSequences != layer.ReturnSequences))
            throw new ArgumentException($"Bidirectional: backwardLayer must have goBackwards={!layer.GoBackwards} and returnSequences={layer.ReturnSequences} " +
                $"(the other direction of layer '{layer.Name}'). Received: goBackwards={backwardLayer.GoBackwards}, returnSequences={backwardLayer.ReturnSequences}", nameof(backwardLayer));
        if (backwardLayer != null && backwardLayer.ReturnState != layer.ReturnState)
            throw new ArgumentException($"Bidirectional: backwardLayer must have returnState={layer.ReturnState} as layer '{layer.Name}'. Received: returnState={backwardLayer.ReturnState}", nameof(backwardLayer));
        BackwardLayer = backwardLayer;
        Forward = Copy(layer, "forward_" + layer.Name, flip: false);
        Backward = backwardLayer ?? Copy(layer, "backward_" + layer.Name, flip: true);
        // As Keras: a masked step's output in a returned sequence is zeros in both directions.
        Forward.ZeroOutputForMask = Backward.ZeroOutputForMask = layer.ReturnSequences;
        // One stream of dropout masks for both directions, saved as this layer's.
        if (Forward.Generator != null) Forward.ShareGenerator(Backward);
        Track(Forward);
        Track(Backward);
    }

    /// <summary>The layer given (its configuration is what is saved); <see cref="Forward"/> is its copy that runs.</summary>
    public RecurrentLayer Layer { get; }

    /// <summary>How the outputs combine: concat, sum, mul or ave.</summary>
    public string MergeMode { get; }

    /// <summary>The backward layer given, or null when it is made from <see cref="Layer"/>.</summary>
    public RecurrentLayer? BackwardLayer { get; }

    /// <summary>The layer run forwards (a copy of <see cref="Layer"/> named <c>forward_…</c>).</summary>
    public RecurrentLayer Forward { get; }

    /// <summary>The layer run backwards: <see cref="BackwardLayer"/>, or a copy of <see cref="Layer"/> named
    /// <c>backward_…</c> with <c>goBackwards</c> flipped.</summary>
    public RecurrentLayer Backward { get; }

    /// <inheritdoc/>
    internal override CortexRandom? Generator => Forward.Generator ?? Backward.Generator;

    /// <summary>Whether a call also returns the final states, <c>[output, forward states…, backward states…]</c> (the
    /// wrapped layer's <c>returnState</c>, as Keras).</summary>
    internal override bool ReturnsState => Forward.ReturnState;

    /// <summary>The forward layer's states, then the backward layer's: the order of the initial states it takes and of
    /// the final states it returns.</summary>
    internal override IReadOnlyList<(string Name, int Units)>? States =>
        [.. Forward.States!.Select(s => ("forward " + s.Name, s.Units)), .. Backward.States!.Select(s => ("backward " + s.Name, s.Units))];

    /// <summary>Whether the output is a sequence (the wrapped layer's <c>returnSequences</c>).</summary>
    private bool Sequences => Forward.ReturnSequences;

    // A fresh layer from the wrapped one's configuration, as Keras's _recreate_layer_from_config.
    private static RecurrentLayer Copy(RecurrentLayer layer, string name, bool flip)
    {
        var config = layer.GetConfig();
        config["name"] = name;
        if (flip) config["go_backwards"] = !layer.GoBackwards;
        return (RecurrentLayer)ConfigRegistry.Layers.Create(layer.GetType().Name, JsonSerializer.SerializeToElement(config));
    }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape)
    {
        Forward.EnsureBuilt(inputShape);
        Backward.EnsureBuilt(inputShape);
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        Forward.CheckData(inputs);
        Backward.CheckData(inputs);
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    private protected override Tensor CallCore(Tensor inputs, Tensor mask, bool training) => StageOp.Run(this, inputs, training, mask);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape)
    {
        int[] shape = Forward.ComputeOutputShape(inputShape);
        if (MergeMode == "concat") shape[^1] *= 2;
        return shape;
    }

    /// <summary>With <c>returnSequences</c> the mask reaching the layer; otherwise null.</summary>
    public override Tensor? ComputeMask(Tensor inputs, Tensor? mask) => Sequences ? mask : null;

    /// <inheritdoc/>
    internal override float[]? StageMask(StageContext context, Stage? stage) => Sequences ? context.Mask : null;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        var inner = context.Nested(context.Batch, context.Sample);
        inner.Mask = context.Mask;
        Stage? forward = null, backward = null;
        foreach (var (layer, i) in new[] { (Forward, 0), (Backward, 1) })
        {
            if (!layer.TryCreateStage(inner, out var made, out string why) || made == null)
            {
                reason = $"wraps {layer.GetType().Name} '{layer.Name}', which {why}";
                return false;
            }
            if (i == 0) forward = made;
            else backward = made;
        }
        reason = "";
        stage = new BidirectionalStage(this, (StatefulStage)forward!, (StatefulStage)backward!, context.Batch, context.InputWidth) { Width = context.OutputWidth(this) };
        return true;
    }

    /// <summary>Both layers' stages on the same input, on buffers of their own; the merge and its gradient. The states
    /// are the forward layer's then the backward layer's (Keras's order).</summary>
    private sealed class BidirectionalStage : StatefulStage
    {
        private readonly StatefulStage forward, backward;
        private readonly float[] backwardInputGrad;
        private readonly int positions, units, inputWidth;
        private readonly string mode;

        public override int StateCount => forward.StateCount + backward.StateCount;

        public override int StateWidth(int k) => k < forward.StateCount ? forward.StateWidth(k) : backward.StateWidth(k - forward.StateCount);

        public override float[] FinalState(int k) => k < forward.StateCount ? forward.FinalState(k) : backward.FinalState(k - forward.StateCount);

        /// <summary>Hands each direction its part of <paramref name="states"/> (null stays null).</summary>
        private void Split(float[][]? states, Action<StatefulStage, float[][]?> set)
        {
            int f = forward.StateCount;
            set(forward, states?[..f]);
            set(backward, states?[f..]);
        }

        public BidirectionalStage(Bidirectional layer, StatefulStage forward, StatefulStage backward, int batch, int inputWidth)
        {
            this.forward = forward;
            this.backward = backward;
            this.inputWidth = inputWidth;
            units = layer.Forward.Units;
            positions = forward.Width / units;
            mode = layer.MergeMode;
            foreach (var s in new[] { forward, backward })
            {
                s.Output = new float[batch * s.Width];
                s.OutputGrad = new float[batch * s.Width];
            }
            backwardInputGrad = new float[batch * inputWidth];
        }

        /// <summary>Where row n's output at position p of each direction starts: the backward sequence reversed.</summary>
        private (int F, int B) Offsets(int n, int p) => ((n * positions + p) * units, (n * positions + positions - 1 - p) * units);

        public override void Forward(float[] input, int rows)
        {
            Split(InitialStates, (s, states) => s.InitialStates = states);
            forward.Forward(input, rows);
            backward.Forward(input, rows);
            int width = mode == "concat" ? 2 * units : units;
            for (int n = 0; n < rows; n++)
                for (int p = 0; p < positions; p++)
                {
                    var (fo, bo) = Offsets(n, p);
                    ReadOnlySpan<float> f = forward.Output.AsSpan(fo, units), b = backward.Output.AsSpan(bo, units);
                    Span<float> y = Output.AsSpan((n * positions + p) * width, width);
                    switch (mode)
                    {
                        case "concat": f.CopyTo(y); b.CopyTo(y[units..]); break;
                        case "sum": TensorPrimitives.Add(f, b, y); break;
                        case "mul": TensorPrimitives.Multiply(f, b, y); break;
                        default: TensorPrimitives.Add(f, b, y); TensorPrimitives.Divide(y, 2f, y); break; // ave: (f + b) / 2
                    }
                }
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            int width = mode == "concat" ? 2 * units : units;
            for (int n = 0; n < rows; n++)
                for (int p = 0; p < positions; p++)
                {
                    var (fo, bo) = Offsets(n, p);
                    ReadOnlySpan<float> g = OutputGrad.AsSpan((n * positions + p) * width, width);
                    Span<float> df = forward.OutputGrad.AsSpan(fo, units), db = backward.OutputGrad.AsSpan(bo, units);
                    switch (mode)
                    {
                        case "concat": g[..units].CopyTo(df); g[units..].CopyTo(db); break;
                        case "sum": g.CopyTo(df); g.CopyTo(db); break;
                        case "mul":
                            TensorPrimitives.Multiply(g, backward.Output.AsSpan(bo, units), df);
                            TensorPrimitives.Multiply(g, forward.Output.AsSpan(fo, units), db);
                            break;
                        default: TensorPrimitives.Divide(g, 2f, df); df.CopyTo(db); break;
                    }
                }
            Split(FinalStateGrads, (s, grads) => s.FinalStateGrads = grads);
            Split(InitialStateGrads, (s, grads) => s.InitialStateGrads = grads);
            forward.Backward(input, inputGrad, rows);
            backward.Backward(input, inputGrad == null ? null : backwardInputGrad, rows);
            if (inputGrad != null)
            {
                Span<float> dx = inputGrad.AsSpan(0, rows * inputWidth);
                TensorPrimitives.Add(dx, backwardInputGrad.AsSpan(0, rows * inputWidth), dx);
            }
        }
    }
}
