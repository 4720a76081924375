namespace Cortex.Data;

/// <summary>
/// The preparation steps that come between loading data and training: splitting, shuffling, one-hot encoding and
/// standardisation. Randomness comes from <see cref="CortexRandom"/>, so a seed gives the same result on every machine,
/// and no seed draws from the global generator (<see cref="CortexRandom.SetGlobalSeed"/>).
/// </summary>
public static class DataUtils
{
    /// <summary>
    /// Splits samples into training and test sets, like scikit-learn's <c>train_test_split</c>: the test set gets
    /// ⌈testSize·N⌉ samples, drawn at random (the same ones for the same seed) unless <paramref name="shuffle"/> is
    /// false, in which case it is the last ones.
    /// <code>
    /// var (xTrain, yTrain, xTest, yTest) = DataUtils.TrainTestSplit(x, y, testSize: 0.2, seed: 42);
    /// </code>
    /// </summary>
    /// <param name="x">Inputs; the first axis indexes samples.</param>
    /// <param name="y">Targets, with as many entries along the first axis as <paramref name="x"/>.</param>
    /// <param name="testSize">The fraction of samples for the test set, in (0, 1).</param>
    /// <param name="seed">Seeds the shuffle; null draws from the global generator.</param>
    /// <param name="shuffle">Whether to shuffle before splitting.</param>
    /// <exception cref="ArgumentException">The sample counts differ, or a split would be empty.</exception>
    public static Dataset TrainTestSplit(Tensor x, Tensor y, double testSize = 0.2, int? seed = null, bool shuffle = true)
    {
        int n = SampleCount("TrainTestSplit", x, y);
        if (!(testSize > 0 && testSize < 1))
            throw new ArgumentOutOfRangeException(nameof(testSize), $"TrainTestSplit: testSize is the fraction of samples for the test set and must lie in (0, 1). Received: {testSize}");
        // The small tolerance keeps a product such as 0.3·10 = 3.0000000000000004 from rounding up to 4.
        int nTest = (int)Math.Ceiling(testSize * n - 1e-9);
        int nTrain = n - nTest;
        if (nTest == 0 || nTrain == 0)
            throw new ArgumentException($"TrainTestSplit: testSize {testSize} of {n} samples gives {nTrain} training and {nTest} test samples; expected both to be non-empty.");
        if (shuffle)
        {
            int[] order = Permutation(n, seed);
            return new Dataset(x.Gather(order.AsSpan(0, nTrain)), y.Gather(order.AsSpan(0, nTrain)),
                x.Gather(order.AsSpan(nTrain)), y.Gather(order.AsSpan(nTrain)));
        }
        return new Dataset(x.Slice(0, nTrain), y.Slice(0, nTrain), x.Slice(nTrain, nTest), y.Slice(nTrain, nTest));
    }

    /// <summary>Shuffles the samples of <paramref name="x"/> and <paramref name="y"/> with the same permutation, so
    /// that each input keeps its target.</summary>
    /// <exception cref="ArgumentException">The sample counts differ.</exception>
    public static (Tensor X, Tensor Y) Shuffle(Tensor x, Tensor y, int? seed = null)
    {
        int[] order = Permutation(SampleCount("Shuffle", x, y), seed);
        return (x.Gather(order), y.Gather(order));
    }

    /// <summary>
    /// One-hot encodes class indices, like Keras's <c>to_categorical</c>: labels of shape (N,) become (N, numClasses).
    /// When <paramref name="numClasses"/> is null it is the largest label plus one.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A label is not an integer in [0, numClasses).</exception>
    public static Tensor OneHot(Tensor labels, int? numClasses = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (numClasses is null)
        {
            float max = -1;
            foreach (float v in labels.AsSpan()) if (v > max) max = v;
            numClasses = (int)max + 1;
            if (numClasses <= 0)
                throw new ArgumentException($"OneHot: cannot infer the number of classes from labels of shape {ShapeUtil.Format(labels.ShapeRef)} with no non-negative value; pass numClasses.");
        }
        return Tensor.OneHot(labels, numClasses.Value);
    }

    /// <summary>
    /// Standardises each feature to mean 0 and standard deviation 1 using statistics of <paramref name="train"/> only,
    /// applied to both sets, so that nothing about the test set leaks into training — scikit-learn's
    /// <c>StandardScaler().fit(train)</c>. Keep a <see cref="Standardizer"/> to treat later inputs the same way.
    /// </summary>
    public static (Tensor Train, Tensor Test) Standardize(Tensor train, Tensor test)
    {
        var s = Standardizer.Fit(train);
        return (s.Transform(train), s.Transform(test));
    }

    private static int SampleCount(string op, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Rank == 0 || y.Rank == 0 || x.ShapeRef[0] != y.ShapeRef[0])
            throw new ArgumentException($"{op}: x and y must have the same number of samples along the first axis. Received: x {ShapeUtil.Format(x.ShapeRef)}, y {ShapeUtil.Format(y.ShapeRef)}");
        return x.ShapeRef[0];
    }

    private static int[] Permutation(int n, int? seed)
    {
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        CortexRandom.FromSeedOrGlobal(seed).Shuffle(order);
        return order;
    }
}

/// <summary>
/// Per-feature standardisation <c>(x − mean) / std</c>, with statistics over the first (sample) axis of the data it was
/// fitted on — scikit-learn's <c>StandardScaler</c>. The standard deviation is the population one (divided by N); a
/// constant feature, such as a border pixel that is always 0, gets std 1, so it maps to 0 rather than NaN.
/// <code>
/// var scaler = Standardizer.Fit(xTrain);
/// xTrain = scaler.Transform(xTrain); xTest = scaler.Transform(xTest);
/// </code>
/// </summary>
public sealed class Standardizer
{
    private readonly float[] mean, std;
    private readonly int[] featureShape;

    private Standardizer(float[] mean, float[] std, int[] featureShape)
    {
        this.mean = mean;
        this.std = std;
        this.featureShape = featureShape;
    }

    /// <summary>The mean of each feature, shaped like one sample.</summary>
    public Tensor Mean => Tensor.FromArray(mean, featureShape);

    /// <summary>The standard deviation of each feature (1 for constant ones), shaped like one sample.</summary>
    public Tensor Std => Tensor.FromArray(std, featureShape);

    /// <summary>Computes each feature's mean and standard deviation over the samples (first axis) of <paramref name="x"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="x"/> is a scalar or has no samples.</exception>
    public static Standardizer Fit(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank == 0 || x.ShapeRef[0] == 0)
            throw new ArgumentException($"Standardizer.Fit: expected at least one sample along the first axis. Received: shape {ShapeUtil.Format(x.ShapeRef)}");
        int n = x.ShapeRef[0], f = x.Size / n;
        var src = x.AsSpan();
        // Two passes in double: the one-pass E[x²] − E[x]² formula cancels badly for features with a large mean.
        var sum = new double[f];
        for (int i = 0; i < n; i++)
        {
            var row = src.Slice(i * f, f);
            for (int j = 0; j < f; j++) sum[j] += row[j];
        }
        var sq = new double[f];
        for (int i = 0; i < n; i++)
        {
            var row = src.Slice(i * f, f);
            for (int j = 0; j < f; j++)
            {
                double d = row[j] - sum[j] / n;
                sq[j] += d * d;
            }
        }
        var mean = new float[f];
        var std = new float[f];
        for (int j = 0; j < f; j++)
        {
            mean[j] = (float)(sum[j] / n);
            double s = Math.Sqrt(sq[j] / n);
            std[j] = s > 0 ? (float)s : 1f;
        }
        return new Standardizer(mean, std, x.ShapeRef[1..]);
    }

    /// <summary>Returns <c>(x − Mean) / Std</c> for data shaped like the data this was fitted on.</summary>
    /// <exception cref="ArgumentException">The samples of <paramref name="x"/> have another shape.</exception>
    public Tensor Transform(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != featureShape.Length + 1 || !x.ShapeRef.AsSpan(1).SequenceEqual(featureShape))
            throw new ArgumentException($"Standardizer.Transform: expected samples of shape {ShapeUtil.Format(featureShape)}, as in the data it was fitted on. Received: shape {ShapeUtil.Format(x.ShapeRef)}");
        int f = mean.Length, n = f == 0 ? 0 : x.Size / f;
        var r = Tensor.Uninitialized(x.Shape);
        var src = x.AsSpan();
        var dst = r.Span;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < f; j++)
                dst[i * f + j] = (src[i * f + j] - mean[j]) / std[j];
        return r;
    }
}
