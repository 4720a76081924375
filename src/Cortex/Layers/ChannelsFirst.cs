namespace Cortex.Layers;

/// <summary>
/// Keras's <c>data_format</c> for the image and sequence layers: <c>"channels_last"</c> (N, H, W, C), Cortex's and Keras's default,
/// or <c>"channels_first"</c> (N, C, H, W), PyTorch's. A channels-first layer is its channels-last self between two
/// transposes — on the tape (<see cref="ToLast"/>, <see cref="ToFirst"/>) and in the fused step
/// (<see cref="ChannelsFirstStage"/>) alike — so there is one definition of each layer's arithmetic.
/// </summary>
internal static class ChannelsFirst
{
    /// <summary>Validates a <c>dataFormat</c> argument.</summary>
    /// <exception cref="ArgumentException">It is neither "channels_last" nor "channels_first".</exception>
    public static string Check(string layer, string dataFormat)
    {
        string f = dataFormat?.ToLowerInvariant() ?? "";
        return f is "channels_last" or "channels_first" ? f
            : throw new ArgumentException($"{layer}: dataFormat must be \"channels_last\" or \"channels_first\". Received: dataFormat=\"{dataFormat}\"", nameof(dataFormat));
    }

    /// <summary>An (N, C, H, W) shape as (N, H, W, C), an (N, C, L) sequence's as (N, L, C); other ranks as they are
    /// (the rank check names them).</summary>
    public static int[] Last(int[] shape) => shape.Length switch
    {
        4 => [shape[0], shape[2], shape[3], shape[1]],
        3 => [shape[0], shape[2], shape[1]],
        _ => shape,
    };

    /// <summary>An (N, H, W, C) shape as (N, C, H, W), an (N, L, C) sequence's as (N, C, L).</summary>
    public static int[] First(int[] shape) => shape.Length switch
    {
        4 => [shape[0], shape[3], shape[1], shape[2]],
        3 => [shape[0], shape[2], shape[1]],
        _ => shape,
    };

    /// <summary>(N, C, H, W) → (N, H, W, C) or (N, C, L) → (N, L, C), recorded on the tape.</summary>
    public static Tensor ToLast(Tensor x) => x.Rank == 3 ? x.Transpose(0, 2, 1) : x.Transpose(0, 2, 3, 1);

    /// <summary>(N, H, W, C) → (N, C, H, W) or (N, L, C) → (N, C, L), recorded on the tape.</summary>
    public static Tensor ToFirst(Tensor x) => x.Rank == 3 ? x.Transpose(0, 2, 1) : x.Transpose(0, 3, 1, 2);

    /// <summary>
    /// The stage of a channels-first layer: <paramref name="make"/> gets a context whose samples are channels last and
    /// returns the layer's channels-last stage, which this one runs between the permutations. Output samples of rank 3
    /// are permuted back to channels first; others (a global pool's vector) pass as they are.
    /// </summary>
    public static bool TryCreateStage(Layer layer, StageContext context, Func<StageContext, (Stage? Stage, string Reason)> make, out Stage? stage, out string reason)
    {
        stage = null;
        if (context.Sample.Length is not (2 or 3))
        {
            reason = $"gets samples of shape {ShapeUtil.Format(context.Sample)}, not channels-first images or sequences";
            return false;
        }
        int[] sample = context.Sample, last = Last([-1, .. sample])[1..];
        var inner = context.Nested(context.Batch, last);
        inner.ChannelsLastView = true;
        (var innerStage, reason) = make(inner);
        if (innerStage == null) return false;
        int[] outSample = context.OutputSample(layer);
        int[] innerOut = outSample.Length == sample.Length ? Last([-1, .. outSample])[1..] : outSample;
        stage = new ChannelsFirstStage(innerStage, sample, innerOut, context.Batch) { Width = outSample.Aggregate(1, (a, b) => a * b) };
        return true;
    }
}

/// <summary>A channels-last stage run on channels-first rows: each row permuted (C, H, W) → (H, W, C) into a buffer,
/// the inner stage, its output permuted back; backward the reverse, with the inner stage's own backward between.</summary>
internal sealed class ChannelsFirstStage : Stage
{
    private readonly int[] toLastPerm, toFirstPerm;   // per sample: (C, H, W) ↔ (H, W, C), or (C, L) ↔ (L, C)
    private readonly Stage inner;
    private readonly int[] sample, innerOut;
    private readonly bool permuteOutput;
    private readonly int inWidth;
    private readonly float[] input, inputGrad;

    public ChannelsFirstStage(Stage inner, int[] sample, int[] innerOut, int batch)
    {
        this.inner = inner;
        this.sample = sample;
        this.innerOut = innerOut;
        (toLastPerm, toFirstPerm) = sample.Length == 3 ? (new[] { 1, 2, 0 }, new[] { 2, 0, 1 }) : (new[] { 1, 0 }, new[] { 1, 0 });
        permuteOutput = innerOut.Length == sample.Length;
        inWidth = sample.Aggregate(1, (a, b) => a * b);
        input = new float[batch * inWidth];
        inputGrad = new float[batch * inWidth];
        inner.Output = new float[batch * inner.Width];
        inner.OutputGrad = new float[batch * inner.Width];
    }

    public override void Forward(float[] x, int rows)
    {
        for (int r = 0; r < rows; r++) Kernels.Permute.Run(x.AsSpan(r * inWidth, inWidth), sample, toLastPerm, input.AsSpan(r * inWidth, inWidth));
        inner.Forward(input, rows);
        for (int r = 0; r < rows; r++)
        {
            var from = inner.Output.AsSpan(r * Width, Width);
            if (permuteOutput) Kernels.Permute.Run(from, innerOut, toFirstPerm, Output.AsSpan(r * Width, Width));
            else from.CopyTo(Output.AsSpan(r * Width, Width));
        }
    }

    public override void Backward(float[] x, float[]? xGrad, int rows)
    {
        int[] outFirst = permuteOutput ? [.. toFirstPerm.Select(p => innerOut[p])] : innerOut;
        for (int r = 0; r < rows; r++)
        {
            var from = OutputGrad.AsSpan(r * Width, Width);
            if (permuteOutput) Kernels.Permute.Run(from, outFirst, toLastPerm, inner.OutputGrad.AsSpan(r * Width, Width));
            else from.CopyTo(inner.OutputGrad.AsSpan(r * Width, Width));
        }
        inner.Backward(input, xGrad == null ? null : inputGrad, rows);
        if (xGrad == null) return;
        int[] last = [.. toLastPerm.Select(p => sample[p])];
        for (int r = 0; r < rows; r++) Kernels.Permute.Run(inputGrad.AsSpan(r * inWidth, inWidth), last, toFirstPerm, xGrad.AsSpan(r * inWidth, inWidth));
    }
}
