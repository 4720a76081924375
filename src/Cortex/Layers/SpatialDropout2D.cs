[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.SpatialDropout2D))]

namespace Cortex.Layers;

/// <summary>
/// Drops whole channels of each image during training, as <c>keras.layers.SpatialDropout2D</c>: each (sample, channel)
/// is kept, scaled by 1/(1 − rate), or set to 0 at every pixel, with probability <c>rate</c> of dropping. Neighbouring
/// pixels of a feature map are strongly correlated, so per-pixel Dropout barely regularises a convolution; dropping
/// the map does. Images are channels last; in inference the layer does nothing.
/// </summary>
/// <example><code>var model = new Sequential(new Input([28, 28, 1]), new Conv2D(16, 3, activation: "relu"), new SpatialDropout2D(0.2f), new Flatten(), new Dense(10));</code></example>
public sealed class SpatialDropout2D : Layer
{
    private readonly CortexRandom rng;

    /// <summary>Creates the layer.</summary>
    /// <param name="rate">The fraction of channels dropped, in [0, 1).</param>
    /// <param name="seed">Seed of the masks; the global seed's next when null.</param>
    /// <param name="name">Layer name; <c>spatial_dropout2d</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is outside [0, 1).</exception>
    public SpatialDropout2D(float rate, int? seed = null, string? name = null) : base(name)
    {
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentOutOfRangeException(nameof(rate), $"SpatialDropout2D: rate must be in [0, 1). Received: rate={rate}");
        Rate = rate;
        Seed = seed;
        rng = CortexRandom.FromSeedOrGlobal(seed);
    }

    /// <summary>The fraction of channels dropped.</summary>
    public float Rate { get; }

    /// <summary>The seed, if one was given.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) => ImageLayers.RequireRank4($"SpatialDropout2D '{Name}'", inputShape);

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => ImageLayers.RequireRank4($"SpatialDropout2D '{Name}'", inputs.ShapeRef);

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        training && Rate > 0f ? StageOp.Run(this, inputs, training) : inputs;

    /// <inheritdoc/>
    internal override CortexRandom? Generator => rng;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int[] s = context.Sample;
        ImageLayers.RequireRank4($"SpatialDropout2D '{Name}'", [-1, .. s]);
        // Keras's noise shape (N, 1, 1, C): one draw per sample and channel.
        stage = new KeepMaskStage(rng, Rate, KeepMask.DrawIndex(s, [1, 1, s[2]]), s[2], sharedAcrossBatch: false, context.Training, context.Batch)
            { Width = context.InputWidth };
        return true;
    }
}
