using System.Globalization;
using System.Text;

namespace Cortex.Cli;

/// <summary>
/// A CSV file read as text: the header, then each data row's fields with its line number. The CLI decides what a
/// column is (a feature, a class label, a number to predict, a 0/1 label) only after seeing all of it, so cells stay
/// text until then, and every error can name the file, the line, the column, and what was expected and found.
/// </summary>
internal sealed class CsvTable
{
    private CsvTable(string path, string[] header, List<string[]> rows, List<int> lines)
    {
        Path = path;
        Header = header;
        Rows = rows;
        Lines = lines;
    }

    /// <summary>The file, as the user named it.</summary>
    public string Path { get; }
    /// <summary>The column names, trimmed.</summary>
    public string[] Header { get; }
    /// <summary>The data rows' fields (as many as the header has), trimmed.</summary>
    public IReadOnlyList<string[]> Rows { get; }
    /// <summary>The line of the file each data row was read from, from 1.</summary>
    public IReadOnlyList<int> Lines { get; }

    /// <summary>Reads <paramref name="path"/>; <paramref name="option"/> (<c>--data</c>, <c>--input</c>) names it in errors.</summary>
    public static CsvTable Read(string path, string option)
    {
        if (!File.Exists(path)) throw new UsageException($"{option}: there is no file '{path}'.");
        using var lines = File.ReadLines(path).GetEnumerator();
        int lineNumber = 0;
        string[]? header = null;
        while (header == null && lines.MoveNext())
        {
            lineNumber++;
            if (lines.Current.Trim().Length > 0) header = Split(lines.Current, path, lineNumber);
        }
        if (header == null) throw new UsageException($"{option} '{path}' is empty; expected a header line naming the columns, then one line per sample.");
        var rows = new List<string[]>();
        var numbers = new List<int>();
        while (lines.MoveNext())
        {
            lineNumber++;
            if (lines.Current.Trim().Length == 0) continue;
            string[] fields = Split(lines.Current, path, lineNumber);
            if (fields.Length != header.Length)
                throw new UsageException($"'{path}' line {lineNumber} has {fields.Length} field(s) but the header has {header.Length} columns; expected every row to have {header.Length}.");
            rows.Add(fields);
            numbers.Add(lineNumber);
        }
        if (rows.Count == 0) throw new UsageException($"{option} '{path}' has a header but no data rows.");
        return new CsvTable(path, header, rows, numbers);
    }

    /// <summary>The index of each column in <paramref name="names"/>, or an error that lists the columns found.</summary>
    public int[] Columns(IReadOnlyList<string> names, string option)
    {
        var indices = new int[names.Count];
        for (int k = 0; k < names.Count; k++)
        {
            indices[k] = Array.IndexOf(Header, names[k]);
            if (indices[k] < 0)
            {
                string? near = Header.FirstOrDefault(h => string.Equals(h, names[k], StringComparison.OrdinalIgnoreCase));
                throw new UsageException($"{option}: '{Path}' has no column '{names[k]}'. Columns found: {string.Join(", ", Header.Select(h => $"'{h}'"))}." +
                    (near != null ? $" Did you mean '{near}'?" : ""));
            }
            if (Array.LastIndexOf(Header, names[k]) != indices[k])
                throw new UsageException($"{option}: '{Path}' has more than one column named '{names[k]}'; expected it to be unique.");
        }
        return indices;
    }

    /// <summary>The cell's text and where it is, as errors name it: <c>'f.csv' line 3, column 'x'</c>.</summary>
    public string Where(int row, int column) => $"'{Path}' line {Lines[row]}, column '{Header[column]}'";

    /// <summary>A cell as quoted in an error: <c>'abc'</c>, or "an empty cell".</summary>
    public static string Found(string cell) => cell.Length == 0 ? "an empty cell" : $"'{cell}'";

    /// <summary>Parses a cell as a finite number (invariant culture), or returns false.</summary>
    public static bool TryNumber(string cell, out float value) =>
        float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && float.IsFinite(value);

    /// <summary>The given columns as numbers, shape (rows, columns); a cell that is not a finite number is an error.</summary>
    public Tensor Numbers(IReadOnlyList<int> columns, string expected = "a finite number")
    {
        var values = new float[Rows.Count * columns.Count];
        for (int i = 0; i < Rows.Count; i++)
            for (int k = 0; k < columns.Count; k++)
            {
                string cell = Rows[i][columns[k]];
                if (!TryNumber(cell, out values[i * columns.Count + k]))
                    throw new UsageException($"{Where(i, columns[k])}: expected {expected}, found {Found(cell)}.");
            }
        return Tensor.FromArray(values, Rows.Count, columns.Count);
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

    /// <summary>A field as CSV writes it: quoted when it holds a comma, a quote or a line break.</summary>
    public static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
