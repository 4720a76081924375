using Cortex.Data;

namespace Cortex.Tests.Sequence;

/// <summary>Sequences.PadSequences and TextVectorizer against Keras's documented behaviour, and the digits read as
/// sequences of rows.</summary>
public class SequenceDataTests
{
    private static readonly int[][] Sequence = [[1], [2, 3], [4, 5, 6]];

    private static float[,] Rows(Tensor t)
    {
        Assert.Equal(2, t.Rank);
        var r = new float[t.Shape[0], t.Shape[1]];
        for (int i = 0; i < t.Shape[0]; i++)
            for (int j = 0; j < t.Shape[1]; j++) r[i, j] = t.ToArray()[i * t.Shape[1] + j];
        return r;
    }

    // The four examples of keras.utils.pad_sequences's docstring (keras/src/utils/sequence_utils.py;
    // https://keras.io/api/data_loading/ → pad_sequences).
    [Fact]
    public void PadSequencesMatchesKerasDocumentedExamples()
    {
        Assert.Equal(new float[,] { { 0, 0, 1 }, { 0, 2, 3 }, { 4, 5, 6 } }, Rows(Sequences.PadSequences(Sequence)));
        Assert.Equal(new float[,] { { -1, -1, 1 }, { -1, 2, 3 }, { 4, 5, 6 } }, Rows(Sequences.PadSequences(Sequence, value: -1)));
        Assert.Equal(new float[,] { { 1, 0, 0 }, { 2, 3, 0 }, { 4, 5, 6 } }, Rows(Sequences.PadSequences(Sequence, padding: "post")));
        Assert.Equal(new float[,] { { 0, 1 }, { 2, 3 }, { 5, 6 } }, Rows(Sequences.PadSequences(Sequence, maxLen: 2)));
    }

    // The rest of pad_sequences's code paths: truncating "post" keeps the first values; an empty sequence is a row of
    // the padding value; maxLen longer than every sequence pads them all.
    [Fact]
    public void PadSequencesTruncatesPadsAndKeepsEmptyRowsAsKeras()
    {
        Assert.Equal(new float[,] { { 0, 1 }, { 2, 3 }, { 4, 5 } }, Rows(Sequences.PadSequences(Sequence, maxLen: 2, truncating: "post")));
        Assert.Equal(new float[,] { { 1, 0 }, { 2, 3 }, { 4, 5 } }, Rows(Sequences.PadSequences(Sequence, maxLen: 2, padding: "post", truncating: "post")));
        Assert.Equal(new float[,] { { 7, 7 }, { 7, 9 } }, Rows(Sequences.PadSequences([[], [9]], maxLen: 2, value: 7)));
        Assert.Equal(new float[,] { { 0, 0, 0, 1 }, { 0, 0, 2, 3 }, { 0, 4, 5, 6 } }, Rows(Sequences.PadSequences(Sequence, maxLen: 4)));
        Assert.Equal([0, 3], Sequences.PadSequences([], maxLen: 3).Shape);
        Assert.Equal([0, 0], Sequences.PadSequences([]).Shape);
        Assert.Equal([3, 0], Sequences.PadSequences(Sequence, maxLen: 0).Shape);
    }

    [Fact]
    public void PadSequencesRefusesBadArguments()
    {
        Assert.Contains("Sequences.PadSequences: padding must be \"pre\" or \"post\". Received: padding=\"left\"",
            Assert.Throws<ArgumentException>(() => Sequences.PadSequences(Sequence, padding: "left")).Message);
        Assert.Contains("truncating must be \"pre\" or \"post\". Received: truncating=\"both\"",
            Assert.Throws<ArgumentException>(() => Sequences.PadSequences(Sequence, truncating: "both")).Message);
        Assert.Contains("maxLen=-1", Assert.Throws<ArgumentOutOfRangeException>(() => Sequences.PadSequences(Sequence, maxLen: -1)).Message);
        Assert.Contains("sequence 1 is null", Assert.Throws<ArgumentNullException>(() => Sequences.PadSequences([[1], null!])).Message);
    }

    // keras.layers.TextVectorization's docstring example (keras/src/layers/preprocessing/text_vectorization.py):
    // adapt(["foo bar", "bar baz", "baz bada boom"]) then ["foo qux bar", "qux baz"] with output_sequence_length=4
    // gives [[4, 1, 3, 0], [1, 2, 0, 0]]: bar and baz (twice each) before foo, boom, bada (once), each tie in
    // descending order (IndexLookup's np.lexsort((tokens, counts))[::-1]).
    [Fact]
    public void TextVectorizerMatchesKerasDocumentedExample()
    {
        var v = new TextVectorizer(maxTokens: 5000);
        v.Adapt(["foo bar", "bar baz", "baz bada boom"]);
        Assert.Equal(["", "[UNK]", "baz", "bar", "foo", "boom", "bada"], v.Vocabulary);
        Assert.Equal(new float[,] { { 4, 1, 3, 0 }, { 1, 2, 0, 0 } }, Rows(v.Transform(["foo qux bar", "qux baz"], outputSequenceLength: 4)));
        // Without a length, rows are padded to the longest; a longer row is cut at the end.
        Assert.Equal(new float[,] { { 4, 1, 3 }, { 1, 2, 0 } }, Rows(v.Transform(["foo qux bar", "qux baz"])));
        Assert.Equal(new float[,] { { 4, 1 } }, Rows(v.Transform(["foo qux bar"], outputSequenceLength: 2)));
    }

    [Fact]
    public void TextVectorizerStandardizesSplitsAndCapsAsKeras()
    {
        // lower_and_strip_punctuation: "Hello," and "hello!" are one token; maxTokens counts "" and [UNK].
        var words = new TextVectorizer(maxTokens: 3);
        words.Adapt(["Hello, world!", "hello again... HELLO"]);
        Assert.Equal(["", "[UNK]", "hello"], words.Vocabulary);
        Assert.Equal(new float[,] { { 2, 1 } }, Rows(words.Transform(["HeLLo you"])));

        var raw = new TextVectorizer(standardize: null);
        raw.Adapt(["A a a. a"]);
        Assert.Equal(["", "[UNK]", "a", "a.", "A"], raw.Vocabulary); // ties in descending byte order: "a." > "A"

        // Characters, spaces included, as Keras's split="character".
        var chars = new TextVectorizer(split: "character");
        chars.Adapt(["abba c"]);
        Assert.Equal(["", "[UNK]", "b", "a", "c", " "], chars.Vocabulary);
        Assert.Equal(new float[,] { { 4, 3, 2, 5, 1 } }, Rows(chars.Transform(["cab !d"])));   // "!" is stripped, "d" unknown

        // Adapting again replaces the vocabulary.
        chars.Adapt(["zz"]);
        Assert.Equal(["", "[UNK]", "z"], chars.Vocabulary);
    }

    [Fact]
    public void TextVectorizerRefusesBadArguments()
    {
        Assert.Contains("maxTokens must be greater than 1", Assert.Throws<ArgumentOutOfRangeException>(() => new TextVectorizer(maxTokens: 1)).Message);
        Assert.Contains("Received: split=\"words\"", Assert.Throws<ArgumentException>(() => new TextVectorizer(split: "words")).Message);
        Assert.Contains("Received: standardize=\"upper\"", Assert.Throws<ArgumentException>(() => new TextVectorizer(standardize: "upper")).Message);
        var v = new TextVectorizer();
        Assert.Contains("outputSequenceLength=-2", Assert.Throws<ArgumentOutOfRangeException>(() => v.Transform(["a"], -2)).Message);
        Assert.Throws<ArgumentNullException>(() => v.Adapt(["a", null!]));
        // Before Adapt only the padding and [UNK] exist: every token is unknown.
        Assert.Equal(new float[,] { { 1, 1 } }, Rows(v.Transform(["some words"])));
    }

    [Fact]
    public void DigitsReadAsSequencesOfRowsByAReshape()
    {
        var flat = Datasets.Digits.Load();
        Tensor rows = flat.TrainX.Reshape(-1, 28, 28);
        Assert.Equal([Datasets.Digits.TrainCount, 28, 28], rows.Shape);
        // Step t of image i is the image's row t: the same floats as the (N, 28, 28, 1) images, row by row.
        var images = Datasets.Digits.Load(flatten: false).TrainX;
        Assert.Equal(images.ToArray(), rows.ToArray());
        var model = new Cortex.Models.Sequential(new Cortex.Layers.Input([28, 28]), new Cortex.Layers.Conv1D(4, 3),
            new Cortex.Layers.GlobalMaxPooling1D(), new Cortex.Layers.Dense(10));
        Assert.Equal([5, 10], model.Predict(rows.Slice(0, 5)).Shape);
    }
}
