using System.Text;

namespace Cortex.Data;

/// <summary>
/// Turns texts into sequences of word (or character) indices for <see cref="Layers.Embedding"/>, like
/// <c>keras.layers.TextVectorization</c> with <c>output_mode="int"</c>, as a plain utility rather than a layer:
/// <see cref="Adapt"/> learns a vocabulary from texts, <see cref="Transform"/> maps texts to a (N, length) tensor.
/// </summary>
/// <remarks>
/// Each text is standardized (by default lower-cased with ASCII punctuation removed, Keras's
/// <c>"lower_and_strip_punctuation"</c>) and split into tokens (words at whitespace, or single characters). Index 0 is
/// padding (the token <c>""</c>), index 1 is <c>"[UNK]"</c>, for every token outside the vocabulary; the learned tokens
/// follow, most frequent first, ties in descending order of their UTF-8 bytes — Keras's order
/// (<c>np.lexsort((tokens, counts))[::-1]</c> in its <c>IndexLookup</c>).
/// </remarks>
/// <example>
/// <code>
/// var vectorizer = new TextVectorizer(maxTokens: 5000);
/// vectorizer.Adapt(["foo bar", "bar baz", "baz bada boom"]);   // vocabulary: "", [UNK], baz, bar, foo, boom, bada
/// Tensor x = vectorizer.Transform(["foo qux bar", "qux baz"], outputSequenceLength: 4);   // [[4, 1, 3, 0], [1, 2, 0, 0]]
/// var model = new Sequential(new Input([4]), new Embedding(vectorizer.Vocabulary.Count, 8), new GlobalAveragePooling1D(), new Dense(1, "sigmoid"));
/// </code>
/// </example>
public sealed class TextVectorizer
{
    /// <summary>The padding token, at index 0.</summary>
    public const string PaddingToken = "";

    /// <summary>The out-of-vocabulary token, at index 1.</summary>
    public const string UnknownToken = "[UNK]";

    // Python's string.punctuation: what Keras's DEFAULT_STRIP_REGEX removes.
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    private readonly Dictionary<string, int> index = new(StringComparer.Ordinal);
    private List<string> vocabulary = [PaddingToken, UnknownToken];

    /// <summary>Creates a vectorizer with an empty vocabulary (only padding and [UNK]) until <see cref="Adapt"/>.</summary>
    /// <param name="maxTokens">The largest vocabulary, padding and [UNK] included; unlimited when null.</param>
    /// <param name="standardize"><c>"lower_and_strip_punctuation"</c> (default), <c>"lower"</c>,
    /// <c>"strip_punctuation"</c>, or null for none.</param>
    /// <param name="split"><c>"whitespace"</c> (default: words), <c>"character"</c> (every character, spaces included,
    /// is a token), or null (the whole standardized text is one token).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTokens"/> is less than 2.</exception>
    /// <exception cref="ArgumentException"><paramref name="standardize"/> or <paramref name="split"/> is not one of the names above.</exception>
    public TextVectorizer(int? maxTokens = null, string? standardize = "lower_and_strip_punctuation", string? split = "whitespace")
    {
        if (maxTokens < 2)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), $"TextVectorizer: maxTokens must be greater than 1 (it counts the padding and [UNK] tokens). Received: maxTokens={maxTokens}");
        if (standardize is not (null or "lower_and_strip_punctuation" or "lower" or "strip_punctuation"))
            throw new ArgumentException($"TextVectorizer: standardize must be \"lower_and_strip_punctuation\", \"lower\", \"strip_punctuation\" or null. Received: standardize=\"{standardize}\"", nameof(standardize));
        if (split is not (null or "whitespace" or "character"))
            throw new ArgumentException($"TextVectorizer: split must be \"whitespace\", \"character\" or null. Received: split=\"{split}\"", nameof(split));
        MaxTokens = maxTokens;
        Standardize = standardize;
        Split = split;
        Index();
    }

    /// <summary>The largest vocabulary, padding and [UNK] included (null: unlimited).</summary>
    public int? MaxTokens { get; }
    /// <summary>How texts are standardized before splitting (null: not at all).</summary>
    public string? Standardize { get; }
    /// <summary>How texts are split into tokens (null: not at all).</summary>
    public string? Split { get; }

    /// <summary>The tokens by index: <c>""</c> (padding), <c>"[UNK]"</c>, then the learned tokens. Its count is the
    /// <c>inputDim</c> an <see cref="Layers.Embedding"/> needs.</summary>
    public IReadOnlyList<string> Vocabulary => vocabulary;

    /// <summary>Learns the vocabulary from <paramref name="texts"/>, replacing any earlier one: every token, most
    /// frequent first (ties in descending order), at most <see cref="MaxTokens"/> − 2 of them.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="texts"/> or one of them is null.</exception>
    public void Adapt(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string text in texts)
            foreach (string token in Tokens(text))
                if (token is not (PaddingToken or UnknownToken))
                    counts[token] = counts.GetValueOrDefault(token) + 1;
        var learned = counts.Select(p => (Token: p.Key, Bytes: Encoding.UTF8.GetBytes(p.Key), Count: p.Value)).ToList();
        learned.Sort((a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : b.Bytes.AsSpan().SequenceCompareTo(a.Bytes));
        int keep = MaxTokens is int max ? Math.Min(max - 2, learned.Count) : learned.Count;
        vocabulary = [PaddingToken, UnknownToken, .. learned.Take(keep).Select(t => t.Token)];
        Index();
    }

    /// <summary>
    /// The index of every token of every text, one row per text: rows are padded with 0 at the end to
    /// <paramref name="outputSequenceLength"/> (longer ones cut at the end), or to the longest text when null.
    /// Tokens outside the vocabulary are 1 (<c>"[UNK]"</c>).
    /// </summary>
    /// <returns>A tensor (N, length) of whole-number indices.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="texts"/> or one of them is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="outputSequenceLength"/> is negative.</exception>
    public Tensor Transform(IEnumerable<string> texts, int? outputSequenceLength = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (outputSequenceLength < 0)
            throw new ArgumentOutOfRangeException(nameof(outputSequenceLength), $"TextVectorizer: outputSequenceLength must be a non-negative integer or null. Received: outputSequenceLength={outputSequenceLength}");
        var rows = texts.Select(Encode).ToList();
        return Sequences.PadSequences(rows, outputSequenceLength ?? rows.Select(r => r.Length).DefaultIfEmpty(0).Max(), padding: "post", truncating: "post");
    }

    /// <summary>The index of every token of one text, unpadded: what one row of <see cref="Transform"/> holds before padding.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <example><code>int[] ids = vectorizer.Encode("the cat");   // e.g. [2, 7]</code></example>
    public int[] Encode(string text) => [.. Tokens(text).Select(token => index.GetValueOrDefault(token, 1))];

    /// <summary>The tokens of one text, after standardization.</summary>
    private IEnumerable<string> Tokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text, "texts");
        if (Standardize is "lower" or "lower_and_strip_punctuation") text = text.ToLowerInvariant();
        if (Standardize is "strip_punctuation" or "lower_and_strip_punctuation")
            text = string.Concat(text.Where(c => !Punctuation.Contains(c)));
        return Split switch
        {
            "whitespace" => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries),
            "character" => text.EnumerateRunes().Select(r => r.ToString()),
            _ => [text],
        };
    }

    private void Index()
    {
        index.Clear();
        for (int i = 0; i < vocabulary.Count; i++) index[vocabulary[i]] = i;
    }
}
