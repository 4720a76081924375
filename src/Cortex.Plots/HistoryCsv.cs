using System.Globalization;
using Cortex.Models;

namespace Cortex.Plots;

/// <summary>
/// Reads a training history written by <c>Cortex.Callbacks.CsvLogger</c> (and so by <c>cortex train</c>) back into a
/// <see cref="History"/>: a header <c>epoch,KEY,KEY,…</c> and one row per epoch, the epoch counted from 0 and
/// the values in the invariant culture.
/// </summary>
/// <example>
/// <code>
/// HistoryCsv.Read("digits-history.csv").Plot("training.png");
/// </code>
/// </example>
public static class HistoryCsv
{
    /// <summary>Reads <paramref name="path"/>. An empty cell (a key an epoch did not log) reads as NaN.</summary>
    /// <param name="path">The CSV file.</param>
    /// <param name="separator">The column separator, as given to <c>CsvLogger</c>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not such a history; the message names the line and what was expected.</exception>
    public static History Read(string path, char separator = ',')
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"History file '{path}' not found.", path);
        string[] lines = File.ReadAllLines(path);
        int first = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (first < 0) throw new InvalidDataException($"History file '{path}' is empty; expected a header 'epoch{separator}loss{separator}…' and one row per epoch.");
        string[] header = lines[first].Split(separator).Select(h => h.Trim()).ToArray();
        if (header[0] != "epoch" || header.Length < 2 || header.Skip(1).Any(h => h.Length == 0))
            throw new InvalidDataException($"History file '{path}' line {first + 1}: expected a header 'epoch{separator}loss{separator}…' as the CsvLogger writes it; received '{Excerpt.Of(lines[first])}'.");
        var history = new History();
        for (int i = first + 1; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0) continue;
            string[] cells = lines[i].Split(separator);
            if (cells.Length != header.Length)
                throw new InvalidDataException($"History file '{path}' line {i + 1}: expected {header.Length} values ({string.Join(separator, header)}); received {cells.Length}.");
            if (!int.TryParse(cells[0].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch) || epoch < 0)
                throw new InvalidDataException($"History file '{path}' line {i + 1}: expected an epoch number (0, 1, 2, …) in the first column; received '{Excerpt.Of(cells[0])}'.");
            var logs = new Dictionary<string, float>();
            for (int c = 1; c < header.Length; c++)
            {
                string cell = cells[c].Trim();
                if (cell.Length == 0) logs[header[c]] = float.NaN;
                else if (float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float value)) logs[header[c]] = value;
                else throw new InvalidDataException($"History file '{path}' line {i + 1}: expected a number for '{header[c]}'; received '{Excerpt.Of(cell)}'.");
            }
            history.OnEpochEnd(epoch, logs);
        }
        if (history.Epochs.Count == 0)
            throw new InvalidDataException($"History file '{path}' has a header but no epoch rows.");
        return history;
    }
}
