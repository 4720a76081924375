using Spectre.Console;

namespace Cortex.Cli;

/// <summary>The confusion matrix of a classifier: row = true class, column = predicted class, as a text table.</summary>
internal static class ConfusionMatrix
{
    /// <summary>Beyond this many classes a table is too wide to read, and the CLI says so instead.</summary>
    public const int MaxClasses = 20;

    /// <summary>Counts <c>m[true, predicted]</c>.</summary>
    public static int[,] Count(IReadOnlyList<int> actual, IReadOnlyList<int> predicted, int classes)
    {
        var m = new int[classes, classes];
        for (int i = 0; i < actual.Count; i++) m[actual[i], predicted[i]]++;
        return m;
    }

    /// <summary>Writes the matrix as a table (plain text, no colours), or one line when there are too many classes.</summary>
    public static void Write(TextWriter writer, IReadOnlyList<int> actual, IReadOnlyList<int> predicted, int classes, IReadOnlyList<string>? classNames)
    {
        if (classes > MaxClasses)
        {
            writer.WriteLine($"Confusion matrix: not shown for {classes} classes (at most {MaxClasses}).");
            return;
        }
        int[,] m = Count(actual, predicted, classes);
        writer.WriteLine("Confusion matrix (rows: true class, columns: predicted class):");
        var table = new Table { Border = TableBorder.Rounded };
        table.AddColumn(new TableColumn("true \\ pred"));
        for (int c = 0; c < classes; c++) table.AddColumn(new TableColumn(c.ToString()).RightAligned());
        table.AddColumn(new TableColumn("recall").RightAligned());
        for (int r = 0; r < classes; r++)
        {
            int total = 0;
            for (int c = 0; c < classes; c++) total += m[r, c];
            string name = classNames != null ? $"{r} {classNames[r]}" : r.ToString();
            string recall = total == 0 ? "-" : TrainCommand.Format((float)m[r, r] / total);
            table.AddRow([Markup.Escape(name), .. Enumerable.Range(0, classes).Select(c => m[r, c].ToString()), recall]);
        }

        // Plain text into whatever writer the CLI was given (a pipe, a file, a test's StringWriter); wide enough
        // that 10 classes never wrap.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 200;
        console.Write(table);
    }
}
