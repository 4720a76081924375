namespace Cortex.Tests;

/// <summary>Creation, reading, printing, errors, and the GradientTape's semantics.</summary>
public class TensorTests
{
    [Fact]
    public void CreatesFromArraysOfEveryRank()
    {
        Assert.Equal([3], Tensor.FromArray(new float[] { 1, 2, 3 }).Shape);
        var m = Tensor.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal([2, 3], m.Shape);
        Assert.Equal(6f, m[1, 2]);
        Assert.Equal(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } }, m.ToArray2D());
        Assert.Equal([2, 1, 2], Tensor.FromArray(new float[,,] { { { 1, 2 } }, { { 3, 4 } } }).Shape);
        var t4 = Tensor.FromArray(new float[1, 2, 2, 1] { { { { 1 }, { 2 } }, { { 3 }, { 4 } } } });
        Assert.Equal([1, 2, 2, 1], t4.Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, t4.ToArray());
        Assert.Equal([2, 3], Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, -1).Shape);
        Assert.Equal(7f, Tensor.Scalar(7).Item());
    }

    [Fact]
    public void CreationHelpers()
    {
        Assert.Equal(new float[] { 0, 0, 0, 0 }, Tensor.Zeros(2, 2).ToArray());
        Assert.Equal(new float[] { 1, 1 }, Tensor.Ones(2).ToArray());
        Assert.Equal(new float[] { 2.5f, 2.5f }, Tensor.Full([2], 2.5f).ToArray());
        Assert.Equal(new float[] { 0, 1, 2, 3 }, Tensor.Arange(4).ToArray());
        Assert.Equal(new float[] { 1, 1.5f, 2, 2.5f }, Tensor.Arange(1, 3, 0.5f).ToArray());
    }

    [Fact]
    public void RandomIsReproducibleWithASeedAndHasTheRequestedMoments()
    {
        var a = Tensor.RandomNormal([100_000], mean: 2, std: 3, seed: 7);
        var b = Tensor.RandomNormal([100_000], mean: 2, std: 3, seed: 7);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.NotEqual(a.ToArray(), Tensor.RandomNormal([100_000], 2, 3, seed: 8).ToArray());
        Assert.InRange(a.Mean().Item(), 1.95f, 2.05f);
        Assert.InRange((a - 2f).Square().Mean().Sqrt().Item(), 2.95f, 3.05f);
        var u = Tensor.RandomUniform([100_000], low: -1, high: 3, seed: 1);
        Assert.InRange(u.Min().Item(), -1f, -0.99f);
        Assert.InRange(u.Max().Item(), 2.99f, 3f);
        Assert.Equal(u.ToArray(), Tensor.RandomUniform([100_000], -1, 3, seed: 1).ToArray());
    }

    [Fact]
    public void GlobalSeedMakesUnseededRandomReproducible()
    {
        CortexRandom.SetGlobalSeed(123);
        var a = Tensor.RandomNormal([10]);
        CortexRandom.SetGlobalSeed(123);
        Assert.Equal(a.ToArray(), Tensor.RandomNormal([10]).ToArray());
    }

    [Fact]
    public async Task GlobalSeedIsScopedToTheCodeThatSetIt()
    {
        // Two runs seeded alike on different threads, drawing alternately, still get the same numbers: a seed set in
        // one flow (a test, a server session) does not feed another.
        using var barrier = new Barrier(2);
        float[] Draw()
        {
            CortexRandom.SetGlobalSeed(99);
            var values = new List<float>();
            for (int i = 0; i < 20; i++)
            {
                barrier.SignalAndWait();
                values.AddRange(Tensor.RandomNormal([3]).ToArray());
            }
            return [.. values];
        }
        var a = Task.Factory.StartNew(Draw, TaskCreationOptions.LongRunning);
        var b = Task.Factory.StartNew(Draw, TaskCreationOptions.LongRunning);
        Assert.Equal(await a, await b);
        // Child tasks started after seeding inherit the seed's generator.
        CortexRandom.SetGlobalSeed(5);
        var expected = Tensor.RandomNormal([4]).ToArray();
        CortexRandom.SetGlobalSeed(5);
        Assert.Equal(expected, await Task.Run(() => Tensor.RandomNormal([4]).ToArray()));
    }

    [Fact]
    public void PrintsLikeNumPy()
    {
        Assert.Equal("[[0.2 0.7 0.3]], shape=(1, 3)", Tensor.FromArray(new float[,] { { 0.2f, 0.7f, 0.3f } }).ToString());
        Assert.Equal("[11. 17.], shape=(2,)", Tensor.FromArray(new float[] { 11, 17 }).ToString());
        Assert.Equal("[[ 1. -2.]\n [ 3.  4.]], shape=(2, 2)", Tensor.FromArray(new float[,] { { 1, -2 }, { 3, 4 } }).ToString());
        string big = Tensor.Arange(5000).ToString();
        Assert.Contains("...", big);
        Assert.StartsWith("[   0.    1.    2. ... 4997. 4998. 4999.]", big);
        Assert.Equal("nan, shape=()", Tensor.Scalar(float.NaN).ToString());
    }

    [Fact]
    public void NotesMatMulExample()
    {
        var a = Tensor.FromArray(new float[] { 1, 2 });
        var w = Tensor.FromArray(new float[,] { { 3, 5 }, { 4, 6 } });
        Assert.Equal(new float[] { 11, 17 }, a.MatMul(w).ToArray());
        Assert.Equal(new float[] { 11, 17 }, Tensor.Dot(a, w).ToArray());
        Assert.Equal([2, 2], w.T.Shape);
        Assert.Equal(new float[] { 3, 4, 5, 6 }, w.T.ToArray());
    }

    [Fact]
    public void ErrorsNameTheOpAndBothShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.MatMul(Tensor.Zeros(4, 2), Tensor.Zeros(3, 1)));
        Assert.Equal("MatMul: (4, 2) @ (3, 1): inner dimensions 2 and 3 differ", e.Message);
        e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(4, 3) + Tensor.Zeros(2, 3));
        Assert.Contains("Add", e.Message);
        Assert.Contains("(4, 3)", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        var ax = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(2, 3).Sum(2));
        Assert.Contains("rank 2", ax.Message);
        e = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new float[6], 4, 2));
        Assert.Contains("8 elements", e.Message);
        Assert.Contains("6", e.Message);
        e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(6).Reshape(4, 2));
        Assert.Contains("8 elements", e.Message);
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).Item());
        Assert.Throws<IndexOutOfRangeException>(() => Tensor.Zeros(2, 2)[2, 0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(3, 2).Gather([0, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.OneHot(Tensor.FromArray(new float[] { 0, 4 }), 3));
    }

    [Fact]
    public void NaNAndInfinityPropagate()
    {
        var x = Tensor.FromArray(new float[] { float.NaN, 1, float.PositiveInfinity });
        var y = (x * 2f).ToArray();
        Assert.True(float.IsNaN(y[0]));
        Assert.True(float.IsPositiveInfinity(y[2]));
        Assert.True(float.IsNaN(x.Sum().Item()));
        Assert.True(float.IsNaN(x.Max().Item()));
        Assert.True(float.IsNaN(Tensor.Maximum(x, 0).ToArray()[0]));
        Assert.True(float.IsNaN(NN.Relu(x).ToArray()[0]));
        Assert.True(float.IsPositiveInfinity((Tensor.FromArray(new float[] { 1 }) / 0f).Item()));
    }

    [Fact]
    public void SoftmaxOfHugeLogitsIsFinite()
    {
        var p = NN.Softmax(Tensor.FromArray(new float[] { 1000, -1000, 0 })).ToArray();
        Assert.Equal(1f, p[0]);
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        Assert.All(NN.LogSoftmax(Tensor.FromArray(new float[] { 1000, -1000 })).ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(NN.Sigmoid(Tensor.FromArray(new float[] { 1000, -1000 })).ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1000f, NN.Softplus(Tensor.FromArray(new float[] { 1000 })).Item());
    }

    [Fact]
    public void TapeHandlesDiamondsBroadcastingAndNonScalarTargets()
    {
        var w = new Variable(Tensor.FromArray(new float[] { 3 }));
        using (var tape = new GradientTape())
        {
            var y = w * w + w;                     // w used three times
            Assert.Equal(7f, tape.Gradient(y, w)[0].Item());
        }
        var b = new Variable(Tensor.FromArray(new float[] { 1, 2, 3 }));
        var x = Tensor.Ones(4, 3);
        using (var tape = new GradientTape())
        {
            var z = x + b;                         // (4, 3): implicit gradient of ones, summed back to (3,)
            var g = tape.Gradient(z, b)[0];
            Assert.Equal([3], g.Shape);
            Assert.Equal(new float[] { 4, 4, 4 }, g.ToArray());
        }
    }

    [Fact]
    public void TapeWatchesVariablesAndExplicitTensorsOnly()
    {
        var c = Tensor.FromArray(new float[] { 2 });
        var v = new Variable(Tensor.FromArray(new float[] { 5 }));
        using var tape = new GradientTape(persistent: true);
        var y = c * v;
        Assert.Equal(2f, tape.Gradient(y, v)[0].Item());
        Assert.Equal(0f, tape.Gradient(y, c)[0].Item()); // not watched: unconnected, zeros by default
        Assert.Null(tape.Gradient(y, [c], null, UnconnectedGradients.None)[0]);
        tape.Watch(c);
        var y2 = c * c;
        Assert.Equal(4f, tape.Gradient(y2, c)[0].Item());
    }

    [Fact]
    public void NonPersistentTapeCanBeUsedOnce()
    {
        var v = new Variable(Tensor.Ones(1));
        var tape = new GradientTape();
        var y = v * 2f;
        tape.Gradient(y, v);
        Assert.Throws<InvalidOperationException>(() => tape.Gradient(y, v));
    }

    [Fact]
    public void OpsOutsideATapeRecordNothing()
    {
        var v = new Variable(Tensor.Ones(1));
        var y = v * 2f; // no tape active
        using var tape = new GradientTape();
        Assert.Equal(0f, tape.Gradient(y, v)[0].Item());
    }

    [Fact]
    public async Task MatMulIsDeterministicAcrossRuns()
    {
        var a = Tensor.RandomNormal([300, 500], seed: 1);
        var b = Tensor.RandomNormal([500, 400], seed: 2);
        var c1 = a.MatMul(b).ToArray();
        var c2 = await Task.Run(() => a.MatMul(b).ToArray());
        Assert.Equal(c1, c2);
    }

    [Fact]
    public void ReductionsAlongAxesWithKeepDims()
    {
        var x = Tensor.FromArray(new float[,] { { 1, 5, 3 }, { 4, 2, 6 } });
        Assert.Equal(new float[] { 5, 7, 9 }, x.Sum(0).ToArray());
        Assert.Equal([2, 1], x.Sum(1, keepDims: true).Shape);
        Assert.Equal(new float[] { 3, 4 }, x.Mean(-1).ToArray());
        Assert.Equal(new float[] { 1, 2 }, x.ArgMax(1).ToArray());
        Assert.Equal(6f, x.Max().Item());
        Assert.Equal(1f, x.Min().Item());
        Assert.Equal(new float[] { 4, 5, 6 }, x.Max(0).ToArray());
    }

    [Fact]
    public void MiniBatchSlicingAndGathering()
    {
        var x = Tensor.Arange(12).Reshape(6, 2);
        Assert.Equal(new float[] { 4, 5, 6, 7 }, x.Slice(2, 2).ToArray());
        Assert.Equal(new float[] { 10, 11, 0, 1 }, x.Gather([5, 0]).ToArray());
        Assert.Equal(new float[] { 0, 1, 0, 0, 0, 1 }, Tensor.OneHot(Tensor.FromArray(new float[] { 1, 2 }), 3).ToArray());
        Assert.Equal([2, 6, 2], Tensor.Stack([x, x]).Shape);
        Assert.Equal([6, 4], Tensor.Concat([x, x], axis: 1).Shape);
    }

    [Fact]
    public void SumsOfMillionsOfElementsKeepFloatPrecision()
    {
        // A float running sum of 12 million values near 0.3 drifts by ~1e-3 relative; NumPy's pairwise sum does not,
        // and neither may Sum/Mean (a data set's mean pixel feeds standardisation).
        const int Rows = 3_000_000, Cols = 4;
        var values = new float[Rows * Cols];
        var rng = new Random(3);
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextDouble() * 0.6f;
        double exact = 0;
        var exactColumns = new double[Cols];
        for (int i = 0; i < values.Length; i++) { exact += values[i]; exactColumns[i % Cols] += values[i]; }
        var t = Tensor.FromArray(values).Reshape([Rows, Cols]);
        Assert.Equal(exact / values.Length, t.Mean().Item(), 1e-6 * exact / values.Length);
        float[] columnMeans = t.Mean(axis: 0).ToArray();
        for (int c = 0; c < Cols; c++) Assert.Equal(exactColumns[c] / Rows, columnMeans[c], 1e-6 * exactColumns[c] / Rows);
        float[] rowSums = t.Reshape([Cols, Rows]).Sum(axis: 1).ToArray();
        Assert.Equal(Cols, rowSums.Length);
        double firstRow = 0;
        for (int i = 0; i < Rows; i++) firstRow += values[i];
        Assert.Equal(firstRow, rowSums[0], 1e-6 * firstRow);
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(0.1f)]
    [InlineData(1f / 3f)]
    [InlineData(0f)]
    public void DropoutMasksAreTheDrawsOfNextFloat(float rate)
    {
        // FillKeepMask (the fast path Dropout uses) must draw exactly what a NextFloat loop draws, and leave the
        // generator where that loop leaves it.
        var fast = new CortexRandom(9);
        var plain = new CortexRandom(9);
        var mask = new float[10_001];
        fast.FillKeepMask(mask, rate, 2f);
        for (int i = 0; i < mask.Length; i++) Assert.Equal(plain.NextFloat() >= rate ? 2f : 0f, mask[i]);
        Assert.Equal(plain.NextUInt(), fast.NextUInt());
    }
}
