using Cortex.Callbacks;
using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Training;

/// <summary>
/// The core's data-parallel hooks without MPI: ranks are threads of this process that sum their buffers through
/// shared memory, in rank order. The MPI transport itself is tested in tests/Cortex.Distributed.Tests.
/// </summary>
public class DistributionStrategyTests
{
    /// <summary>A rank of an in-process job: every collective meets the other threads at a barrier.</summary>
    private sealed class ThreadRank(int rank, ThreadRank.Job job) : DistributionStrategy
    {
        public sealed class Job(int size)
        {
            public readonly Barrier Barrier = new(size);
            public readonly float[][] Buffers = new float[size][];
        }

        public override int Rank => rank;
        public override int WorldSize => job.Buffers.Length;
        public override void AllReduceSum(Span<float> values) => Reduce(values, (a, b) => a + b);
        public override void AllReduceMax(Span<float> values) => Reduce(values, MathF.Max);

        public override void Broadcast(Span<float> values, int root)
        {
            job.Buffers[rank] = values.ToArray();
            job.Barrier.SignalAndWait();
            job.Buffers[root].CopyTo(values);
            job.Barrier.SignalAndWait();
        }

        private void Reduce(Span<float> values, Func<float, float, float> op)
        {
            job.Buffers[rank] = values.ToArray();
            job.Barrier.SignalAndWait();
            for (int i = 0; i < values.Length; i++)
            {
                float v = job.Buffers[0][i];
                for (int r = 1; r < job.Buffers.Length; r++) v = op(v, job.Buffers[r][i]);
                values[i] = v;
            }
            job.Barrier.SignalAndWait();
        }
    }

    private static (Tensor X, Tensor Y) Digits(int rows)
    {
        var data = Datasets.Digits.Load();
        return (data.TrainX.Slice(0, rows), data.TrainY.Slice(0, rows));
    }

    /// <summary>The digits MLP, seeded alike in every call, compiled with Adam.</summary>
    private static Model NewModel(bool dropout = false)
    {
        CortexRandom.SetGlobalSeed(1);
        var model = dropout ? new Sequential(new Input([784]), new Dense(64, "relu"), new Dropout(0.3f), new GaussianNoise(0.1f), new Dense(10)) : Zoo.DigitsMlp();
        model.Build([-1, 784]);
        model.Compile(new Adam(1e-3f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        return model;
    }

    private static double RelativeNorm(Tensor[] expected, Tensor[] actual) =>
        expected.Zip(actual).Max(p =>
        {
            double diff = 0, norm = 0;
            for (int i = 0; i < p.First.Size; i++)
            {
                double e = p.First.AsSpan()[i], d = e - p.Second.AsSpan()[i];
                diff += d * d;
                norm += e * e;
            }
            return Math.Sqrt(diff / norm);
        });

    private static (Tensor[] Weights, History History) Plain(Tensor x, Tensor y, int epochs, bool dropout = false)
    {
        var model = NewModel(dropout);
        CortexRandom.SetGlobalSeed(2);
        var history = model.Fit(x, y, epochs: epochs, batchSize: 64, verbose: 0);
        return (model.GetWeights(), history);
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="ranks"/> threads, each a rank of one job.</summary>
    private static T[] RunRanks<T>(int ranks, Func<DistributionStrategy, T> body)
    {
        var job = new ThreadRank.Job(ranks);
        var results = new T[ranks];
        var errors = new Exception?[ranks];
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            try
            {
                results[r] = body(new ThreadRank(r, job) { CheckReplicasEvery = 1 });
            }
            catch (Exception e)
            {
                errors[r] = e;
                job.Barrier.RemoveParticipant(); // let the others finish or fail
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (errors.Any(e => e != null)) throw new AggregateException(errors.Where(e => e != null)!);
        return results;
    }

    /// <summary>Each rank trains its replica with the distributed Fit.</summary>
    private static (Tensor[] Weights, History History)[] OnThreads(int ranks, Tensor x, Tensor y, int epochs,
        Func<int, Callback[]>? callbacks = null, (Tensor X, Tensor Y)? validation = null, bool dropout = false) =>
        RunRanks(ranks, dist =>
        {
            var model = NewModel(dropout);
            CortexRandom.SetGlobalSeed(2);
            var history = model.Fit(x, y, dist, epochs: epochs, batchSize: 64, validationData: validation,
                callbacks: callbacks?.Invoke(dist.Rank), verbose: 0);
            return (model.GetWeights(), history);
        });

    [Fact]
    public void OneProcessStrategyTrainsThePlainFitsBits()
    {
        var (x, y) = Digits(600);
        var (expected, _) = Plain(x, y, 2);
        var model = NewModel();
        CortexRandom.SetGlobalSeed(2);
        model.Fit(x, y, DistributionStrategy.SingleProcess, epochs: 2, batchSize: 64, verbose: 0);
        Assert.Equal(0, RelativeNorm(expected, model.GetWeights()));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)] // the last batch has 5 rows: three ranks have none and add zeros
    public void RanksTrainOneProcessesWeightsWithGlobalLossAndAccuracy(int ranks)
    {
        var (x, y) = Digits(517); // 8 batches of 64 and one of 5
        var (expected, plainHistory) = Plain(x, y, 2);
        foreach (var (weights, history) in OnThreads(ranks, x, y, 2))
        {
            Assert.True(RelativeNorm(expected, weights) < 1e-6, $"{ranks} ranks: relative difference {RelativeNorm(expected, weights):E2}");
            // Global logs: the summed totals and counts of all ranks, as the single process counts them.
            Assert.Equal(plainHistory["accuracy"][^1], history["accuracy"][^1], 6);
            Assert.Equal(plainHistory["loss"][^1], history["loss"][^1], 5);
        }
    }

    [Fact]
    public void PrecisionRecallAndAucAreTheWholeBatchsNotRankZeros()
    {
        var (x, digits) = Digits(517);
        var y = Tensor.FromArray([.. digits.ToArray().Select(d => d == 3 ? 1f : 0f)], [517, 1]);   // "is it a 3?"
        History Train(DistributionStrategy? dist)
        {
            CortexRandom.SetGlobalSeed(1);
            var model = new Sequential(new Input([784]), new Dense(16, "relu"), new Dense(1, "sigmoid"));
            model.Compile(new Adam(1e-2f), new BinaryCrossentropy(), ["precision", "recall", "auc"]);
            CortexRandom.SetGlobalSeed(2);
            return dist == null ? model.Fit(x, y, epochs: 2, batchSize: 64, verbose: 0) : model.Fit(x, y, dist, epochs: 2, batchSize: 64, verbose: 0);
        }
        var plain = Train(null);
        foreach (var history in RunRanks(3, dist => Train(dist)))
            foreach (string key in new[] { "precision", "recall", "auc" })
                Assert.Equal(plain[key][^1], history[key][^1], 5);
    }

    [Fact]
    public void ResumingAtAnEpochReachesTheUninterruptedWeights()
    {
        var (x, y) = Digits(600);
        string dir = Directory.CreateTempSubdirectory("cortex-resume-").FullName;
        try
        {
            var model = NewModel();
            CortexRandom.SetGlobalSeed(2);
            model.Fit(x, y, DistributionStrategy.SingleProcess, epochs: 3, batchSize: 64, verbose: 0,
                callbacks: [new ModelCheckpoint(Path.Combine(dir, "ckpt_{epoch}.cortex"))]);

            var resumed = Model.Load(Path.Combine(dir, "ckpt_01.cortex")); // weights and Adam's state after epoch 1
            CortexRandom.SetGlobalSeed(2);
            resumed.Fit(x, y, DistributionStrategy.SingleProcess, epochs: 3, initialEpoch: 1, batchSize: 64, verbose: 0);
            Assert.Equal(0, RelativeNorm(model.GetWeights(), resumed.GetWeights()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Changes one weight on one rank after its first step (after that step's check: the next one sees it), as a
    /// bug or a bit flip would.</summary>
    private sealed class Corrupt : Callback
    {
        public override void OnTrainBatchEnd(int batch)
        {
            if (batch == 0) Model!.TrainableVariables[0].AssignAdd(Tensor.Ones(Model.TrainableVariables[0].Shape) * 1e-3f);
        }
    }

    [Fact]
    public void ReplicasThatDivergeAreAnErrorOnEveryRank()
    {
        var (x, y) = Digits(256);
        var error = Assert.Throws<AggregateException>(() => OnThreads(2, x, y, 1, r => r == 1 ? [new Corrupt()] : []));
        Assert.Equal(2, error.InnerExceptions.Count);
        Assert.All(error.InnerExceptions, e => Assert.Contains("the replicas' weights differ at epoch 1, step 2", e.Message));
    }

    [Fact]
    public void ShardsSplitEveryBatchIntoFixedContiguousSlices()
    {
        var job = new ThreadRank.Job(3);
        Assert.Equal([(10, 21), (31, 21), (52, 22)], Enumerable.Range(0, 3).Select(r => new ThreadRank(r, job).Shard(10, 64)));
        Assert.Equal([(0, 0), (0, 1), (1, 1)], Enumerable.Range(0, 3).Select(r => new ThreadRank(r, job).Shard(0, 2)));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    public void EvaluateAndPredictShardTheRowsAndGiveEveryRankTheWholeResult(int ranks)
    {
        var data = Datasets.Digits.Load();
        Tensor x = data.TestX.Slice(0, 203), y = data.TestY.Slice(0, 203); // 203 rows: uneven slices
        var model = NewModel();
        var expected = model.Evaluate(x, y, batchSize: 64);
        var expectedPredictions = model.Predict(x, batchSize: 64);
        foreach (var (logs, predictions) in RunRanks(ranks, dist =>
        {
            var replica = NewModel();
            return (replica.Evaluate(x, y, dist, batchSize: 64), replica.Predict(x, dist, batchSize: 64));
        }))
        {
            Assert.Equal(expected["accuracy"], logs["accuracy"], 6);
            Assert.Equal(expected["loss"], logs["loss"], 5);
            Assert.Equal(expectedPredictions.Shape, predictions.Shape);
            Assert.Equal(expectedPredictions.ToArray(), predictions.ToArray(), (a, b) => MathF.Abs(a - b) <= 1e-6f * MathF.Max(1, MathF.Abs(a)));
        }
    }

    [Fact]
    public void ValidationLogsAreTheWholeValidationSets()
    {
        var (x, y) = Digits(512);
        var data = Datasets.Digits.Load();
        (Tensor X, Tensor Y) validation = (data.TestX.Slice(0, 150), data.TestY.Slice(0, 150));
        var model = NewModel();
        CortexRandom.SetGlobalSeed(2);
        var plain = model.Fit(x, y, epochs: 1, batchSize: 64, validationData: validation, verbose: 0);
        foreach (var (_, history) in OnThreads(4, x, y, 1, validation: validation))
        {
            Assert.Equal(plain["val_accuracy"][0], history["val_accuracy"][0], 6);
            Assert.Equal(plain["val_loss"][0], history["val_loss"][0], 5);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DropoutAndNoiseDoNotDependOnTheNumberOfRanks(bool tape)
    {
        var (x, y) = Digits(517);
        Trainer.ForceTapePath = tape;
        try
        {
            var (expected, _) = Plain(x, y, 2, dropout: true);
            foreach (var (weights, path) in RunRanks(3, dist =>
            {
                Trainer.ForceTapePath = tape; // a thread-static: each rank's thread sets its own
                var model = NewModel(dropout: true);
                CortexRandom.SetGlobalSeed(2);
                model.Fit(x, y, dist, epochs: 2, batchSize: 64, verbose: 0);
                return (model.GetWeights(), model.TrainingPath);
            }))
            {
                Assert.StartsWith(tape ? "tape" : "fused", path);
                Assert.True(RelativeNorm(expected, weights) < 1e-6, $"relative difference {RelativeNorm(expected, weights):E2}");
            }
        }
        finally
        {
            Trainer.ForceTapePath = false;
        }
    }
}
