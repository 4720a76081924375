using System.Globalization;
using CsvHelper;

namespace Cortex.Data;

/// <summary>
/// A table read by <see cref="Csv.Load(string, string, bool, char)"/>: the feature columns as a matrix, the label column as a vector, and the
/// names of the feature columns in order. Deconstructs:
/// <code>
/// var (x, y, names) = Csv.Load("iris.csv", labelColumn: "species", stringLabels: true);
/// </code>
/// </summary>
/// <param name="Features">The feature columns, shape (rows, features), in the file's column order.</param>
/// <param name="Labels">The label column, shape (rows,).</param>
/// <param name="FeatureNames">The header names of the feature columns; <c>FeatureNames[j]</c> names column j of <paramref name="Features"/>.</param>
public sealed record CsvData(Tensor Features, Tensor Labels, IReadOnlyList<string> FeatureNames)
{
    /// <summary>
    /// With <c>stringLabels: true</c>, the label text of each class index: label <c>i</c> stands for
    /// <c>ClassNames[i]</c>, the distinct label values sorted in ordinal (culture-independent) order, as scikit-learn's
    /// <c>LabelEncoder</c> sorts them. Null when the labels were read as numbers.
    /// </summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
}

/// <summary>Reads numeric tables from CSV files (with CsvHelper).</summary>
public static class Csv
{
    /// <summary>
    /// Loads a CSV file whose first line is a header: <paramref name="labelColumn"/> becomes the labels and every other
    /// column a feature. Numbers are read with the invariant culture (<c>1.5</c>, <c>-2e-3</c>); quoted fields and
    /// blank lines are allowed.
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <param name="labelColumn">The header name of the label column (case-sensitive; header names are trimmed of spaces).</param>
    /// <param name="stringLabels">Read labels as class names (e.g. <c>setosa</c>) and map them to indices 0..K−1 in
    /// ordinal order, reported in <see cref="CsvData.ClassNames"/>; when false, labels must be numbers.</param>
    /// <param name="separator">The field separator.</param>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is empty or has no data rows, has no column
    /// <paramref name="labelColumn"/> (the message lists the columns found), has a row with a different number of
    /// fields from the header, or has an empty, non-numeric or non-finite cell (the message gives the line, the
    /// column and the text).</exception>
    public static CsvData Load(string path, string labelColumn, bool stringLabels = false, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(labelColumn);
        if (!File.Exists(path)) throw new FileNotFoundException($"Csv.Load: there is no file '{path}'.", path);
        return Load(options => CsvReader.FromFile(path, options), path, labelColumn, stringLabels, separator);
    }

    /// <summary>Reads CSV from the bytes of a file; <paramref name="path"/> is the name errors give.</summary>
    internal static CsvData Load(byte[] bytes, string path, string labelColumn, bool stringLabels = false, char separator = ',') =>
        Load(options => CsvReader.Create(bytes, options), path, labelColumn, stringLabels, separator);

    private static CsvData Load(Func<CsvReaderOptions, CsvReader> open, string path, string labelColumn, bool stringLabels, char separator)
    {
        var options = CsvReaderOptions.Default with { Separator = separator, HasHeader = true, TrackLineNumbers = true };
        try
        {
            using var reader = open(options);
            // Header names are trimmed, so that "a, b, label" (a space after each comma) names its columns a, b and label.
            string[] header = [.. reader.Headers.Select(h => h.Trim())];
            if (header.Length == 0 || header is [""])
                throw new InvalidDataException($"Csv.Load: '{path}' is empty; expected a header line naming the columns, then one line per sample.");

            int label = Array.IndexOf(header, labelColumn);
            if (label < 0)
            {
                string? near = header.FirstOrDefault(h => string.Equals(h, labelColumn.Trim(), StringComparison.OrdinalIgnoreCase));
                throw new InvalidDataException($"Csv.Load: '{path}' has no column '{labelColumn}' to use as the label. " +
                    $"Columns found ({header.Length}): {Excerpt.Of(string.Join(", ", header.Select(h => $"'{h}'")), 400)}." +
                    (near != null ? $" Did you mean '{Excerpt.Of(near)}'?" : ""));
            }
            if (Array.LastIndexOf(header, labelColumn) != label)
                throw new InvalidDataException($"Csv.Load: '{path}' has more than one column named '{labelColumn}'; expected the label column to be unique.");

            int columns = header.Length, featureCount = columns - 1;
            var features = new List<float>();
            var numericLabels = new List<float>();
            var textLabels = new List<string>();
            while (reader.Read())
            {
                long line = reader.LineNumber;
                if (reader.FieldCount != columns)
                    throw new InvalidDataException($"Csv.Load: '{path}' line {line} has {reader.FieldCount} field(s) but the header has {columns} columns; expected every row to have {columns}.");
                for (int j = 0; j < columns; j++)
                {
                    if (j == label && stringLabels)
                    {
                        string text = reader.GetString(j).Trim();
                        if (text.Length == 0) throw CellError(path, line, header[j], "a class name", "an empty cell");
                        textLabels.Add(text);
                        continue;
                    }
                    float v = ParseCell(reader, j, path, line, header[j], j == label);
                    if (j == label) numericLabels.Add(v);
                    else features.Add(v);
                }
            }
            int rows = stringLabels ? textLabels.Count : numericLabels.Count;
            if (rows == 0)
                throw new InvalidDataException($"Csv.Load: '{path}' has a header ({columns} columns) but no data rows.");

            var x = Tensor.Uninitialized([rows, featureCount]);
            features.CopyTo(x.Span);
            string[] featureNames = [.. header[..label], .. header[(label + 1)..]];
            if (!stringLabels)
            {
                var y = Tensor.Uninitialized([rows]);
                numericLabels.CopyTo(y.Span);
                return new CsvData(x, y, Array.AsReadOnly(featureNames));
            }
            string[] classes = [.. textLabels.Distinct().Order(StringComparer.Ordinal)];
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int k = 0; k < classes.Length; k++) index[classes[k]] = k;
            var yClasses = Tensor.Uninitialized([rows]);
            var ys = yClasses.Span;
            for (int i = 0; i < rows; i++) ys[i] = index[textLabels[i]];
            return new CsvData(x, yClasses, Array.AsReadOnly(featureNames)) { ClassNames = Array.AsReadOnly(classes) };
        }
        catch (CsvFormatException e)
        {
            string where = e.LineNumber > 0 ? $" line {e.LineNumber}" : e.RecordNumber > 0 ? $" record {e.RecordNumber}" : "";
            throw new InvalidDataException($"Csv.Load: '{path}'{where} is not well-formed CSV: {Excerpt.Message(e.Message)}", e);
        }
    }

    private static float ParseCell(CsvReader reader, int j, string path, long line, string column, bool isLabel)
    {
        ReadOnlySpan<byte> cell = reader.Current.GetSpan(j);
        if (float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)) return v;
        string text = reader.GetString(j);
        string quoted = $"'{Excerpt.Of(text)}'";
        string found = text.Trim().Length == 0 ? "an empty cell"
            : float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? $"{quoted} (NaN and infinities are not accepted; clean or impute them first)"
            : isLabel ? $"{quoted} (pass stringLabels: true to map text labels to class indices)"
            : quoted;
        throw CellError(path, line, column, "a finite number", found);
    }

    private static InvalidDataException CellError(string path, long line, string column, string expected, string found) =>
        new($"Csv.Load: '{path}' line {line}, column '{Excerpt.Of(column)}': expected {expected}, found {found}.");
}
