using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

public class SavingTests
{
    private static (Sequential Model, Tensor X, Tensor Y) Trained()
    {
        CortexRandom.SetGlobalSeed(11);
        var x = Tensor.RandomNormal([64, 3], seed: 2);
        var y = (x.Sum(1) > 0f);
        var norm = new Normalization();
        norm.Adapt(x);
        var m = new Sequential(norm, new Dense(5, "leaky_relu"), new Dropout(0.1f, seed: 3), new Dense(1, "sigmoid"));
        m.Compile(new Adam(0.01f), new BinaryCrossentropy(), ["accuracy"]);
        m.Fit(x, y, epochs: 2, verbose: 0);
        return (m, x, y);
    }

    private static string TempFile() => Path.Combine(Directory.CreateTempSubdirectory("cortex-save").FullName, "model.cortex");

    [Fact]
    public void RoundTripKeepsPredictionsBitForBitAndTrainingState()
    {
        // With dropout: a reloaded Dropout continues its random stream where the saved one was.
        var (m, x, y) = Trained();
        string path = TempFile();
        m.Save(path);
        var loaded = Model.Load(path);
        Assert.Equal(m.Predict(x).ToArray(), loaded.Predict(x).ToArray());
        Assert.Equal(m.SummaryString(), loaded.SummaryString());
        Assert.Equal(m.Optimizer!.Iterations, loaded.Optimizer!.Iterations);
        // Continuing training from the file matches continuing in memory.
        CortexRandom.SetGlobalSeed(5);
        m.Fit(x, y, epochs: 1, verbose: 0, shuffle: false);
        CortexRandom.SetGlobalSeed(5);
        loaded.Fit(x, y, epochs: 1, verbose: 0, shuffle: false);
        Assert.Equal(m.GetWeights().SelectMany(w => w.ToArray()), loaded.GetWeights().SelectMany(w => w.ToArray()));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void MissingTruncatedCorruptedAndFutureFilesAreRefusedWithThePath()
    {
        var (m, _, _) = Trained();
        string path = TempFile();
        m.Save(path);
        byte[] good = File.ReadAllBytes(path);

        var nf = Assert.Throws<FileNotFoundException>(() => Model.Load(path + ".missing"));
        Assert.Contains(path + ".missing", nf.Message);

        File.WriteAllBytes(path, good[..(good.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => Model.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);

        var corrupt = (byte[])good.Clone();
        corrupt[corrupt.Length - 100] ^= 0x40;
        File.WriteAllBytes(path, corrupt);
        e = Assert.Throws<InvalidDataException>(() => Model.Load(path));
        Assert.Contains("corrupted", e.Message);

        var future = (byte[])good.Clone();
        future[4] = 9;
        File.WriteAllBytes(path, future);
        e = Assert.Throws<InvalidDataException>(() => Model.Load(path));
        Assert.Contains("newer", e.Message);
        Assert.Contains("9", e.Message);

        File.WriteAllText(path, "hello, not a model");
        e = Assert.Throws<InvalidDataException>(() => Model.Load(path));
        Assert.Contains("not a Cortex model", e.Message);
    }

    [Fact]
    public void FailedSaveLeavesTheOldFile()
    {
        var (m, _, _) = Trained();
        string path = TempFile();
        m.Save(path);
        byte[] before = File.ReadAllBytes(path);
        var unbuilt = new Sequential(new Dense(2));
        Assert.Throws<InvalidOperationException>(() => unbuilt.Save(path));
        Assert.Equal(before, File.ReadAllBytes(path));
    }
}
