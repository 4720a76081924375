using System.Globalization;

namespace Cortex.Cli;

/// <summary>What <c>cortex train</c> prints after training a regression or a multilabel model on the test rows.</summary>
internal static class TableReport
{
    /// <summary>
    /// A regression: the loss, MAE and RMSE, then each label's MAE beside its standard deviation (the MAE of always
    /// predicting the mean is about 0.8 of it, so that is the scale an MAE is good against). A multilabel model: the
    /// loss, the binary accuracy, the share of rows with every label right, and each label's accuracy.
    /// </summary>
    public static void Write(TextWriter stdout, Target target, IReadOnlyDictionary<string, float> results, Tensor predicted, Tensor actual)
    {
        int n = target.Labels.Length, rows = actual.Shape[0];
        float[] p = predicted.ToArray(), y = actual.ToArray();
        stdout.WriteLine();
        if (target.Task == TaskKind.Regression)
        {
            stdout.WriteLine($"Test loss: {TrainCommand.Format(results["loss"])} (mean squared error)");
            stdout.WriteLine($"Test MAE: {TrainCommand.Format(results["mae"])}");
            stdout.WriteLine($"Test RMSE: {TrainCommand.Format(results["root_mean_squared_error"])}");
            for (int k = 0; k < n; k++)
            {
                double mae = 0, mean = 0, variance = 0;
                for (int i = 0; i < rows; i++) { mae += Math.Abs(p[i * n + k] - y[i * n + k]); mean += y[i * n + k]; }
                mean /= rows;
                for (int i = 0; i < rows; i++) variance += (y[i * n + k] - mean) * (y[i * n + k] - mean);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"'{target.Labels[k]}': MAE {mae / rows:0.0000}; its standard deviation on the test rows is {Math.Sqrt(variance / rows):0.0000}"));
            }
            return;
        }
        int allRight = 0;
        var right = new int[n];
        for (int i = 0; i < rows; i++)
        {
            bool all = true;
            for (int k = 0; k < n; k++)
            {
                bool ok = (p[i * n + k] >= 0.5f ? 1f : 0f) == y[i * n + k];
                if (ok) right[k]++;
                all &= ok;
            }
            if (all) allRight++;
        }
        stdout.WriteLine($"Test loss: {TrainCommand.Format(results["loss"])} (binary cross-entropy)");
        stdout.WriteLine($"Test binary accuracy: {TrainCommand.Format(results["binary_accuracy"])}");
        stdout.WriteLine($"Rows with every label right: {TrainCommand.Format((float)allRight / rows)} ({allRight}/{rows})");
        stdout.WriteLine("Accuracy per label: " + string.Join(", ", target.Labels.Select((l, k) => $"'{l}' {TrainCommand.Format((float)right[k] / rows)}")));
    }
}
