using System.Globalization;
using System.Text;

namespace Cortex.Cli;

/// <summary>
/// Reads a CSV file of inputs to predict on: a header, then numeric feature columns only, apart from one optional
/// column to skip (a label kept in the file). <see cref="Cortex.Data.Csv.Load"/> needs a label column, which inputs
/// to predict on usually lack, hence this small reader.
/// </summary>
internal static class FeatureCsv
{
    /// <summary>The features, shape (rows, columns), and the names of the columns read.</summary>
    public static (Tensor X, string[] Columns) Load(string path, string? skipColumn)
    {
        if (!File.Exists(path)) throw new UsageException($"--input: there is no file '{path}'.");
        using var lines = File.ReadLines(path).GetEnumerator();
        int lineNumber = 0;
        string[]? header = null;
        while (header == null && lines.MoveNext())
        {
            lineNumber++;
            if (lines.Current.Trim().Length > 0) header = Split(lines.Current, path, lineNumber);
        }
        if (header == null) throw new UsageException($"--input '{path}' is empty; expected a header line naming the columns, then one line per sample.");

        int skip = -1;
        if (skipColumn != null)
        {
            skip = Array.IndexOf(header, skipColumn);
            if (skip < 0)
                throw new UsageException($"--label: '{path}' has no column '{skipColumn}'. Columns found: {string.Join(", ", header.Select(h => $"'{h}'"))}.");
        }
        string[] columns = [.. header.Where((_, j) => j != skip)];
        if (columns.Length == 0) throw new UsageException($"--input '{path}' has no feature columns.");

        var values = new List<float>();
        int rows = 0;
        while (lines.MoveNext())
        {
            lineNumber++;
            if (lines.Current.Trim().Length == 0) continue;
            string[] fields = Split(lines.Current, path, lineNumber);
            if (fields.Length != header.Length)
                throw new UsageException($"'{path}' line {lineNumber} has {fields.Length} field(s) but the header has {header.Length} columns; expected every row to have {header.Length}.");
            for (int j = 0; j < fields.Length; j++)
            {
                if (j == skip) continue;
                if (!float.TryParse(fields[j], NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
                    throw new UsageException($"'{path}' line {lineNumber}, column '{header[j]}': expected a finite number, found {(fields[j].Trim().Length == 0 ? "an empty cell" : $"'{fields[j]}'")}.");
                values.Add(v);
            }
            rows++;
        }
        if (rows == 0) throw new UsageException($"--input '{path}' has a header but no data rows.");
        return (Tensor.FromArray([.. values], rows, columns.Length), columns);
    }

    // RFC 4180 fields: commas separate, double quotes enclose a field that holds commas, "" is a literal quote.
    private static string[] Split(string line, string path, int lineNumber)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch != '"') field.Append(ch);
                else if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { fields.Add(field.ToString().Trim()); field.Clear(); }
            else field.Append(ch);
        }
        if (quoted) throw new UsageException($"'{path}' line {lineNumber} has a quote that is never closed.");
        fields.Add(field.ToString().Trim());
        return [.. fields];
    }
}
