// Run under mpirun (see docs/distributed.md):
//   allreduce           median time of an in-place MPI_Allreduce(sum) of 1 … 4M floats through Cortex.Distributed
//   epoch mlp|cnn E     seconds per epoch (best of E, after a warm-up epoch) of data-parallel training, global batch 64
using System.Diagnostics;
using System.Globalization;
using Cortex;
using Cortex.Data;
using Cortex.Distributed;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

using var dist = MpiDataParallel.Initialize();
var say = dist.IsChief ? Console.Out : TextWriter.Null;
string mode = args.Length > 0 ? args[0] : "allreduce";
if (mode == "allreduce")
{
    say.WriteLine($"ranks={dist.WorldSize}");
    say.WriteLine("floats,bytes,median_us,algbw_GBps,busbw_GBps");
    foreach (int n in (int[])[1, 1024, 16384, 100_000, 1 << 20, 4 << 20])
    {
        var buffer = new float[n];
        int reps = n >= 1 << 20 ? 20 : 200;
        var times = new double[reps];
        for (int i = 0; i < 10; i++) dist.AllReduceSum(buffer); // warm-up
        for (int i = 0; i < reps; i++)
        {
            dist.Barrier();
            long t0 = Stopwatch.GetTimestamp();
            dist.AllReduceSum(buffer);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        Array.Sort(times);
        double us = times[reps / 2], bytes = 4.0 * n, p = dist.WorldSize;
        // algbw: bytes / time; busbw: what each link carried in a ring, 2(p−1)/p × bytes / time (NCCL's convention).
        say.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n},{bytes},{us:F1},{bytes / us / 1e3:F3},{2 * (p - 1) / p * bytes / us / 1e3:F3}"));
    }
}
else
{
    string kind = args[1];
    int epochs = int.Parse(args[2], CultureInfo.InvariantCulture);
    var data = Datasets.Digits.Load(flatten: kind == "mlp");
    CortexRandom.SetGlobalSeed(1);
    Sequential model = kind == "mlp" ? Zoo.DigitsMlp()
        : new Sequential(new Input([28, 28, 1]), new Conv2D(16, 3, activation: "relu"), new MaxPooling2D(2), new Conv2D(32, 3, activation: "relu"), new MaxPooling2D(2), new Flatten(), new Dense(10));
    model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
    var x = kind == "mlp" ? data.TrainX : data.TrainX.Slice(0, 2048);
    var y = kind == "mlp" ? data.TrainY : data.TrainY.Slice(0, 2048);
    model.Fit(x, y, dist, epochs: 1, batchSize: 64, verbose: 0); // warm-up: JIT, buffers
    double best = double.MaxValue;
    for (int e = 0; e < epochs; e++)
    {
        dist.Barrier();
        var clock = Stopwatch.StartNew();
        model.Fit(x, y, dist, epochs: 1, batchSize: 64, verbose: 0);
        dist.Barrier();
        best = Math.Min(best, clock.Elapsed.TotalSeconds);
    }
    int parameters = model.TrainableVariables.Sum(v => v.Size);
    say.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"model={kind} params={parameters} rows={x.Shape[0]} ranks={dist.WorldSize} threads/rank={Environment.ProcessorCount} epoch_s={best:F3} path={model.TrainingPath}"));
}
