using System.Text.Json;
using Cortex.Layers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Sequence;

/// <summary>
/// The sequence layers against PyTorch (tests/reference/make_sequence_reference.py → sequence.json): forward values,
/// gradients to the input (unless it is indices) and to every weight, and a central finite-difference check of each
/// weight's gradient. A recurrent case with <c>"initial_state"</c> starts from those states (and takes their gradients
/// too); one with <c>return_state</c> compares the output and the final states side by side, as the generator packs them.
/// </summary>
public class SequenceReferenceTests : LayerReferenceSuite
{
    private const string File = "sequence.json";
    /// <inheritdoc/>
    protected override float Rtol => 1e-4f;
    /// <inheritdoc/>
    protected override float Atol => 1e-5f;

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    /// <summary>The case's layer with PyTorch's weights, its input, and the tensors to differentiate with respect to
    /// (the input unless it is indices, then the layer's weights in the generator's order).</summary>
    protected override (Layer Layer, Tensor X, Tensor[] Sources, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var a = c.GetProperty("args");
        Tensor[] inputs = [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)];
        Tensor x = inputs[0];
        bool xGrad = !c.TryGetProperty("x_grad", out var g) || g.GetBoolean();
        bool ReturnState = a.TryGetProperty("return_state", out var rs) && rs.GetBoolean();
        Layer layer = c.GetProperty("layer").GetString() switch
        {
            "embedding" => new Embedding(a.GetProperty("input_dim").GetInt32(), a.GetProperty("output_dim").GetInt32()),
            "simple_rnn" => new SimpleRNN(Int("units"), Str("activation"), Bool("use_bias"), returnSequences: Bool("return_sequences"), goBackwards: Bool("go_backwards"),
                returnState: ReturnState),
            "lstm" => new LSTM(Int("units"), Str("activation"), Str("recurrent_activation"), Bool("use_bias"), returnSequences: Bool("return_sequences"),
                goBackwards: Bool("go_backwards"), returnState: ReturnState),
            "gru" => new GRU(Int("units"), Str("activation"), Str("recurrent_activation"), Bool("use_bias"), returnSequences: Bool("return_sequences"),
                goBackwards: Bool("go_backwards"), returnState: ReturnState, resetAfter: Bool("reset_after")),
            "bidirectional" => new Bidirectional(Str("inner") switch
            {
                "lstm" => new LSTM(Int("units"), returnSequences: Bool("return_sequences"), returnState: ReturnState),
                "gru" => new GRU(Int("units"), returnSequences: Bool("return_sequences"), returnState: ReturnState, resetAfter: Bool("reset_after")),
                _ => new SimpleRNN(Int("units"), returnSequences: Bool("return_sequences"), returnState: ReturnState),
            }, Str("merge_mode")),
            "masking" => new Masking(a.GetProperty("mask_value").GetSingle()),
            "global_average_pooling1d" => new GlobalAveragePooling1D(),
            var other => throw new InvalidDataException($"{name}: unknown layer {other}"),
        };
        layer.EnsureBuilt(x.Shape);
        int Int(string key) => a.GetProperty(key).GetInt32();
        bool Bool(string key) => a.GetProperty(key).GetBoolean();
        string Str(string key) => a.GetProperty(key).GetString()!;
        layer.SetWeights(inputs[1..]);
        Tensor[] sources = [.. xGrad ? [x] : Array.Empty<Tensor>(), .. layer.TrainableWeights];
        Tensor? mask = c.TryGetProperty("mask", out var m) ? ReferenceData.ToTensor(m) : null;
        if (c.TryGetProperty("initial_state", out var init))
        {
            // Variables, so that the tape watches them and the finite differences can nudge them in place.
            Variable[] states = [.. init.EnumerateArray().Select((e, k) => new Variable(ReferenceData.ToTensor(e), $"state_{k}"))];
            return (new WithStates(layer, states, mask), x, [.. sources, .. states], c);
        }
        if (mask != null) layer = new WithMask(layer, mask);
        return (layer, x, sources, c);
    }

    /// <summary>
    /// The layer called with <see cref="Layer.CallWithState(Tensor, IReadOnlyList{Tensor}?, bool, Tensor?)"/> from the
    /// case's initial states (none when empty) and mask; with returnState its outputs packed per row, as the generator
    /// packs them: the output flattened, then each final state.
    /// </summary>
    private sealed class WithStates(Layer inner, Tensor[] states, Tensor? mask) : Layer(inner.Name + "_with_states")
    {
        protected override Tensor CallCore(Tensor inputs, bool training)
        {
            Tensor[] outs = inner.CallWithState(inputs, states, training, mask);
            return outs.Length == 1 ? outs[0] : Tensor.Concat([.. outs.Select(o => o.Reshape(o.ShapeRef[0], -1))], axis: 1);
        }

        public override int[] ComputeOutputShape(int[] inputShape)
        {
            int[] shape = inner.ComputeOutputShape(inputShape);
            if (!inner.ReturnsState) return shape;
            return [shape[0], shape[1..].Aggregate(1, (p, d) => p * d) + inner.States!.Sum(s => s.Units)];
        }
    }

    /// <summary>The layer called with the case's mask (the reference helpers call <c>layer.Call(x)</c>).</summary>
    private sealed class WithMask(Layer inner, Tensor mask) : Layer(inner.Name + "_with_mask")
    {
        protected override Tensor CallCore(Tensor inputs, bool training) => inner.Call(inputs, training, mask);

        public override int[] ComputeOutputShape(int[] inputShape) => inner.ComputeOutputShape(inputShape);
    }
}
