using Cortex.Activations;
using Cortex.Layers;

namespace Cortex.Models;

/// <summary>
/// The networks that Cortex's examples, command line, benchmarks and tests share, each defined once here, as
/// <c>keras.applications</c> defines its models: every call returns a fresh, uncompiled <see cref="Sequential"/> (or,
/// for <see cref="FashionResNet"/>, a <see cref="Functional"/> graph) with
/// Keras's default initializers (Glorot-uniform kernels, zero biases), built when it starts with an <see cref="Input"/>.
/// </summary>
/// <remarks>
/// Layers are all created before the model is, so a model drawn after <see cref="CortexRandom.SetGlobalSeed"/> gets
/// the same weights as the same layers listed in <c>new Sequential(...)</c>. <see cref="Create"/> gives them by the
/// names that <c>tests/reference/models.json</c> and <c>bench/</c>'s PyTorch scripts use; a test checks that file
/// against these definitions, so the PyTorch side trains the same networks.
/// </remarks>
/// <example>
/// <code>
/// var model = Zoo.FashionCnn();                       // Conv2D → MaxPooling2D → Conv2D → MaxPooling2D → Flatten → Dropout → Dense
/// model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
/// model.Fit(xTrain, yTrain, epochs: 3);               // xTrain: (60000, 28, 28, 1)
/// </code>
/// </example>
public static class Zoo
{
    private static readonly Dictionary<string, Func<Model>> Named = new()
    {
        ["digits_mlp"] = () => DigitsMlp(),
        ["mlp_784_128_10"] = () => Mlp(784, [128], 10),
        ["mlp_784_512_512_10"] = () => Mlp(784, [512, 512], 10),
        ["fashion_cnn"] = () => FashionCnn(),
        ["fashion_cnn_no_dropout"] = () => FashionCnn(dropout: 0f),
        ["fashion_cnn_bn"] = () => FashionCnn(dropout: 0f, batchNormalization: true),
        ["fashion_lstm"] = () => FashionRnn(),
        ["fashion_gru"] = () => FashionRnn(cell: "gru"),
        ["fashion_resnet"] = () => FashionResNet(),
    };

    /// <summary>The names <see cref="Create"/> knows, in a fixed order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Named.Keys];

    /// <summary>
    /// The model called <paramref name="name"/>: <c>digits_mlp</c>, <c>mlp_784_128_10</c>, <c>mlp_784_512_512_10</c>
    /// (<see cref="Mlp"/> with those widths), <c>fashion_cnn</c>, <c>fashion_cnn_no_dropout</c> (<see cref="FashionCnn"/>
    /// with <c>dropout: 0</c>), <c>fashion_cnn_bn</c> (with <c>dropout: 0, batchNormalization: true</c>), <c>fashion_lstm</c>
    /// or <c>fashion_gru</c> (<see cref="FashionRnn"/>), <c>fashion_resnet</c> (<see cref="FashionResNet"/>, a graph).
    /// </summary>
    /// <exception cref="ArgumentException">No model has that name.</exception>
    public static Model Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Named.TryGetValue(name, out var create) ? create()
            : throw new ArgumentException($"Zoo: unknown model '{name}'. Expected one of: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>
    /// A multilayer perceptron on flat rows: <c>Input([inputs])</c>, then <c>Dense(h, activation)</c> for each width in
    /// <paramref name="hidden"/>, then <c>Dense(outputs)</c> with no activation (logits, for a loss with
    /// <c>fromLogits: true</c>).
    /// </summary>
    /// <param name="inputs">Features per row.</param>
    /// <param name="hidden">The hidden layers' widths, first to last; empty for a linear (softmax-regression) model.</param>
    /// <param name="outputs">Units of the output layer (classes).</param>
    /// <param name="activation">The hidden layers' activation (default ReLU).</param>
    /// <param name="preprocessing">A layer put between the input and the first Dense, e.g. an adapted
    /// <see cref="Normalization"/> (Keras applications' <c>include_preprocessing</c>).</param>
    /// <param name="name">The model's name (default <c>sequential</c>, numbered).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    /// <example><code>var model = Zoo.Mlp(784, [128, 64], 10, activation: "tanh");</code></example>
    public static Sequential Mlp(int inputs, IReadOnlyList<int> hidden, int outputs, ActivationFunction? activation = null,
        Layer? preprocessing = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        activation ??= ActivationFunction.Relu;
        return new Sequential([
            new Input([inputs]),
            .. preprocessing is null ? Array.Empty<Layer>() : [preprocessing],
            .. hidden.Select(units => new Dense(units, activation)),
            new Dense(outputs)], name);
    }

    /// <summary>
    /// The course notes' handwritten-digit model: 784 pixels → <c>Dense(25, relu)</c> → <c>Dense(15, relu)</c> →
    /// <c>Dense(10)</c> logits; 20,175 parameters.
    /// </summary>
    /// <example><code>var model = Zoo.DigitsMlp();   // then Compile with SparseCategoricalCrossentropy(fromLogits: true)</code></example>
    public static Sequential DigitsMlp() => Mlp(784, [25, 15], 10);

    /// <summary>
    /// The small Fashion-MNIST convolutional network (Keras's MNIST convnet example): <c>Conv2D(32, 3, relu)</c> →
    /// <c>MaxPooling2D(2)</c> → <c>Conv2D(64, 3, relu)</c> → <c>MaxPooling2D(2)</c> → <c>Flatten</c> →
    /// <c>Dropout(dropout)</c> → <c>Dense(classes)</c> logits; 34,826 parameters on (28, 28, 1) images.
    /// </summary>
    /// <param name="dropout">The rate of the Dropout before the classifier; 0 leaves the layer out.</param>
    /// <param name="batchNormalization">Follows each Conv2D (then without activation) with
    /// <c>BatchNormalization()</c> and <c>Activation("relu")</c>.</param>
    /// <param name="inputShape">One image's shape, (height, width, channels); default (28, 28, 1).</param>
    /// <param name="flatInput">Takes flat rows of height·width·channels values, as an MLP does, and reshapes each to
    /// <paramref name="inputShape"/> itself.</param>
    /// <param name="classes">Units of the output layer.</param>
    /// <param name="name">The model's name (default <c>sequential</c>, numbered).</param>
    /// <exception cref="ArgumentException"><paramref name="inputShape"/> is not (height, width, channels).</exception>
    /// <example><code>var model = Zoo.FashionCnn(dropout: 0, batchNormalization: true);</code></example>
    public static Sequential FashionCnn(float dropout = 0.5f, bool batchNormalization = false, int[]? inputShape = null,
        bool flatInput = false, int classes = 10, string? name = null)
    {
        int[] image = inputShape ?? [28, 28, 1];
        if (image.Length != 3)
            throw new ArgumentException($"Zoo.FashionCnn: inputShape must be (height, width, channels). Received: ({string.Join(", ", image)})", nameof(inputShape));
        Layer[] Block(int filters) => batchNormalization
            ? [new Conv2D(filters, 3), new BatchNormalization(), new Activation("relu"), new MaxPooling2D(2)]
            : [new Conv2D(filters, 3, activation: "relu"), new MaxPooling2D(2)];
        return new Sequential([
            .. flatInput ? [new Input([image[0] * image[1] * image[2]]), new Reshape(image)] : new Layer[] { new Input(image) },
            .. Block(32),
            .. Block(64),
            new Flatten(),
            .. dropout > 0 ? [new Dropout(dropout)] : Array.Empty<Layer>(),
            new Dense(classes)], name);
    }

    /// <summary>
    /// <see cref="FashionCnn"/> with a residual block (He et al.'s identity shortcut) after its first pooling, as a
    /// <see cref="Functional"/> graph: <c>Conv2D(32, 3, relu)</c> → <c>MaxPooling2D(2)</c> → x, then
    /// <c>relu(x + Conv2D(32, 3, same)(Conv2D(32, 3, same, relu)(x)))</c> → <c>Conv2D(64, 3, relu)</c> →
    /// <c>MaxPooling2D(2)</c> → <c>Flatten</c> → <c>Dense(classes)</c> logits; 53,322 parameters on (28, 28, 1) images.
    /// With examples/FashionCnn's recipe it reaches 91.7% test accuracy in 3 epochs, the plain network 90.6%.
    /// </summary>
    /// <param name="inputShape">One image's shape, (height, width, channels); default (28, 28, 1).</param>
    /// <param name="flatInput">Takes flat rows of height·width·channels values and reshapes each itself.</param>
    /// <param name="classes">Units of the output layer.</param>
    /// <param name="name">The model's name (default <c>fashion_resnet</c>).</param>
    /// <exception cref="ArgumentException"><paramref name="inputShape"/> is not (height, width, channels).</exception>
    /// <example><code>var model = Zoo.FashionResNet();   // a graph: model.Summary() shows the shortcut's "Connected to"</code></example>
    public static Functional FashionResNet(int[]? inputShape = null, bool flatInput = false, int classes = 10, string? name = null)
    {
        int[] image = inputShape ?? [28, 28, 1];
        if (image.Length != 3)
            throw new ArgumentException($"Zoo.FashionResNet: inputShape must be (height, width, channels). Received: ({string.Join(", ", image)})", nameof(inputShape));
        var input = new Input(flatInput ? [image[0] * image[1] * image[2]] : image, name: "pixels");
        SymbolicTensor x = flatInput ? new Reshape(image).Call(input) : input;
        x = new MaxPooling2D(2).Call(new Conv2D(32, 3, activation: "relu").Call(x));
        SymbolicTensor branch = new Conv2D(32, 3, padding: "same").Call(new Conv2D(32, 3, padding: "same", activation: "relu").Call(x));
        x = new Activation("relu").Call(new Add().Call(x, branch));                        // the shortcut
        x = new MaxPooling2D(2).Call(new Conv2D(64, 3, activation: "relu").Call(x));
        return new Functional(input, new Dense(classes).Call(new Flatten().Call(x)), name ?? "fashion_resnet");
    }

    /// <summary>
    /// A recurrent classifier that reads each image row by row, as a sequence: (28, 28) images are 28 steps of 28
    /// pixels → <c>LSTM(units)</c> (or <c>GRU(units)</c>) → <c>Dense(classes)</c> logits; 81,674 parameters for LSTM(128) on
    /// Fashion-MNIST.
    /// </summary>
    /// <param name="cell"><c>"lstm"</c> or <c>"gru"</c>.</param>
    /// <param name="units">The recurrent layer's units.</param>
    /// <param name="inputShape">One sequence's shape, (steps, features); default (28, 28).</param>
    /// <param name="flatInput">Takes flat rows of steps·features values, as an MLP does, and reshapes each itself.</param>
    /// <param name="classes">Units of the output layer.</param>
    /// <param name="name">The model's name (default <c>sequential</c>, numbered).</param>
    /// <exception cref="ArgumentException"><paramref name="cell"/> is unknown or <paramref name="inputShape"/> is not (steps, features).</exception>
    /// <example><code>var model = Zoo.FashionRnn();   // Input([28, 28]) → LSTM(128) → Dense(10)</code></example>
    public static Sequential FashionRnn(string cell = "lstm", int units = 128, int[]? inputShape = null, bool flatInput = false,
        int classes = 10, string? name = null)
    {
        int[] sequence = inputShape ?? [28, 28];
        if (sequence.Length != 2)
            throw new ArgumentException($"Zoo.FashionRnn: inputShape must be (steps, features). Received: ({string.Join(", ", sequence)})", nameof(inputShape));
        Layer recurrent = cell switch
        {
            "lstm" => new LSTM(units),
            "gru" => new GRU(units),
            _ => throw new ArgumentException($"Zoo.FashionRnn: cell must be \"lstm\" or \"gru\". Received: cell=\"{cell}\"", nameof(cell)),
        };
        return new Sequential([
            .. flatInput ? [new Input([sequence[0] * sequence[1]]), new Reshape(sequence)] : new Layer[] { new Input(sequence) },
            recurrent,
            new Dense(classes)], name);
    }

    /// <summary>
    /// A character-level language model: the last <paramref name="window"/> characters (indices, 0 = padding) →
    /// <c>Embedding(vocabulary, embedding, maskZero: true)</c> → <c>GRU(units)</c> (or LSTM) → <c>Dense(vocabulary)</c> logits
    /// for the next character. examples/CharModel trains it on a word list and samples new words from it.
    /// </summary>
    /// <param name="vocabulary">Token count, padding (0) included.</param>
    /// <param name="window">Characters of context.</param>
    /// <param name="embedding">Length of each character's vector.</param>
    /// <param name="units">The recurrent layer's units.</param>
    /// <param name="cell"><c>"gru"</c> or <c>"lstm"</c>.</param>
    /// <param name="name">The model's name.</param>
    /// <exception cref="ArgumentException"><paramref name="cell"/> is unknown.</exception>
    /// <example><code>var model = Zoo.CharRnn(vocabulary: 30);   // Input([12]) → Embedding(30, 16, maskZero) → GRU(64) → Dense(30)</code></example>
    public static Sequential CharRnn(int vocabulary, int window = 12, int embedding = 16, int units = 64, string cell = "gru", string? name = null) =>
        new([
            new Input([window]),
            new Embedding(vocabulary, embedding, maskZero: true),
            cell switch
            {
                "gru" => new GRU(units),
                "lstm" => new LSTM(units),
                _ => throw new ArgumentException($"Zoo.CharRnn: cell must be \"gru\" or \"lstm\". Received: cell=\"{cell}\"", nameof(cell)),
            },
            new Dense(vocabulary)], name);
}
