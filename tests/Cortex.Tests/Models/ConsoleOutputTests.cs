using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>
/// What Fit and its callbacks print to Console.Out. These tests point Console.Out at a writer of their own, so they run
/// alone: a test running beside them would print into it (TerminateOnNaN's line, a progress bar).
/// </summary>
[Collection(RunsAlone.Name)]
public class ConsoleOutputTests
{
    private static string[] ConsoleLines(Action run)
    {
        var old = Console.Out;
        var sw = new StringWriter();
        Console.SetOut(sw);
        try { run(); }
        finally { Console.SetOut(old); }
        return sw.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public void VerboseTwoPrintsOneKerasLinePerEpoch()
    {
        var (x, y) = TrainingLoopTests.Data();
        var model = new Sequential(new Dense(1, "sigmoid"));
        model.Compile(new Adam(), new BinaryCrossentropy(), ["accuracy"]);
        var lines = ConsoleLines(() => model.Fit(x, y, epochs: 2, verbose: 2));
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^4/4 - \d+s - \d+(ms|us)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$", lines[0]);
    }

    /// <summary>Each batch's running loss, as OnTrainBatchEnd's logs give it.</summary>
    private sealed class BatchLosses : Callback
    {
        public List<float> Losses { get; } = [];

        public override void OnTrainBatchEnd(int batch, IReadOnlyDictionary<string, float> logs)
        {
            Assert.Equal(Losses.Count, batch); // the run never leaves its first epoch
            Losses.Add(logs["loss"]);
        }
    }

    /// <summary>A callback written before batch logs existed: it overrides the overload without them.</summary>
    private sealed class BatchCount : Callback
    {
        public int Count { get; private set; }

        public override void OnTrainBatchEnd(int batch) => Count++;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TerminateOnNaNStopsAtTheFirstBatchWhoseLossIsNotFinite(bool tapePath)
    {
        // Labels that do not depend on x keep the gradient from vanishing; at a rate of 3e36 (accepted, as in Keras)
        // the weights grow until the logits overflow, in the second or third of 16 batches. Seeded, as the other
        // tests here are: the first batch's weights came from whatever state the global generator was left in (one
        // 128-bit run of the suite overflowed outside the expected batches).
        CortexRandom.SetGlobalSeed(3);
        var model = new Sequential(new Input([2]), new Dense(2));
        model.Compile(new SGD(3e36f), new SparseCategoricalCrossentropy(fromLogits: true));
        var x = Tensor.RandomNormal([128, 2], seed: 3) * 10f;
        var (losses, count) = (new BatchLosses(), new BatchCount());
        History history = null!;
        Trainer.ForceTapePath = tapePath;
        string[] printed;
        try { printed = ConsoleLines(() => history = model.Fit(x, Tensor.RandomUniform([128], seed: 4) > 0.5f, epochs: 5, batchSize: 8, verbose: 0, callbacks: [new TerminateOnNaN(), losses, count])); }
        finally { Trainer.ForceTapePath = false; }

        Assert.Equal(!tapePath, Trainer.LastFitFused);
        int bad = losses.Losses.FindIndex(l => !float.IsFinite(l));
        Assert.InRange(bad, 1, 14);
        Assert.Equal(bad + 1, losses.Losses.Count); // no batch ran after it
        Assert.Equal(bad + 1, count.Count);
        Assert.Equal([$"Batch {bad}: Invalid loss, terminating training"], printed);
        // The stopped epoch is still recorded, with the loss that stopped it, as Keras records it.
        Assert.Single(history["loss"]);
        Assert.Equal(losses.Losses[bad], history["loss"][0]);
    }
}
