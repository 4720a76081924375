using Cortex.Data;

namespace Cortex.Tests.Data;

public class DataUtilsTests
{
    // Sample i has features (i, 10·i) and label i, so rows can be checked to stay with their labels.
    private static (Tensor X, Tensor Y) Numbered(int n) =>
        (Tensor.FromArray([.. Enumerable.Range(0, n).SelectMany(i => new float[] { i, 10 * i })], n, 2),
         Tensor.FromArray([.. Enumerable.Range(0, n).Select(i => (float)i)]));

    private static void AssertPaired(Tensor x, Tensor y)
    {
        float[] xs = x.ToArray(), ys = y.ToArray();
        for (int i = 0; i < ys.Length; i++)
        {
            Assert.Equal(ys[i], xs[2 * i]);
            Assert.Equal(10 * ys[i], xs[2 * i + 1]);
        }
    }

    [Fact]
    public void TrainTestSplitIsDeterministicWithASeed()
    {
        var (x, y) = Numbered(50);
        var a = DataUtils.TrainTestSplit(x, y, testSize: 0.2, seed: 42);
        var b = DataUtils.TrainTestSplit(x, y, testSize: 0.2, seed: 42);
        var c = DataUtils.TrainTestSplit(x, y, testSize: 0.2, seed: 7);
        Assert.Equal(a.TestY.ToArray(), b.TestY.ToArray());
        Assert.Equal(a.TrainX.ToArray(), b.TrainX.ToArray());
        Assert.NotEqual(a.TestY.ToArray(), c.TestY.ToArray());

        var (xTrain, yTrain, xTest, yTest) = a;
        Assert.Equal([40, 2], xTrain.Shape);
        Assert.Equal([10, 2], xTest.Shape);
        AssertPaired(xTrain, yTrain);
        AssertPaired(xTest, yTest);
        // A partition: every sample exactly once, and actually shuffled.
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (float)i), yTrain.ToArray().Concat(yTest.ToArray()).Order());
        Assert.NotEqual(Enumerable.Range(40, 10).Select(i => (float)i), yTest.ToArray());
    }

    [Theory]
    [InlineData(10, 0.3, 3)]
    [InlineData(10, 0.25, 3)] // ⌈2.5⌉, as scikit-learn
    [InlineData(3, 0.1, 1)]
    public void TestSizeRoundsUp(int n, double testSize, int expectedTest)
    {
        var (x, y) = Numbered(n);
        var d = DataUtils.TrainTestSplit(x, y, testSize, seed: 1);
        Assert.Equal(expectedTest, d.TestY.Shape[0]);
        Assert.Equal(n - expectedTest, d.TrainY.Shape[0]);
    }

    [Fact]
    public void TrainTestSplitWithoutShuffleKeepsOrder()
    {
        var (x, y) = Numbered(5);
        var d = DataUtils.TrainTestSplit(x, y, testSize: 0.4, shuffle: false);
        Assert.Equal([0f, 1f, 2f], d.TrainY.ToArray());
        Assert.Equal([3f, 4f], d.TestY.ToArray());
    }

    [Fact]
    public void TrainTestSplitRejectsBadArguments()
    {
        var (x, y) = Numbered(5);
        Assert.Throws<ArgumentOutOfRangeException>(() => DataUtils.TrainTestSplit(x, y, testSize: 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataUtils.TrainTestSplit(x, y, testSize: 0));
        var e = Assert.Throws<ArgumentException>(() => DataUtils.TrainTestSplit(x, y.Slice(0, 4)));
        Assert.Contains("x (5, 2), y (4,)", e.Message);
        var (one, oneY) = Numbered(1);
        Assert.Contains("expected both to be non-empty", Assert.Throws<ArgumentException>(() => DataUtils.TrainTestSplit(one, oneY)).Message);
    }

    [Fact]
    public void ShuffleIsDeterministicAndKeepsPairs()
    {
        var (x, y) = Numbered(30);
        var (x1, y1) = DataUtils.Shuffle(x, y, seed: 3);
        var (x2, y2) = DataUtils.Shuffle(x, y, seed: 3);
        Assert.Equal(x1.ToArray(), x2.ToArray());
        Assert.Equal(y1.ToArray(), y2.ToArray());
        Assert.NotEqual(y.ToArray(), y1.ToArray());
        Assert.Equal(y.ToArray(), y1.ToArray().Order());
        AssertPaired(x1, y1);
    }

    [Fact]
    public void OneHotInfersTheNumberOfClasses()
    {
        var y = Tensor.FromArray([2f, 0f, 1f]);
        Tensor inferred = DataUtils.OneHot(y);
        Assert.Equal([3, 3], inferred.Shape);
        Assert.Equal([0f, 0, 1, 1, 0, 0, 0, 1, 0], inferred.ToArray());
        Assert.Equal([3, 5], DataUtils.OneHot(y, 5).Shape);
        Assert.Throws<ArgumentOutOfRangeException>(() => DataUtils.OneHot(Tensor.FromArray([0.5f])));
    }

    [Fact]
    public void StandardizeUsesTrainStatisticsOnly()
    {
        var train = Tensor.FromArray([1f, 5f, 3f, 5f, 5f, 5f], 3, 2); // column 0: mean 3, std √(8/3); column 1 constant
        var test = Tensor.FromArray([3f, 7f], 1, 2);
        var (trainS, testS) = DataUtils.Standardize(train, test);
        float s = MathF.Sqrt(8f / 3f);
        Assert.Equal([-2 / s, 0, 0, 0, 2 / s, 0], trainS.ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal([0f, 2f], testS.ToArray(), new FloatTolerance(1e-6f)); // (7 − 5) / 1: constant features keep std 1

        var scaler = Standardizer.Fit(train);
        Assert.Equal([3f, 5f], scaler.Mean.ToArray());
        Assert.Equal(s, scaler.Std.ToArray()[0], 1e-6f);
        Assert.Equal(1f, scaler.Std.ToArray()[1]);
        var e = Assert.Throws<ArgumentException>(() => scaler.Transform(Tensor.Zeros(2, 3)));
        Assert.Contains("expected samples of shape (2,)", e.Message);
    }

    private sealed class FloatTolerance(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => MathF.Abs(a - b) <= tol;
        public int GetHashCode(float v) => 0;
    }
}
