namespace Cortex.Cli;

/// <summary>
/// Reads a CSV file of inputs to predict on: a header, then numeric feature columns only, apart from optional
/// columns to skip (labels kept in the file). <see cref="Cortex.Data.Csv.Load"/> needs a label column, which inputs
/// to predict on usually lack, hence this small reader.
/// </summary>
internal static class FeatureCsv
{
    /// <summary>The features, shape (rows, columns), and the names of the columns read.</summary>
    /// <param name="path">The file.</param>
    /// <param name="skipColumns">Columns to leave out (<c>--label</c>).</param>
    /// <param name="checkHeader">Called with the header before any cell is parsed, to refuse a file by its columns.</param>
    public static (Tensor X, string[] Columns) Load(string path, IReadOnlyList<string> skipColumns, Action<string[]>? checkHeader = null)
    {
        var table = CsvTable.Read(path, "--input");
        checkHeader?.Invoke(table.Header);
        int[] skip = table.Columns(skipColumns, "--label");
        int[] features = [.. Enumerable.Range(0, table.Header.Length).Where(j => !skip.Contains(j))];
        if (features.Length == 0) throw new UsageException($"--input '{path}' has no feature columns.");
        return (table.Numbers(features), [.. features.Select(j => table.Header[j])]);
    }
}
