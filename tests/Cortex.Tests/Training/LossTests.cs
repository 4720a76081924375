using System.Text.Json;
using Cortex.Losses;
using Cortex.Tests.Reference;
using static Cortex.Tests.Training.TrainingReference;

namespace Cortex.Tests.Training;

/// <summary>Loss values and gradients against PyTorch (Keras semantics), finite differences, stability and errors.</summary>
public class LossTests
{
    // The cases of training.json (the original losses) and losses.json (every Keras 3 loss, its arguments,
    // reductions and sample weights; make_loss_metric_reference.py), named "file:case".
    private static readonly string[] Files = [TrainingReference.File, "losses.json"];

    public static TheoryData<string> Cases => LossCases(_ => true);
    public static TheoryData<string> SmoothCases => LossCases(c => c.GetProperty("fd").GetBoolean());

    private static TheoryData<string> LossCases(Func<JsonElement, bool> filter)
    {
        var data = new TheoryData<string>();
        foreach (string file in Files)
            foreach (var (name, c) in ReferenceData.Cases(file))
                if (c.GetProperty("kind").GetString() == "loss" && filter(c)) data.Add($"{file}:{name}");
        return data;
    }

    private static JsonElement Lookup(string id) => ReferenceData.Cases(id[..id.IndexOf(':')])[id[(id.IndexOf(':') + 1)..]];

    private static Loss Make(JsonElement c) => Loss.FromConfig(c.GetProperty("loss").GetString()!, c.GetProperty("config"));

    private static Tensor? Weight(JsonElement c) => c.TryGetProperty("sample_weight", out var w) ? ReferenceData.ToTensor(w) : null;

    // training.json holds scalar values as numbers; losses.json as tensors (the per-sample losses for reduction "none").
    private static Tensor Value(JsonElement c) =>
        c.GetProperty("value") is { ValueKind: JsonValueKind.Number } v ? Tensor.Scalar(v.GetSingle()) : T(c, "value");

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValueAndGradientMatchPyTorch(string name)
    {
        var c = Lookup(name);
        Tensor yTrue = T(c, "y_true"), yPred = T(c, "y_pred");
        Tensor value, grad;
        using (var tape = new GradientTape())
        {
            tape.Watch(yPred);
            value = Make(c).Call(yTrue, yPred, Weight(c));
            grad = tape.Gradient(value, yPred)[0];
        }
        ReferenceData.AssertClose(Value(c), value, $"{name} value");
        ReferenceData.AssertClose(T(c, "grad"), grad, $"{name} gradient");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValueWithoutTapeIsTheSame(string name)
    {
        var c = Lookup(name);
        ReferenceData.AssertClose(Value(c), Make(c).Call(T(c, "y_true"), T(c, "y_pred"), Weight(c)), $"{name} value");
    }

    [Theory]
    [MemberData(nameof(SmoothCases))]
    public void GradientMatchesFiniteDifferences(string name)
    {
        var c = Lookup(name);
        var loss = Make(c);
        Tensor yTrue = T(c, "y_true"), yPred = T(c, "y_pred");
        Tensor? w = Weight(c);
        Tensor grad;
        using (var tape = new GradientTape())
        {
            tape.Watch(yPred);
            grad = tape.Gradient(loss.Call(yTrue, yPred, w).Sum(), yPred)[0];
        }
        float[] numeric = NumericGradient(p => loss.Call(yTrue, p, w).Sum(), yPred, h: 1e-2f);
        var analytic = grad.AsSpan();
        for (int i = 0; i < numeric.Length; i++)
            Assert.True(MathF.Abs(numeric[i] - analytic[i]) <= 2e-3f + 2e-2f * MathF.Abs(analytic[i]),
                $"{name}[{i}]: analytic {analytic[i]} vs numeric {numeric[i]}");
    }

    [Theory]
    [InlineData("binary_crossentropy")]
    [InlineData("categorical_crossentropy")]
    [InlineData("sparse_categorical_crossentropy")]
    public void FromLogitsIsFiniteAtPlusMinus1000(string lossName)
    {
        var logits = Tensor.FromArray(new float[,] { { 1000, -1000 }, { -1000, 1000 }, { 1000, 1000 }, { -1000, -1000 } });
        Tensor labels = lossName switch
        {
            "sparse_categorical_crossentropy" => Tensor.FromArray(new float[] { 1, 1, 0, 0 }),
            _ => Tensor.FromArray(new float[,] { { 0, 1 }, { 0, 1 }, { 1, 0 }, { 1, 0 } }),
        };
        var loss = Loss.FromConfig(Loss.Get(lossName).GetType().Name, Json(new() { ["from_logits"] = true }));
        Tensor value, grad;
        using (var tape = new GradientTape())
        {
            tape.Watch(logits);
            value = loss.Call(labels, logits);
            grad = tape.Gradient(value, logits)[0];
        }
        Assert.True(float.IsFinite(value.Item()), $"{lossName}: loss {value.Item()}");
        Assert.True(value.Item() > 100, $"{lossName}: confident wrong answers must cost a lot. Loss {value.Item()}");
        foreach (float g in grad.AsSpan()) Assert.True(float.IsFinite(g), $"{lossName}: gradient {g}");
    }

    [Fact]
    public void ProbabilityLossesClipLikeKeras()
    {
        // p = 0 for a positive label costs −log(1e-7) ≈ 16.118, not infinity.
        float v = new BinaryCrossentropy().Call(Tensor.FromArray(new float[] { 1 }), Tensor.FromArray(new float[,] { { 0 } })).Item();
        Assert.Equal(16.118095f, v, 1e-4f);
    }

    [Fact]
    public void SparseLabelOutOfRangeNamesLabelRowAndClasses()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SparseCategoricalCrossentropy(fromLogits: true)
            .Call(Tensor.FromArray(new float[] { 0, 3 }), Tensor.Zeros(2, 3)));
        Assert.Contains("label 3", ex.Message);
        Assert.Contains("row 1", ex.Message);
        Assert.Contains("3 classes", ex.Message);
    }

    [Fact]
    public void SparseLabelThatIsNotAnIntegerIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SparseCategoricalCrossentropy()
            .Call(Tensor.FromArray(new float[] { 0.5f, 1 }), Tensor.Ones(2, 3)));
        Assert.Contains("label 0.5", ex.Message);
        Assert.Contains("row 0", ex.Message);
    }

    [Fact]
    public void SparseLabelsOfWrongShapeNameBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SparseCategoricalCrossentropy()
            .Call(Tensor.Zeros(2, 3), Tensor.Ones(2, 3)));
        Assert.Contains("(2, 3)", ex.Message);
        Assert.Contains("(2,)", ex.Message);
    }

    [Theory]
    [InlineData("mse")]
    [InlineData("mae")]
    [InlineData("binary_crossentropy")]
    [InlineData("categorical_crossentropy")]
    public void ShapeMismatchNamesBothShapes(string lossName)
    {
        var ex = Assert.Throws<ArgumentException>(() => Loss.Get(lossName).Call(Tensor.Zeros(4), Tensor.Zeros(4, 3)));
        Assert.Contains("(4,)", ex.Message);
        Assert.Contains("(4, 3)", ex.Message);
    }

    [Fact]
    public void UnknownNameListsValidNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => Loss.Get("foo"));
        Assert.Contains("Unknown loss 'foo'", ex.Message);
        Assert.Contains("binary_crossentropy", ex.Message);
        Assert.Contains("sparse_categorical_crossentropy", ex.Message);
        Assert.Contains("mae", ex.Message);
    }

    [Theory]
    [InlineData("binary_crossentropy", typeof(BinaryCrossentropy), "binary_crossentropy")]
    [InlineData("categorical_crossentropy", typeof(CategoricalCrossentropy), "categorical_crossentropy")]
    [InlineData("sparse_categorical_crossentropy", typeof(SparseCategoricalCrossentropy), "sparse_categorical_crossentropy")]
    [InlineData("mse", typeof(MeanSquaredError), "mean_squared_error")]
    [InlineData("mean_squared_error", typeof(MeanSquaredError), "mean_squared_error")]
    [InlineData("mae", typeof(MeanAbsoluteError), "mean_absolute_error")]
    [InlineData("MeanAbsoluteError", typeof(MeanAbsoluteError), "mean_absolute_error")]
    [InlineData("huber", typeof(Huber), "huber_loss")]
    [InlineData("log_cosh", typeof(LogCosh), "log_cosh")]
    [InlineData("logcosh", typeof(LogCosh), "log_cosh")]
    [InlineData("hinge", typeof(Hinge), "hinge")]
    [InlineData("squared_hinge", typeof(SquaredHinge), "squared_hinge")]
    [InlineData("categorical_hinge", typeof(CategoricalHinge), "categorical_hinge")]
    [InlineData("kld", typeof(KLDivergence), "kl_divergence")]
    [InlineData("KLD", typeof(KLDivergence), "kl_divergence")]
    [InlineData("kl_divergence", typeof(KLDivergence), "kl_divergence")]
    [InlineData("kullback_leibler_divergence", typeof(KLDivergence), "kl_divergence")]
    [InlineData("poisson", typeof(Poisson), "poisson")]
    [InlineData("cosine_similarity", typeof(CosineSimilarity), "cosine_similarity")]
    [InlineData("mape", typeof(MeanAbsolutePercentageError), "mean_absolute_percentage_error")]
    [InlineData("msle", typeof(MeanSquaredLogarithmicError), "mean_squared_logarithmic_error")]
    [InlineData("bce", typeof(BinaryCrossentropy), "binary_crossentropy")]
    public void GetResolvesKerasNames(string identifier, Type type, string name)
    {
        var loss = Loss.Get(identifier);
        Assert.IsType(type, loss);
        Assert.Equal(name, loss.Name);
        Assert.Equal("sum_over_batch_size", loss.Reduction);
    }

    [Theory]
    [MemberData(nameof(ConfigCases))]
    public void ConfigRoundTrips(Loss loss)
    {
        var config = Json(loss.GetConfig());
        var back = Loss.FromConfig(loss.GetType().Name, config);
        Assert.IsType(loss.GetType(), back);
        Assert.Equal(config.GetRawText(), Json(back.GetConfig()).GetRawText());
    }

    public static TheoryData<Loss> ConfigCases => new()
    {
        new BinaryCrossentropy(fromLogits: true), new BinaryCrossentropy(), new CategoricalCrossentropy(fromLogits: true),
        new SparseCategoricalCrossentropy(fromLogits: true), new MeanSquaredError(), new MeanAbsoluteError(),
    };

    [Fact]
    public void UnknownClassNameIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Loss.FromConfig("Tversky", Json([])));
        Assert.Contains("Tversky", ex.Message);
        Assert.Contains("BinaryCrossentropy", ex.Message);
    }

    [Fact]
    public void LabelsTakeNoGradientAndUpstreamGradientScales()
    {
        var logits = Tensor.FromArray(new float[,] { { 1, 2, 0 }, { 0, 0, 3 } });
        var labels = Tensor.FromArray(new float[] { 1, 2 });
        Tensor g1, g3;
        using (var tape = new GradientTape())
        {
            tape.Watch(logits);
            g1 = tape.Gradient(new SparseCategoricalCrossentropy(fromLogits: true).Call(labels, logits), logits)[0];
        }
        using (var tape = new GradientTape())
        {
            tape.Watch(logits);
            g3 = tape.Gradient(new SparseCategoricalCrossentropy(fromLogits: true).Call(labels, logits) * 3f, logits)[0];
        }
        ReferenceData.AssertClose(g1 * 3f, g3, "3·loss gradient");
    }
}
