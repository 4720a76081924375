using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Sequence;

/// <summary>Trains a classifier (logits, sparse labels, Adam) on the fused step and on the tape from the same seed.</summary>
internal static class BothPaths
{
    /// <summary>One Fit: the weights followed by the loss history, the training path, the last epoch's accuracy.</summary>
    public static (float[] Weights, string Path, float Accuracy) Train(Func<Cortex.Models.Model> make, bool tape, Tensor x, Tensor y,
        int epochs, float rate, int seed)
    {
        CortexRandom.SetGlobalSeed(seed);
        var model = make();
        model.Compile(new Adam(rate), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        Trainer.ForceTapePath = tape;
        try
        {
            var h = model.Fit(x, y, epochs: epochs, batchSize: 32, verbose: 0);
            return ([.. model.GetWeights().SelectMany(w => w.ToArray()), .. h["loss"]], model.TrainingPath!, h["accuracy"][^1]);
        }
        finally { Trainer.ForceTapePath = false; }
    }

    /// <summary>Asserts that the model trains fused and that the tape gives the same bits; returns the fused accuracy.</summary>
    public static float AssertFusedEqualsTape(Func<Sequential> make, Tensor x, Tensor y, int epochs, float rate, int seed) =>
        AssertModelFusedEqualsTape(make, x, y, epochs, rate, seed);

    /// <summary>As <see cref="AssertFusedEqualsTape"/> for any model (a Functional graph).</summary>
    public static float AssertModelFusedEqualsTape(Func<Cortex.Models.Model> make, Tensor x, Tensor y, int epochs, float rate, int seed)
    {
        var fused = Train(make, tape: false, x, y, epochs, rate, seed);
        var tape = Train(make, tape: true, x, y, epochs, rate, seed);
        Assert.Equal("fused", fused.Path);
        Assert.Equal("tape: ForceTapePath is set", tape.Path);
        Assert.Equal(tape.Weights, fused.Weights);
        return fused.Accuracy;
    }

    /// <summary>Fits the model one epoch, saves it, loads it back and asserts the same predictions; returns the copy.</summary>
    public static Cortex.Models.Model FitSaveLoad(Sequential model, Tensor x, Tensor y)
    {
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, verbose: 0);
        using var dir = new TempDir();
        string path = dir.File("model.cortex");
        model.Save(path);
        var loaded = Cortex.Models.Model.Load(path);
        Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
        return loaded;
    }

    /// <summary>Fits the model one epoch and returns the path it took (a model expected on the tape says why).</summary>
    public static string PathOf(Sequential model, Tensor x, Tensor y)
    {
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 1, verbose: 0);
        return model.TrainingPath!;
    }
}
