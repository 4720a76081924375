using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

public class TrainingLoopTests
{
    internal static (Tensor X, Tensor Y) Data()
    {
        var x = Tensor.RandomNormal([100, 4], seed: 9);
        return (x, x.Sum(1) > 0f);
    }

    [Fact]
    public void CustomTrainingLoopWithGradientTape()
    {
        CortexRandom.SetGlobalSeed(7);
        var (x, y) = Data();
        var model = new Sequential(new Dense(8, "relu"), new Dense(1, "sigmoid"));
        var loss = new BinaryCrossentropy();
        var optimizer = new Adam(0.01f);
        float first = 0, last = 0;
        for (int step = 0; step < 100; step++)
        {
            using var tape = new GradientTape();
            var l = loss.Call(y, model.Call(x, training: true));
            var grads = tape.Gradient(l, [.. model.TrainableVariables]);
            optimizer.ApplyGradients(grads, model.TrainableVariables);
            if (step == 0) first = l.Item();
            last = l.Item();
        }
        Assert.True(last < first * 0.5f, $"{first} -> {last}");
    }

    [Fact]
    public void ValidationSplitTakesTheLastRowsAndReportsValMetrics()
    {
        CortexRandom.SetGlobalSeed(7);
        var (x, y) = Data();
        var model = new Sequential(new Dense(1, "sigmoid"));
        model.Compile(new Adam(0.01f), new BinaryCrossentropy(), ["accuracy"]);
        var h = model.Fit(x, y, epochs: 2, validationSplit: 0.25f, verbose: 0);
        Assert.Equal(2, h["val_loss"].Count);
        Assert.Equal(2, h["val_accuracy"].Count);
        var eval = model.Evaluate(x.Slice(75, 25), y.Slice(75, 25));
        Assert.Equal(h["val_loss"][^1], eval["loss"], 5);
    }

    [Fact]
    public void EarlyStoppingStopsAndRestoresBestWeights()
    {
        CortexRandom.SetGlobalSeed(7);
        var (x, y) = Data();
        var model = new Sequential(new Dense(1, "sigmoid"));
        model.Compile(new SGD(0f), new BinaryCrossentropy()); // lr 0: the loss never improves
        var stop = new EarlyStopping(monitor: "loss", patience: 2);
        var h = model.Fit(x, y, epochs: 50, callbacks: [stop], verbose: 0);
        Assert.Equal(4, h["loss"].Count);
    }

    [Fact]
    public void CheckpointCsvLoggerAndCancellation()
    {
        CortexRandom.SetGlobalSeed(7);
        var (x, y) = Data();
        string dir = Directory.CreateTempSubdirectory("cortex-cb").FullName;
        var model = new Sequential(new Dense(1, "sigmoid"));
        model.Compile(new Adam(0.01f), new BinaryCrossentropy(), ["accuracy"]);
        model.Fit(x, y, epochs: 3, verbose: 0, callbacks: [new ModelCheckpoint(Path.Combine(dir, "m.cortex"), monitor: "loss", saveBestOnly: true), new CsvLogger(Path.Combine(dir, "log.csv"))]);
        Assert.True(File.Exists(Path.Combine(dir, "m.cortex")));
        var lines = File.ReadAllLines(Path.Combine(dir, "log.csv"));
        Assert.Equal("epoch,accuracy,loss", lines[0]);
        Assert.Equal(4, lines.Length);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var h = model.Fit(x, y, epochs: 3, verbose: 0, cancellationToken: cts.Token);
        Assert.False(h.Values.ContainsKey("loss"));
    }

    [Fact]
    public void ReduceLROnPlateauLowersTheRate()
    {
        var (x, y) = Data();
        var model = new Sequential(new Dense(1, "sigmoid"));
        var opt = new SGD(0f);
        model.Compile(opt, new BinaryCrossentropy());
        model.Fit(x, y, epochs: 3, verbose: 0, callbacks: [new ReduceLROnPlateau(monitor: "loss", factor: 0.5f, patience: 1)]);
        Assert.Equal(0f, opt.LearningRate);
        var opt2 = new SGD(1e-9f);
        model.Compile(opt2, new BinaryCrossentropy());
        model.Fit(x, y, epochs: 4, verbose: 0, callbacks: [new ReduceLROnPlateau(monitor: "loss", factor: 0.5f, patience: 1, minDelta: 1f)]);
        Assert.True(opt2.LearningRate < 1e-9f);
    }
}
