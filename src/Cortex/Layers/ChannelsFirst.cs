namespace Cortex.Layers;

/// <summary>
/// Keras's <c>data_format</c> for the image layers: <c>"channels_last"</c> (N, H, W, C), Cortex's and Keras's default,
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

    /// <summary>An (N, C, H, W) shape as (N, H, W, C); other ranks as they are (the rank check names them).</summary>
    public static int[] Last(int[] shape) => shape.Length == 4 ? [shape[0], shape[2], shape[3], shape[1]] : shape;

    /// <summary>An (N, H, W, C) shape as (N, C, H, W).</summary>
    public static int[] First(int[] shape) => shape.Length == 4 ? [shape[0], shape[3], shape[1], shape[2]] : shape;

    /// <summary>(N, C, H, W) → (N, H, W, C), recorded on the tape.</summary>
    public static Tensor ToLast(Tensor x) => x.Transpose(0, 2, 3, 1);

    /// <summary>(N, H, W, C) → (N, C, H, W), recorded on the tape.</summary>
    public static Tensor ToFirst(Tensor x) => x.Transpose(0, 3, 1, 2);

    /// <summary>
    /// The stage of a channels-first layer: <paramref name="make"/> gets a context whose samples are channels last and
    /// returns the layer's channels-last stage, which this one runs between the permutations. Output samples of rank 3
    /// are permuted back to channels first; others (a global pool's vector) pass as they are.
    /// </summary>
    public static bool TryCreateStage(Layer layer, StageContext context, Func<StageContext, (Stage? Stage, string Reason)> make, out Stage? stage, out string reason)
    {
        stage = null;
        if (context.Sample.Length != 3)
        {
            reason = $"gets samples of shape {ShapeUtil.Format(context.Sample)}, not channels-first images";
            return false;
        }
        int[] sample = context.Sample, last = [sample[1], sample[2], sample[0]];
        var inner = context.Nested(context.Batch, last);
        inner.ChannelsLastView = true;
        (var innerStage, reason) = make(inner);
        if (innerStage == null) return false;
        int[] outSample = context.OutputSample(layer);
        int[] innerOut = outSample.Length == 3 ? [outSample[1], outSample[2], outSample[0]] : outSample;
        stage = new ChannelsFirstStage(innerStage, sample, innerOut, context.Batch) { Width = outSample.Aggregate(1, (a, b) => a * b) };
        return true;
    }
}

/// <summary>A channels-last stage run on channels-first rows: each row permuted (C, H, W) → (H, W, C) into a buffer,
/// the inner stage, its output permuted back; backward the reverse, with the inner stage's own backward between.</summary>
internal sealed class ChannelsFirstStage : Stage
{
    private static readonly int[] ToLastPerm = [1, 2, 0], ToFirstPerm = [2, 0, 1];
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
        permuteOutput = innerOut.Length == 3;
        inWidth = sample.Aggregate(1, (a, b) => a * b);
        input = new float[batch * inWidth];
        inputGrad = new float[batch * inWidth];
        inner.Output = new float[batch * inner.Width];
        inner.OutputGrad = new float[batch * inner.Width];
    }

    public override void Forward(float[] x, int rows)
    {
        int[] last = [sample[1], sample[2], sample[0]];
        for (int r = 0; r < rows; r++) Kernels.Permute.Run(x.AsSpan(r * inWidth, inWidth), sample, ToLastPerm, input.AsSpan(r * inWidth, inWidth));
        inner.Forward(input, rows);
        for (int r = 0; r < rows; r++)
        {
            var from = inner.Output.AsSpan(r * Width, Width);
            if (permuteOutput) Kernels.Permute.Run(from, innerOut, ToFirstPerm, Output.AsSpan(r * Width, Width));
            else from.CopyTo(Output.AsSpan(r * Width, Width));
        }
    }

    public override void Backward(float[] x, float[]? xGrad, int rows)
    {
        int[] outFirst = permuteOutput ? [innerOut[2], innerOut[0], innerOut[1]] : innerOut;
        for (int r = 0; r < rows; r++)
        {
            var from = OutputGrad.AsSpan(r * Width, Width);
            if (permuteOutput) Kernels.Permute.Run(from, outFirst, ToLastPerm, inner.OutputGrad.AsSpan(r * Width, Width));
            else from.CopyTo(inner.OutputGrad.AsSpan(r * Width, Width));
        }
        inner.Backward(input, xGrad == null ? null : inputGrad, rows);
        if (xGrad == null) return;
        int[] last = [sample[1], sample[2], sample[0]];
        for (int r = 0; r < rows; r++) Kernels.Permute.Run(inputGrad.AsSpan(r * inWidth, inWidth), last, ToFirstPerm, xGrad.AsSpan(r * inWidth, inWidth));
    }
}
