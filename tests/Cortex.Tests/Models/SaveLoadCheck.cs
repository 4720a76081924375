using Cortex.Models;

namespace Cortex.Tests.Models;

/// <summary>
/// The save → load contract: the loaded model predicts the same bits as the original, and one more training step on
/// each leaves the same weights, bit for bit.
/// </summary>
internal static class SaveLoadCheck
{
    /// <summary>Saves <paramref name="original"/> to a temporary file and loads it back.</summary>
    public static Model RoundTrip(Model original)
    {
        string dir = Directory.CreateTempSubdirectory("cortex-saveload-").FullName;
        try
        {
            string path = Path.Combine(dir, "model.cortex");
            original.Save(path);
            return Model.Load(path);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Round-trips through a file, then checks predictions and the next training step on both.</summary>
    public static Model AssertRoundTripContinues(Model original, Tensor x, Tensor y)
    {
        var loaded = RoundTrip(original);
        AssertSamePredictions(original, loaded, x);
        AssertSameNextStep([original, loaded], x, y);
        return loaded;
    }

    public static void AssertSamePredictions(Model expected, Model actual, Tensor x) =>
        Assert.Equal(Bits(expected.Predict(x)), Bits(actual.Predict(x)));

    /// <summary>One Fit step on each model, from the same global seed (shuffling, unseeded dropout), then the
    /// weights, the optimizer's state and the predictions must agree bit for bit.</summary>
    public static void AssertSameNextStep(IReadOnlyList<Model> models, Tensor x, Tensor y, int seed = 7)
    {
        foreach (var m in models)
        {
            CortexRandom.SetGlobalSeed(seed);
            m.Fit(x, y, epochs: 1, batchSize: x.Shape[0], verbose: 0);
        }
        AssertSameState(models, x);
    }

    /// <summary>Weights, optimizer iterations and slots, and predictions, bit for bit.</summary>
    public static void AssertSameState(IReadOnlyList<Model> models, Tensor x)
    {
        var first = models[0];
        for (int i = 1; i < models.Count; i++)
        {
            var m = models[i];
            Assert.Equal(Bits(first.GetWeights()), Bits(m.GetWeights()));
            Assert.Equal(first.Optimizer?.Iterations, m.Optimizer?.Iterations);
            Assert.Equal(Bits(first.Optimizer?.Variables ?? []), Bits(m.Optimizer?.Variables ?? []));
            AssertSamePredictions(first, m, x);
        }
    }

    public static int[] Bits(Tensor t) => [.. t.ToArray().Select(BitConverter.SingleToInt32Bits)];

    public static int[] Bits(IEnumerable<Tensor> ts) => [.. ts.SelectMany(Bits)];
}
