using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Cortex.Cli.Tests;

/// <summary>What one run of the command printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Out, string Err)
{
    /// <summary>The lines written to stderr.</summary>
    public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The value printed after <paramref name="label"/>, e.g. <c>Test accuracy: 0.9285</c>.</summary>
    public float Number(string label)
    {
        var m = Regex.Match(Out, Regex.Escape(label) + @"\s*([0-9.eE+-]+)");
        Assert.True(m.Success, $"'{label}' not found in output:\n{Out}");
        return float.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>Runs <c>cortex</c> in-process through <see cref="Cli.Run"/>, or as a real process.</summary>
public static class CliHarness
{
    /// <summary>Runs in-process; Cli.Run points Console.Out (Fit's progress) at the captured stdout.</summary>
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Run(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs <c>dotnet Cortex.Cli.dll</c> from the test's output directory, as a user would.</summary>
    public static CliResult RunProcess(string workingDirectory, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Cortex.Cli.dll");
        Assert.True(File.Exists(dll), $"expected the built command at {dll}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(dll);
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var err = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"cortex {string.Join(' ', args)} did not finish in 5 minutes");
        }
        return new CliResult(process.ExitCode, output, err.Result);
    }

    /// <summary>Asserts a clean failure: exit code 1, one line on stderr that contains each fragment, no stack trace.</summary>
    public static void AssertBadInput(CliResult r, params string[] fragments)
    {
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.True(r.ErrLines.Length == 1, $"expected one line on stderr:\n{r}");
        Assert.StartsWith("cortex: ", r.ErrLines[0]);
        Assert.DoesNotContain("   at ", r.Err);
        foreach (string f in fragments) Assert.Contains(f, r.Err);
    }
}

/// <summary>A temporary directory, deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("cortex-cli-").FullName;

    /// <summary>The full path of <paramref name="name"/> inside the directory.</summary>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="text"/> to <paramref name="name"/> and returns its full path.</summary>
    public string Write(string name, string text)
    {
        File.WriteAllText(this[name], text);
        return this[name];
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Small CSV data sets for fast tests.</summary>
public static class TestData
{
    /// <summary>
    /// Three well-separated classes of roasts, <c>temp,minutes,kind</c>: kind k is near (200 + 50k °C, 10 + 3k min).
    /// The features are on very different scales, so a model learns them only if it standardises.
    /// </summary>
    public static string Blobs(int rows = 300, int seed = 1)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("temp,minutes,kind\n");
        for (int i = 0; i < rows; i++)
        {
            int k = i % 3;
            sb.Append(CultureInfo.InvariantCulture, $"{200 + 50 * k + Noise(rng) * 8:0.00},{10 + 3 * k + Noise(rng) * 0.5:0.00},{k}\n");
        }
        return sb.ToString();
    }

    private static double Noise(Random rng) => rng.NextDouble() * 2 - 1;
}
