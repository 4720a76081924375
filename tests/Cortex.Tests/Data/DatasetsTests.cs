using Cortex.Data;

namespace Cortex.Tests.Data;

public class DigitsTests
{
    // Read once from /work/shared/data/mnist-digits-10k/labels-idx1-ubyte.gz (the file copied to
    // src/Cortex/Data/Digits) with Python's gzip module: labels[:10], labels[-10:], and the class counts of the first
    // 8,000 and of all 10,000 (the latter as in that folder's README).
    private static readonly float[] FirstTenLabels = [5, 4, 2, 2, 5, 9, 8, 9, 5, 7];
    private static readonly float[] LastTenLabels = [8, 1, 4, 8, 8, 7, 1, 4, 9, 3];
    private static readonly int[] TrainClassCounts = [808, 885, 800, 794, 780, 684, 815, 875, 775, 784];
    private static readonly int[] AllClassCounts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
    private const int FirstImagePixelSum = 27920; // sum of the first image's 784 bytes, same script

    private static readonly Dataset Flat = Datasets.Digits.Load();

    private static int[] ClassCounts(params Tensor[] labels)
    {
        var counts = new int[10];
        foreach (var y in labels) foreach (float v in y.AsSpan()) counts[(int)v]++;
        return counts;
    }

    [Fact]
    public void SplitsEightThousandTrainAndTwoThousandTest()
    {
        var (xTrain, yTrain, xTest, yTest) = Flat;
        Assert.Equal([8000, 784], xTrain.Shape);
        Assert.Equal([8000], yTrain.Shape);
        Assert.Equal([2000, 784], xTest.Shape);
        Assert.Equal([2000], yTest.Shape);
        Assert.Equal("Dataset(TrainX (8000, 784), TrainY (8000,), TestX (2000, 784), TestY (2000,))", Flat.ToString());
    }

    [Fact]
    public void PixelsLieInUnitRangeAndLabelsAreDigits()
    {
        foreach (var x in new[] { Flat.TrainX, Flat.TestX })
        {
            Assert.All(x.ToArray(), v => Assert.InRange(v, 0f, 1f));
            Assert.Equal(1f, x.ToArray().Max()); // 255 is present: scaled by 255, not by the maximum
        }
        foreach (var y in new[] { Flat.TrainY, Flat.TestY })
            Assert.All(y.ToArray(), v => Assert.True(v is >= 0 and <= 9 && v == MathF.Floor(v), $"label {v}"));
    }

    [Fact]
    public void MatchesTheSharedDataFiles()
    {
        Assert.Equal(FirstTenLabels, Flat.TrainY.Slice(0, 10).ToArray());
        Assert.Equal(LastTenLabels, Flat.TestY.Slice(1990, 10).ToArray());
        Assert.Equal(TrainClassCounts, ClassCounts(Flat.TrainY));
        Assert.Equal(AllClassCounts, ClassCounts(Flat.TrainY, Flat.TestY));
        float sum = 0;
        foreach (float v in Flat.TrainX.AsSpan()[..784]) sum += v * 255f;
        Assert.Equal(FirstImagePixelSum, (int)MathF.Round(sum));
    }

    [Fact]
    public void UnflattenedImagesAreChannelsLastWithTheSameValues()
    {
        var (xTrain, yTrain, xTest, _) = Datasets.Digits.Load(flatten: false);
        Assert.Equal([8000, 28, 28, 1], xTrain.Shape);
        Assert.Equal([2000, 28, 28, 1], xTest.Shape);
        Assert.Equal(Flat.TrainX.ToArray(), xTrain.ToArray());
        Assert.Equal(Flat.TrainY.ToArray(), yTrain.ToArray());
    }
}

/// <summary>A fact that runs only where Debian's <c>dataset-fashion-mnist</c> package is installed.</summary>
public sealed class FashionMnistFactAttribute : FactAttribute
{
    public FashionMnistFactAttribute()
    {
        if (!Directory.Exists(Datasets.FashionMnist.DefaultDirectory))
            Skip = $"Fashion-MNIST is not installed in {Datasets.FashionMnist.DefaultDirectory}: run `sudo apt-get install dataset-fashion-mnist` (CI installs it).";
    }
}

public class FashionMnistTests
{
    [FashionMnistFact]
    public void LoadsSixtyThousandAndTenThousandFromTheDebianPackage()
    {
        var (xTrain, yTrain, xTest, yTest) = Datasets.FashionMnist.Load(flatten: false);
        Assert.Equal([60000, 28, 28, 1], xTrain.Shape);
        Assert.Equal([60000], yTrain.Shape);
        Assert.Equal([10000, 28, 28, 1], xTest.Shape);
        Assert.Equal([10000], yTest.Shape);
        // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
        var train = new int[10];
        foreach (float v in yTrain.AsSpan()) train[(int)v]++;
        var test = new int[10];
        foreach (float v in yTest.AsSpan()) test[(int)v]++;
        Assert.All(train, c => Assert.Equal(6000, c));
        Assert.All(test, c => Assert.Equal(1000, c));
        float min = float.MaxValue, max = float.MinValue;
        foreach (float v in xTest.AsSpan()) { min = MathF.Min(min, v); max = MathF.Max(max, v); }
        Assert.Equal(0f, min);
        Assert.Equal(1f, max);
    }

    [FashionMnistFact]
    public void MnistLoadReadsTheSameDirectoryFlattened()
    {
        var d = Datasets.Mnist.Load(Datasets.FashionMnist.DefaultDirectory);
        Assert.Equal([60000, 784], d.TrainX.Shape);
        Assert.Equal([10000, 784], d.TestX.Shape);
    }

    [Fact]
    public void ClassNamesAreTheTenFashionMnistClasses()
    {
        Assert.Equal(10, Datasets.FashionMnist.ClassNames.Count);
        Assert.Equal("T-shirt/top", Datasets.FashionMnist.ClassNames[0]);
        Assert.Equal("Ankle boot", Datasets.FashionMnist.ClassNames[9]);
    }

    [Fact]
    public void MissingDirectorySaysWhatToInstall()
    {
        using var dir = new TempDir();
        string missing = dir.File("no-such-dir");
        var e = Assert.Throws<FileNotFoundException>(() => Datasets.FashionMnist.Load(missing));
        Assert.Contains($"the directory '{missing}' does not exist", e.Message);
        Assert.Contains("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte", e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);
    }

    [Fact]
    public void MissingFilesAreListedWithTheNamesLookedFor()
    {
        using var dir = new TempDir();
        Idx.Write(dir.File("train-images-idx3-ubyte.gz"), new byte[8], [2, 2, 2], gzip: true);
        Idx.Write(dir.File("train-labels-idx1-ubyte"), [1, 2], [2]);
        var e = Assert.Throws<FileNotFoundException>(() => Datasets.FashionMnist.Load(dir.Path));
        Assert.Contains($"2 of the 4 files are missing in '{dir.Path}'", e.Message);
        Assert.Contains("t10k-images-idx3-ubyte (looked for t10k-images-idx3-ubyte.gz, t10k-images-idx3-ubyte, t10k-images.idx3-ubyte.gz, t10k-images.idx3-ubyte)", e.Message);
        Assert.Contains("t10k-labels-idx1-ubyte", e.Message);
        Assert.DoesNotContain("train-images-idx3-ubyte (looked", e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);
        Assert.Equal(dir.File("t10k-images-idx3-ubyte.gz"), e.FileName);
    }
}

public class MnistDirectoryTests
{
    [Fact]
    public void LoadsAnyMnistFormatDirectoryWithRawGzipOrDottedNames()
    {
        using var dir = new TempDir();
        byte[] train = [.. Enumerable.Range(0, 3 * 4 * 5).Select(i => (byte)(i * 4))];
        Idx.Write(dir.File("train-images-idx3-ubyte.gz"), train, [3, 4, 5], gzip: true);
        Idx.Write(dir.File("train-labels-idx1-ubyte"), [0, 1, 2], [3]);
        Idx.Write(dir.File("t10k-images.idx3-ubyte"), new byte[2 * 4 * 5], [2, 4, 5]);
        Idx.Write(dir.File("t10k-labels.idx1-ubyte.gz"), [9, 8], [2], gzip: true);

        var (xTrain, yTrain, xTest, yTest) = Datasets.Mnist.Load(dir.Path);
        Assert.Equal([3, 20], xTrain.Shape);
        Assert.Equal(train.Select(b => b / 255f), xTrain.ToArray());
        Assert.Equal([0f, 1f, 2f], yTrain.ToArray());
        Assert.Equal([2, 20], xTest.Shape);
        Assert.Equal([9f, 8f], yTest.ToArray());
        Assert.Equal([3, 4, 5, 1], Datasets.Mnist.Load(dir.Path, flatten: false).TrainX.Shape);
    }

    [Fact]
    public void ImageAndLabelCountsMustAgree()
    {
        using var dir = new TempDir();
        Idx.Write(dir.File("train-images-idx3-ubyte"), new byte[12], [3, 2, 2]);
        Idx.Write(dir.File("train-labels-idx1-ubyte"), [0, 1], [2]);
        Idx.Write(dir.File("t10k-images-idx3-ubyte"), new byte[4], [1, 2, 2]);
        Idx.Write(dir.File("t10k-labels-idx1-ubyte"), [0], [1]);
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Mnist.Load(dir.Path));
        Assert.Contains("holds 3 images but", e.Message);
        Assert.Contains("holds 2 labels", e.Message);
    }

    [Fact]
    public void MissingDirectoryNamesTheFiles()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Datasets.Mnist.Load("/definitely/not/here"));
        Assert.Contains("MNIST: the directory '/definitely/not/here' does not exist", e.Message);
        Assert.Contains("t10k-labels-idx1-ubyte", e.Message);
    }
}
