using System.Diagnostics;
using System.Security.Cryptography;
using Cortex;
using Cortex.Data;
using Cortex.Kernels;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

// Runs the library's parallel kernels as a machine with Environment.ProcessorCount CPUs would (set it with
// DOTNET_PROCESSOR_COUNT) and prints what the caller compares across CPU counts. Exit code 1 on a wrong product.
//   products N SEED  — N products of mixed shapes, part counts and kinds (rows, columns, k halves, element-wise
//                      ranges), each checked bit for bit against the same product on one thread; some issued by two
//                      threads at once
//   train            — digits MLP on the fused step and on the tape, and a small CNN with BatchNormalization, a few
//                      hundred steps each, and a wide MLP on batches of 300; prints a SHA-256 of each model's weights
//                      and of its predictions
string mode = args.Length > 0 ? args[0] : "products";
Console.WriteLine($"cpus {Environment.ProcessorCount} parts {GemmThreads.MaxParts}");
var clock = Stopwatch.StartNew();
int status = mode switch
{
    "products" => Products.Run(long.Parse(args[1]), int.Parse(args[2])),
    "train" => Training.Run(),
    _ => throw new ArgumentException($"unknown mode '{mode}'"),
};
Console.WriteLine($"seconds {clock.Elapsed.TotalSeconds:F1}");
return status;

static class Products
{
    private sealed record Case(bool TransA, bool TransB, int M, int N, int K, bool Accumulate, int MaxThreads,
        float[] A, float[] B, float[] C0, float[] Expected);

    public static int Run(long count, int seed)
    {
        var rng = new Random(seed);
        // Shapes that split by rows, by columns and by k halves, into 2 to 64 parts, plus element-wise range jobs
        // (an Adam step over 1 << 16 weights splits into up to 8 parts).
        (int m, int n, int k)[] shapes = [(32, 128, 784), (300, 64, 600), (96, 160, 200), (64, 512, 64), (257, 33, 90),
            (40, 700, 30), (8, 2000, 40), (1000, 24, 32), (128, 128, 128), (17, 1031, 64)];
        var cases = new List<Case>();
        foreach (var (m, n, k) in shapes)
            foreach (bool acc in new[] { false, true })
            {
                bool transA = rng.Next(2) == 0, transB = rng.Next(2) == 0;
                float[] a = Uniform(rng, m * k), b = Uniform(rng, k * n), c0 = Uniform(rng, m * n), expected = (float[])c0.Clone();
                Gemm.Sgemm(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, expected, n, acc, GemmKernel.Auto, 1);
                int maxThreads = 1 + rng.Next(Math.Max(1, GemmThreads.MaxParts));
                cases.Add(new Case(transA, transB, m, n, k, acc, cases.Count % 3 == 0 ? Environment.ProcessorCount : maxThreads, a, b, c0, expected));
            }
        var adam = new AdamRanges(rng);

        long done = 0, wrong = 0;
        // Two callers: the second finds the workers busy now and then and must run its product on its own thread.
        var second = new Thread(() => Interlocked.Add(ref wrong, Loop(cases, adam, new Random(seed + 1), count / 4, ref done)));
        second.Start();
        wrong += Loop(cases, adam, new Random(seed + 2), count - count / 4, ref done);
        second.Join();
        Console.WriteLine($"products {Interlocked.Read(ref done)} wrong {wrong}");
        return wrong == 0 ? 0 : 1;
    }

    private static long Loop(List<Case> cases, AdamRanges adam, Random rng, long count, ref long done)
    {
        long wrong = 0;
        var buffers = cases.Select(c => new float[c.C0.Length]).ToArray();
        for (long i = 0; i < count; i++)
        {
            if (rng.Next(8) == 0)
            {
                if (!adam.Check()) wrong++;
            }
            else
            {
                int index = rng.Next(cases.Count);
                var c = cases[index];
                var output = buffers[index];
                c.C0.CopyTo(output, 0);
                Gemm.Sgemm(c.TransA, c.TransB, c.M, c.N, c.K, c.A, c.TransA ? c.M : c.K, c.B, c.TransB ? c.K : c.N, output, c.N,
                    c.Accumulate, GemmKernel.Auto, c.MaxThreads);
                if (!output.AsSpan().SequenceEqual(c.Expected))
                {
                    if (wrong < 5) Console.WriteLine($"wrong product {c.M}x{c.N}x{c.K} accumulate={c.Accumulate} threads={c.MaxThreads}");
                    wrong++;
                }
            }
            Interlocked.Increment(ref done);
        }
        return wrong;
    }

    internal static float[] Uniform(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>An Adam update over a weight vector big enough to split into range parts, checked against one thread.</summary>
    private sealed class AdamRanges
    {
        private readonly float[] gradient, w0, expected;
        private readonly object gate = new();

        public AdamRanges(Random rng)
        {
            gradient = Uniform(rng, 1 << 16);
            w0 = Uniform(rng, 1 << 16);
            expected = Step(serial: true);
        }

        private float[] Step(bool serial)
        {
            var w = new Variable(new Tensor(w0.ToArray(), [w0.Length]));
            var optimizer = new Adam(learningRate: 0.01f);
            GemmThreads.SerialOnThisThread = serial;
            try { optimizer.ApplyGradients([(new Tensor(gradient, [gradient.Length]), w)]); }
            finally { GemmThreads.SerialOnThisThread = false; }
            return w.ToArray();
        }

        public bool Check() => Step(serial: false).AsSpan().SequenceEqual(expected);
    }
}

static class Training
{
    public static int Run()
    {
        var (xTrain, yTrain, _, _) = Datasets.Digits.Load();
        Tensor x = xTrain.Slice(0, 1024), y = yTrain.Slice(0, 1024);
        Report("mlp-fused", Mlp, x, y, tape: false);
        Report("mlp-tape", Mlp, x, y, tape: true);
        Report("cnn-bn", Cnn, x, y, tape: false);
        // Wide layers and a batch over 256 rows: products split by rows and columns into as many parts as there are CPUs.
        Report("mlp-wide", () => new(new Input([784]), new Dense(512, activation: "relu"), new Dense(512, activation: "tanh"), new Dense(10)),
            x, y, tape: false, batchSize: 300);
        return 0;
    }

    private static Sequential Mlp() => Zoo.Mlp(784, [128, 64], 10);

    private static Sequential Cnn() => new(new Input([784]), new Reshape([28, 28, 1]), new Conv2D(16, 3), new BatchNormalization(),
        new Activation("relu"), new MaxPooling2D(2), new Conv2D(32, 3, activation: "relu"), new MaxPooling2D(2), new Flatten(), new Dense(10));

    private static void Report(string name, Func<Sequential> create, Tensor x, Tensor y, bool tape, int batchSize = 64)
    {
        CortexRandom.SetGlobalSeed(7);
        var model = create();
        model.Compile(optimizer: new Adam(learningRate: 1e-3f), loss: new SparseCategoricalCrossentropy(fromLogits: true));
        Trainer.ForceTapePath = tape;
        model.Fit(x, y, epochs: 2, batchSize: batchSize, verbose: 0);
        Trainer.ForceTapePath = false;
        Console.WriteLine($"weights {name} fused={Trainer.LastFitFused} {Hash(model.Variables)}");
        // Inference on the trained model: a whole batch (products split into parts) and single samples (not split).
        Console.WriteLine($"predict {name} {Hash([model.Predict(x, batchSize: 1024), model.Predict(x.Slice(0, 3), batchSize: 1)])}");
    }

    private static string Hash(IEnumerable<Tensor> tensors)
    {
        using var sha = SHA256.Create();
        foreach (var t in tensors)
        {
            byte[] bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray().AsSpan()).ToArray();
            sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
        }
        sha.TransformFinalBlock([], 0, 0);
        return Convert.ToHexString(sha.Hash!)[..16];
    }
}
