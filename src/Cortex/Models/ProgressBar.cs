using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Cortex.Models;

/// <summary>
/// Keras's progress line: <c>250/250 ━━━━━━━━━━━━━━━━━━━━ 1s 2ms/step - accuracy: 0.9120 - loss: 0.3011</c>.
/// verbose 1 redraws it in place on a terminal (at most every 50 ms) and prints it once per epoch when output is
/// redirected; verbose 2 prints one summary line per epoch; 0 prints nothing.
/// </summary>
internal sealed class ProgressBar(int verbose, int steps)
{
    private const int Width = 20;
    private static readonly bool Interactive = !Console.IsOutputRedirected;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private long lastDrawTicks = -1;
    private int current;

    public void Update(int step, Func<Dictionary<string, float>>? logs)
    {
        current = step;
        if (verbose != 1 || !Interactive) return;
        long now = clock.ElapsedMilliseconds;
        if (lastDrawTicks >= 0 && now - lastDrawTicks < 50 && step < steps) return;
        lastDrawTicks = now;
        Console.Write("\r" + Line(logs?.Invoke()) + "\u001b[K");
    }

    public void Finish(Dictionary<string, float>? logs)
    {
        if (verbose == 0) return;
        current = steps;
        if (verbose == 1) Console.Write((Interactive ? "\r" : "") + Line(logs) + (Interactive ? "\u001b[K" : "") + Environment.NewLine);
        else Console.WriteLine($"{steps}/{steps} - {Seconds()} - {PerStep()}{Metrics(logs)}");
    }

    private string Line(Dictionary<string, float>? logs)
    {
        int filled = steps == 0 ? Width : (int)((long)current * Width / steps);
        var sb = new StringBuilder();
        string count = steps.ToString(CultureInfo.InvariantCulture);
        sb.Append(current.ToString(CultureInfo.InvariantCulture).PadLeft(count.Length)).Append('/').Append(count).Append(' ');
        sb.Append('━', filled);
        if (filled < Width) sb.Append(Interactive ? "\u001b[2m" + new string('━', Width - filled) + "\u001b[0m" : new string('━', Width - filled));
        sb.Append(' ').Append(Seconds()).Append(' ').Append(PerStep());
        return sb.Append(Metrics(logs)).ToString();
    }

    private string Seconds() => $"{(int)clock.Elapsed.TotalSeconds}s";

    private string PerStep()
    {
        if (current == 0) return "0ms/step";
        double us = clock.Elapsed.TotalMicroseconds / current;
        return us >= 1000 ? $"{us / 1000:0}ms/step" : $"{us:0}us/step";
    }

    internal static string Metrics(Dictionary<string, float>? logs)
    {
        if (logs == null) return "";
        var sb = new StringBuilder();
        foreach (var kv in logs.OrderBy(k => k.Key, StringComparer.Ordinal))
            sb.Append(" - ").Append(kv.Key).Append(": ").Append(Format(kv.Value));
        return sb.ToString();
    }

    /// <summary>Keras prints 4 decimals, switching to scientific notation for tiny values.</summary>
    internal static string Format(float v) =>
        v != 0 && MathF.Abs(v) < 1e-3f ? v.ToString("0.0000e+00", CultureInfo.InvariantCulture) : v.ToString("0.0000", CultureInfo.InvariantCulture);
}
