using System.Globalization;
using System.Text.Json;
using Cortex.Models;

namespace Cortex.Cli;

/// <summary>What a table's model learns: one class per row, numbers, or a 0/1 set.</summary>
internal enum TaskKind
{
    /// <summary>One label column of classes: integers 0..K−1, or words mapped to them; softmax cross-entropy.</summary>
    Classification,
    /// <summary>One or more columns of numbers; mean squared error, a linear output per column.</summary>
    Regression,
    /// <summary>One or more columns of 0 or 1; a sigmoid output per column and binary cross-entropy.</summary>
    Multilabel,
}

/// <summary>
/// The label columns of a CSV model and what they hold: the task, the columns' names, and for classes that are words
/// the words by class index (sorted, as Keras's StringLookup and scikit-learn's LabelEncoder order them). It is saved
/// in the model's <see cref="Model.Metadata"/>, so that <c>evaluate</c> and <c>predict</c> read and print the words.
/// </summary>
/// <param name="Task">The task.</param>
/// <param name="Labels">The label columns' names, in the order of the model's outputs.</param>
/// <param name="ClassNames">For classification with a mapping, the text of each class by index; null when the labels are the indices.</param>
/// <param name="Classes">For classification, the number of classes; otherwise the number of label columns.</param>
internal sealed record Target(TaskKind Task, string[] Labels, string[]? ClassNames, int Classes)
{
    public const string TaskKey = "cortex.task", LabelsKey = "cortex.labels", ClassNamesKey = "cortex.class_names";
    public static readonly string[] TaskNames = ["classification", "regression", "multilabel"];

    /// <summary>The units of the model's output layer.</summary>
    public int Outputs => Task == TaskKind.Classification ? Classes : Labels.Length;

    /// <summary>The label columns as <c>--label</c> takes them.</summary>
    public string LabelOption => string.Join(',', Labels);

    /// <summary>The class of index <paramref name="k"/> as printed: its word, or the index.</summary>
    public string ClassName(int k) => ClassNames != null ? ClassNames[k] : k.ToString(CultureInfo.InvariantCulture);

    /// <summary>Writes the target into the model's metadata, to be saved with it.</summary>
    public void SaveTo(Model model)
    {
        model.Metadata[TaskKey] = TaskNames[(int)Task];
        model.Metadata[LabelsKey] = JsonSerializer.Serialize(Labels);
        if (ClassNames != null) model.Metadata[ClassNamesKey] = JsonSerializer.Serialize(ClassNames);
    }

    /// <summary>The target saved with a model, or null for a model without one (built-in data, or saved from code).</summary>
    public static Target? Of(Model model, string modelPath)
    {
        if (!model.Metadata.TryGetValue(TaskKey, out string? task)) return null;
        try
        {
            int kind = Array.IndexOf(TaskNames, task);
            if (kind < 0) throw new JsonException($"unknown task '{task}'");
            string[] labels = JsonSerializer.Deserialize<string[]>(model.Metadata[LabelsKey]) ?? throw new JsonException("no label columns");
            string[]? names = model.Metadata.TryGetValue(ClassNamesKey, out string? n) ? JsonSerializer.Deserialize<string[]>(n) : null;
            int outputs = model.Built && model.OutputShape() is [_, int units] ? units : names?.Length ?? labels.Length;
            return new Target((TaskKind)kind, labels, names, names?.Length ?? (kind == 0 ? outputs : labels.Length));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException)
        {
            throw new UsageException($"the model '{modelPath}' has damaged CLI metadata ('{TaskKey}', '{LabelsKey}', '{ClassNamesKey}'): {e.Message}");
        }
    }

    /// <summary>Splits <c>--label a,b,c</c> into column names.</summary>
    public static string[] SplitLabels(string option) => option.Split(',', StringSplitOptions.TrimEntries);

    /// <summary>
    /// Decides the target of a training table from its label columns and <c>--task</c> (null: inferred), and encodes
    /// the labels: class indices of shape (rows,), or values of shape (rows, columns). <c>Reason</c> is the line that
    /// says which task was chosen and why.
    /// </summary>
    public static (Target Target, Tensor Y, string Reason) Infer(CsvTable table, int[] columns, TaskKind? task)
    {
        string[] names = [.. columns.Select(c => table.Header[c])];
        string quoted = string.Join(", ", names.Select(n => $"'{n}'"));
        if (columns.Length > 1 || task is TaskKind.Multilabel)
        {
            if (task == TaskKind.Classification)
                throw new UsageException($"--task classification takes one --label column; received {columns.Length} ({quoted}). For several 0/1 columns use --task multilabel, for several numbers --task regression.");
            if (task == TaskKind.Regression)
                return (new Target(TaskKind.Regression, names, null, names.Length), table.Numbers(columns, "a number to predict (--task regression)"), $"task: regression (--task regression, labels {quoted})");
            string hint = task == null ? "; pass --task regression to predict several numbers" : "";
            var target = new Target(TaskKind.Multilabel, names, null, names.Length);
            return (target, target.Encode(table, columns, hint), $"task: multilabel (labels {quoted} hold 0 or 1{(task == null ? "" : "; --task multilabel")})");
        }

        int column = columns[0];
        string label = names[0];
        var values = new float[table.Rows.Count];
        int firstNumber = -1, firstWord = -1, firstFraction = -1, firstNegative = -1;
        for (int i = 0; i < values.Length; i++)
        {
            string cell = table.Rows[i][column];
            if (cell.Length == 0) throw new UsageException($"{table.Where(i, column)}: expected a label, found an empty cell.");
            if (!CsvTable.TryNumber(cell, out values[i]))
            {
                if (firstWord < 0) firstWord = i;
                if (task == TaskKind.Regression)
                    throw new UsageException($"{table.Where(i, column)}: expected a number to predict (--task regression), found '{cell}'.");
                continue;
            }
            if (firstNumber < 0) firstNumber = i;
            if (firstFraction < 0 && values[i] != MathF.Floor(values[i])) firstFraction = i;
            if (firstNegative < 0 && (values[i] < 0 || values[i] > 1_000_000)) firstNegative = i;
        }
        if (task == TaskKind.Regression)
            return (new Target(TaskKind.Regression, names, null, 1), Tensor.FromArray(values, values.Length, 1), $"task: regression (--task regression, label '{label}')");

        bool indices = firstWord < 0 && firstFraction < 0 && firstNegative < 0;
        if (task == null && firstWord < 0 && firstFraction >= 0)
        {
            string v = table.Rows[firstFraction][column];
            return (new Target(TaskKind.Regression, names, null, 1), Tensor.FromArray(values, values.Length, 1),
                $"task: regression (label '{label}' has non-integer values, such as {v} on line {table.Lines[firstFraction]}; --task classification treats each value as a class)");
        }
        if (task == null && firstWord < 0 && !indices)
            throw new UsageException($"'{table.Path}' column '{label}': expected class indices 0, 1, 2, … or numbers with fractions, but line {table.Lines[firstNegative]} has {table.Rows[firstNegative][column]}; pass --task classification to treat each value as a class name, or --task regression to predict the number.");
        if (task == null && firstWord >= 0 && firstNumber >= 0)
            throw new UsageException($"'{table.Path}' column '{label}' mixes numbers ('{table.Rows[firstNumber][column]}' on line {table.Lines[firstNumber]}) and words ('{table.Rows[firstWord][column]}' on line {table.Lines[firstWord]}); expected one or the other. Fix the odd cells, or pass --task classification to treat every value as a class name.");

        if (indices)
        {
            int classes = (int)values.Max() + 1;
            if (classes < 2)
                throw new UsageException($"'{table.Path}' column '{label}' holds only class 0; expected at least two classes.");
            // Integers with gaps (ages 18 to 90, prices, ratings 1 to 5) may be classes or a number: the user says which.
            var seen = new bool[classes];
            foreach (float v in values) seen[(int)v] = true;
            int missing = Array.IndexOf(seen, false);
            if (task == null && missing >= 0)
                throw new UsageException($"'{table.Path}' column '{label}': expected class indices 0, 1, 2, … (each of 0 to {classes - 1}) or numbers with fractions, but {missing} never appears; " +
                    $"pass --task classification to use the values as class indices (classes that never appear stay unused), or --task regression to predict the number.");
            string why = task == null ? $"label '{label}' holds the integers 0 to {classes - 1}; --task regression predicts it as a number" : $"--task classification, label '{label}' with classes 0 to {classes - 1}";
            return (new Target(TaskKind.Classification, names, null, classes), Tensor.FromArray(values), $"task: classification ({why})");
        }

        // Words (or, asked for, numbers that are not indices): each distinct text is a class, in a stable order —
        // numerically when all are numbers, otherwise ordinally, as LabelEncoder and StringLookup sort.
        var distinct = table.Rows.Select(r => r[column]).Distinct(StringComparer.Ordinal);
        string[] words = firstWord < 0
            ? [.. distinct.OrderBy(w => float.Parse(w, CultureInfo.InvariantCulture)).ThenBy(w => w, StringComparer.Ordinal)]
            : [.. distinct.Order(StringComparer.Ordinal)];
        if (words.Length < 2)
            throw new UsageException($"'{table.Path}' column '{label}' holds only one class, '{words[0]}'; expected at least two classes.");
        var mapped = new Target(TaskKind.Classification, names, words, words.Length);
        const int Shown = 10;
        string list = string.Join(", ", words.Take(Shown).Select((w, k) => $"{w}={k}")) + (words.Length > Shown ? $", … ({words.Length} in all)" : "");
        return (mapped, mapped.Encode(table, columns, ""), $"task: classification (label '{label}' holds {words.Length} {(firstWord < 0 ? "values" : "words")}: {list})");
    }

    /// <summary>
    /// Encodes the label columns of a table for this target (the saved one, when evaluating): class indices
    /// through the saved words, class indices checked against the model's classes, numbers, or 0/1 values.
    /// </summary>
    public Tensor Encode(CsvTable table, int[] columns, string hint = "")
    {
        if (columns.Length != Labels.Length)
            throw new UsageException($"--label: the model was trained on {Labels.Length} label column(s) ({string.Join(", ", Labels.Select(l => $"'{l}'"))}); received {columns.Length}.");
        switch (Task)
        {
            case TaskKind.Regression:
                return table.Numbers(columns, "a number to predict");
            case TaskKind.Multilabel:
                var y = table.Numbers(columns, "0 or 1 in a multilabel column" + hint);
                ReadOnlySpan<float> v = y.AsSpan();
                for (int i = 0; i < v.Length; i++)
                    if (v[i] is not (0f or 1f))
                        throw new UsageException($"{table.Where(i / columns.Length, columns[i % columns.Length])}: expected 0 or 1 in a multilabel column{hint}, found '{table.Rows[i / columns.Length][columns[i % columns.Length]]}'.");
                return y;
            default:
                int column = columns[0];
                var indices = new float[table.Rows.Count];
                if (ClassNames == null)
                {
                    for (int i = 0; i < indices.Length; i++)
                    {
                        string cell = table.Rows[i][column];
                        if (!CsvTable.TryNumber(cell, out indices[i]) || indices[i] != MathF.Floor(indices[i]) || indices[i] < 0 || indices[i] >= Classes)
                            throw new UsageException($"{table.Where(i, column)}: {(cell.Length == 0 ? "an empty cell" : $"label {cell}")} is not one of the model's classes; expected a class index 0 to {Classes - 1}.");
                    }
                    return Tensor.FromArray(indices);
                }
                var index = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int k = 0; k < ClassNames.Length; k++) index[ClassNames[k]] = k;
                for (int i = 0; i < indices.Length; i++)
                {
                    string cell = table.Rows[i][column];
                    indices[i] = index.TryGetValue(cell, out int k) ? k
                        : throw new UsageException($"{table.Where(i, column)}: {CsvTable.Found(cell)} is not one of the model's classes; expected one of {string.Join(", ", ClassNames.Take(20))}{(ClassNames.Length > 20 ? ", …" : "")}.");
                }
                return Tensor.FromArray(indices);
        }
    }
}
