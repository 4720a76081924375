namespace Cortex.Data;

/// <summary>
/// Sequence utilities, as <c>keras.utils</c>: <see cref="PadSequences"/> turns lists of word or character indices of
/// different lengths into one (N, maxLen) tensor for <see cref="Layers.Embedding"/>. (For text, see
/// <see cref="TextVectorizer"/>; for images read row by row, reshape (N, 784) digits to (N, 28, 28): 28 steps of 28
/// features.)
/// </summary>
/// <example>
/// <code>
/// Tensor x = Sequences.PadSequences([[1], [2, 3], [4, 5, 6]]);   // [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
/// </code>
/// </example>
public static class Sequences
{
    /// <summary>
    /// Pads (or truncates) each sequence to the same length, as <c>keras.utils.pad_sequences</c>: shorter sequences
    /// are filled with <paramref name="value"/>, longer ones lose values, at the start (<c>"pre"</c>, the default) or
    /// the end (<c>"post"</c>). An empty sequence becomes a row of <paramref name="value"/>.
    /// </summary>
    /// <param name="sequences">The sequences, one per row of the result.</param>
    /// <param name="maxLen">The length of every row; the longest sequence's length when null.</param>
    /// <param name="padding"><c>"pre"</c> (pad before each sequence) or <c>"post"</c> (after).</param>
    /// <param name="truncating"><c>"pre"</c> (drop the first values of a longer sequence) or <c>"post"</c> (the last).</param>
    /// <param name="value">The padding value. (Keras's default dtype int32 would cast it to an integer; Cortex
    /// stores it as given.)</param>
    /// <returns>A tensor (N, maxLen).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sequences"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="padding"/> or <paramref name="truncating"/> is neither
    /// "pre" nor "post".</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLen"/> is negative.</exception>
    public static Tensor PadSequences(IEnumerable<int[]> sequences, int? maxLen = null, string padding = "pre",
        string truncating = "pre", float value = 0)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (padding is not ("pre" or "post"))
            throw new ArgumentException($"Sequences.PadSequences: padding must be \"pre\" or \"post\". Received: padding=\"{padding}\"", nameof(padding));
        if (truncating is not ("pre" or "post"))
            throw new ArgumentException($"Sequences.PadSequences: truncating must be \"pre\" or \"post\". Received: truncating=\"{truncating}\"", nameof(truncating));
        if (maxLen < 0)
            throw new ArgumentOutOfRangeException(nameof(maxLen), $"Sequences.PadSequences: maxLen must be a non-negative integer or null. Received: maxLen={maxLen}");
        var rows = sequences.ToList();
        for (int i = 0; i < rows.Count; i++)
            if (rows[i] == null) throw new ArgumentNullException(nameof(sequences), $"Sequences.PadSequences: sequence {i} is null.");
        int length = maxLen ?? rows.Select(s => s.Length).DefaultIfEmpty(0).Max();
        var data = new float[rows.Count * length];
        Array.Fill(data, value);
        for (int i = 0; i < rows.Count; i++)
        {
            int[] s = rows[i];
            int kept = Math.Min(s.Length, length);
            ReadOnlySpan<int> source = truncating == "pre" ? s.AsSpan(s.Length - kept) : s.AsSpan(0, kept);
            Span<float> row = data.AsSpan(i * length, length);
            Span<float> target = padding == "pre" ? row[(length - kept)..] : row[..kept];
            for (int t = 0; t < kept; t++) target[t] = source[t];
        }
        return new Tensor(data, [rows.Count, length]);
    }

    /// <summary>
    /// Next-token training pairs for a language model: for every position t ≥ 1 of every sequence, the up to
    /// <paramref name="window"/> tokens before it (padded with 0 at the start, as <see cref="PadSequences"/>'s "pre") and
    /// the token at t. A sequence of length L gives L − 1 pairs, in order.
    /// </summary>
    /// <param name="sequences">Token indices, each sequence whole (start and end markers included, if used).</param>
    /// <param name="window">How many tokens of context each pair keeps.</param>
    /// <returns>X (pairs, window) of context indices and Y (pairs) of next-token indices.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sequences"/> or one of them is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is not positive.</exception>
    /// <example><code>var (x, y) = Sequences.NextTokenWindows([[5, 1, 2, 6]], window: 2);   // x: [0 5] [5 1] [1 2], y: [1 2 6]</code></example>
    public static (Tensor X, Tensor Y) NextTokenWindows(IEnumerable<int[]> sequences, int window)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (window <= 0)
            throw new ArgumentOutOfRangeException(nameof(window), $"Sequences.NextTokenWindows: window must be a positive integer. Received: window={window}");
        var x = new List<float>();
        var y = new List<float>();
        foreach (var s in sequences)
        {
            ArgumentNullException.ThrowIfNull(s, nameof(sequences));
            for (int t = 1; t < s.Length; t++)
            {
                for (int k = t - window; k < t; k++) x.Add(k < 0 ? 0 : s[k]);
                y.Add(s[t]);
            }
        }
        return (Tensor.FromArray([.. x], [y.Count, window]), Tensor.FromArray([.. y]));
    }
}
