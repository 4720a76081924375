using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>
/// What may run while <see cref="Model.Fit"/> trains a model: the Fit thread itself (callbacks, validation) may use
/// the model; another thread gets a clear InvalidOperationException, never outputs from half-updated weights.
/// </summary>
public class ConcurrencyTests
{
    private static readonly Tensor X = Tensor.RandomNormal([16, 3], seed: 8);
    private static readonly Tensor Y = X.Sum(1) > 0f;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // The same rules hold for a chain and for a graph (Functional) of the same layers.
    private static Model Compiled(string? name = null, bool graph = false)
    {
        CortexRandom.SetGlobalSeed(1);
        Model m;
        if (graph)
        {
            var input = new Input([3]);
            var h = new Dense(4, "relu").Call(input);
            m = new Functional(input, new Dense(1, "sigmoid").Call(new Add().Call(h, h)), name);
        }
        else m = new Sequential([new Input([3]), new Dense(4, "relu"), new Dense(1, "sigmoid")], name);
        m.Compile(new Adam(0.01f), new BinaryCrossentropy(), ["accuracy"]);
        return m;
    }

    /// <summary>Holds Fit at the end of its first epoch until released.</summary>
    private sealed class Gate : Callback
    {
        public readonly ManualResetEventSlim Reached = new(), Release = new();

        public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
        {
            Reached.Set();
            Release.Wait(Patience);
        }
    }

    /// <summary>Runs <paramref name="check"/> on this thread while another thread's Fit is held mid-training.</summary>
    private static void WhileFitRunsElsewhere(Model model, Action check)
    {
        var gate = new Gate();
        var fit = Task.Factory.StartNew(() => model.Fit(X, Y, epochs: 2, batchSize: 4, callbacks: [gate], verbose: 0),
            TaskCreationOptions.LongRunning);
        try
        {
            Assert.True(gate.Reached.Wait(Patience), "Fit did not reach the end of its first epoch");
            check();
        }
        finally
        {
            gate.Release.Set();
            fit.Wait(Patience);
        }
        Assert.True(fit.IsCompletedSuccessfully, $"the held Fit failed: {fit.Exception}");
    }

    public static TheoryData<string, bool> Readers => new()
    {
        { "Predict", false }, { "Call", false }, { "Evaluate", false }, { "GetWeights", false }, { "Save", false }, { "Fit", false },
        { "SetWeights", false }, { "Compile", false },
        { "Predict", true }, { "Call", true }, { "Evaluate", true }, { "Save", true }, { "Fit", true }, { "SetWeights", true },
    };

    [Theory]
    [MemberData(nameof(Readers))]
    public void UsingAModelWhileAnotherThreadFitsIt_ThrowsNamingTheModelAndTheOperation(string operation, bool graph)
    {
        var model = Compiled("shared_model", graph);
        var weights = model.GetWeights();
        string path = Path.Combine(Path.GetTempPath(), $"cortex-concurrency-{Guid.NewGuid():N}.cortex");
        Action use = operation switch
        {
            "Predict" => () => model.Predict(X),
            "Call" => () => model.Call(X),
            "Evaluate" => () => model.Evaluate(X, Y),
            "GetWeights" => () => model.GetWeights(),
            "Save" => () => model.Save(path),
            "Fit" => () => model.Fit(X, Y, verbose: 0),
            "SetWeights" => () => model.SetWeights(weights),
            _ => () => model.Compile(new SGD(), new BinaryCrossentropy()),
        };
        WhileFitRunsElsewhere(model, () =>
        {
            var e = Assert.Throws<InvalidOperationException>(use);
            Assert.Contains("Model 'shared_model' is being trained by Fit on another thread", e.Message);
            Assert.Contains(operation, e.Message);
        });
        Assert.False(File.Exists(path));
        Assert.IsType<Adam>(model.Optimizer);
        // Once Fit returns, the model is free again.
        use();
        if (File.Exists(path)) File.Delete(path);
    }

    /// <summary>Passes its input through; once armed, its next call blocks until released.</summary>
    private sealed class Holds() : Layer(null)
    {
        public readonly ManualResetEventSlim Entered = new(), Release = new();
        private int armed;

        public void Arm() => armed = 1;

        protected override Tensor CallCore(Tensor inputs, bool training)
        {
            if (Interlocked.Exchange(ref armed, 0) == 1)
            {
                Entered.Set();
                Release.Wait(Patience);
            }
            return inputs;
        }
    }

    [Fact]
    public async Task APredictAlreadyRunning_FinishesOnTheOldWeights_AndFitWaitsForIt()
    {
        CortexRandom.SetGlobalSeed(1);
        var hold = new Holds();
        var model = new Sequential(new Input([3]), hold, new Dense(4, "relu"), new Dense(1, "sigmoid"));
        model.Compile(new Adam(0.1f), new BinaryCrossentropy());
        var before = model.Predict(X, batchSize: 4).ToArray();
        hold.Arm();

        // Four batches of 4 rows: the first blocks inside the model while Fit starts on another thread.
        var predict = Task.Factory.StartNew(() => model.Predict(X, batchSize: 4).ToArray(), TaskCreationOptions.LongRunning);
        Assert.True(hold.Entered.Wait(Patience));
        var fit = Task.Factory.StartNew(() => model.Fit(X, Y, epochs: 3, verbose: 0), TaskCreationOptions.LongRunning);
        // Fit holds the model (it is waiting for the running Predict) once this thread is refused.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!Refused(() => model.GetWeights()) && clock.Elapsed < Patience) Thread.Sleep(1);
        Assert.False(fit.IsCompleted);
        hold.Release.Set();

        Assert.Equal(before, await predict.WaitAsync(Patience)); // every batch on the weights from before Fit
        await fit.WaitAsync(Patience);
        Assert.NotEqual(before, model.Predict(X, batchSize: 4).ToArray());
    }

    private static bool Refused(Action use)
    {
        try { use(); return false; }
        catch (InvalidOperationException) { return true; }
    }

    /// <summary>Calls the model from its own Fit's callbacks.</summary>
    private sealed class UsesTheModel(Tensor x, Tensor y) : Callback
    {
        public readonly List<float> Seen = [];

        public override void OnTrainBatchEnd(int batch) => Seen.Add(Model!.Call(x).Mean().Item());

        public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs)
        {
            Seen.Add(Model!.Predict(x).Mean().Item());
            Seen.Add(Model.Evaluate(x, y)["loss"]);
            Model.SetWeights(Model.GetWeights());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheFitThreadItself_CanUseTheModel_InCallbacksAndValidation(bool graph)
    {
        var model = Compiled(graph: graph);
        var cb = new UsesTheModel(X, Y);
        var history = model.Fit(X, Y, epochs: 2, batchSize: 8, validationSplit: 0.25f, callbacks: [cb], verbose: 0);
        Assert.Equal(2, history["val_loss"].Count);
        Assert.Equal(2 * 2 + 2 * 2, cb.Seen.Count);
        Assert.All(cb.Seen, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public async Task SeparateModels_TrainConcurrently_AsTheyTrainAlone()
    {
        static float[] Train(int seed)
        {
            CortexRandom.SetGlobalSeed(seed);
            var m = new Sequential(new Input([3]), new Dense(5, "tanh"), new Dense(1, "sigmoid"));
            m.Compile(new Adam(0.01f), new BinaryCrossentropy());
            m.Fit(X, Y, epochs: 20, batchSize: 4, verbose: 0);
            return m.Predict(X).ToArray();
        }
        var alone = Enumerable.Range(0, 4).Select(Train).ToArray();
        var together = Enumerable.Range(0, 4)
            .Select(s => Task.Factory.StartNew(() => Train(s), TaskCreationOptions.LongRunning)).ToArray();
        var results = await Task.WhenAll(together).WaitAsync(Patience);
        for (int s = 0; s < 4; s++) Assert.Equal(alone[s], results[s]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PredictsOnSeveralThreads_RunTogether(bool graph)
    {
        var model = Compiled(graph: graph);
        var expected = model.Predict(X).ToArray();
        var results = await Task.WhenAll(Enumerable.Range(0, 4)
            .Select(_ => Task.Factory.StartNew(() => Enumerable.Range(0, 50).Select(_ => model.Predict(X).ToArray()).ToList(),
                TaskCreationOptions.LongRunning))).WaitAsync(Patience);
        Assert.All(results.SelectMany(r => r), p => Assert.Equal(expected, p));
    }
}
