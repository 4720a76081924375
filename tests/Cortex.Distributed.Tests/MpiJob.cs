using System.Diagnostics;

namespace Cortex.Distributed.Tests;

/// <summary>Starts the test worker (tests/Cortex.Distributed.Worker) alone or under Open MPI's mpirun, and reads the
/// weights it writes.</summary>
internal static class MpiJob
{
    /// <summary>mpirun's path, or null when Open MPI is not installed.</summary>
    public static readonly string? Mpirun = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists);

    /// <summary>Why the MPI tests cannot run here, or null.</summary>
    public static string? Missing => Mpirun == null
        ? "Open MPI's mpirun is not installed: apt-get install openmpi-bin (the distributed tests start real MPI jobs)."
        : null;

    private static string Worker
    {
        get
        {
            string path = Path.Combine(AppContext.BaseDirectory, "Cortex.Distributed.Worker.dll");
            Assert.True(File.Exists(path) && File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")), $"the test worker is not built next to the tests: {path}");
            return path;
        }
    }

    /// <summary>The result of one run: exit code, stdout and stderr together, and how long it took.</summary>
    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    /// <summary>Starts the worker with <paramref name="args"/>: alone with <c>--plain</c> when <paramref name="ranks"/> is 0,
    /// otherwise as <paramref name="ranks"/> processes under mpirun (root allowed, more ranks than cores allowed).</summary>
    public static Process Start(int ranks, string args, string workDir)
    {
        var info = ranks == 0
            ? new ProcessStartInfo("dotnet", $"\"{Worker}\" --plain {args}")
            // By name, not by the path found: Open MPI takes an absolute path to mpirun as its install prefix, and
            // /bin/mpirun (merged /usr) would make that "/".
            : new ProcessStartInfo("mpirun", $"--allow-run-as-root --oversubscribe -np {ranks} dotnet \"{Worker}\" {args}");
        info.WorkingDirectory = workDir;
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        info.Environment["TERM"] = "dumb";
        return Process.Start(info)!;
    }

    /// <summary>Runs the worker to its end (at most <paramref name="timeout"/>, then it is killed and the test fails).</summary>
    public static Result Run(int ranks, string args, string workDir, TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        using var process = Start(ranks, args, workDir);
        return Wait(process, watch, timeout ?? TimeSpan.FromMinutes(3));
    }

    /// <summary>Waits for a started worker and collects its output.</summary>
    public static Result Wait(Process process, Stopwatch watch, TimeSpan timeout)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the MPI job did not end within {timeout.TotalSeconds} s");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result + stderr.Result, watch.Elapsed);
    }

    /// <summary>The weights the worker wrote: the tensor count, then each tensor's length and floats.</summary>
    public static float[][] ReadWeights(string path)
    {
        using var file = new BinaryReader(File.OpenRead(path));
        var tensors = new float[file.ReadInt32()][];
        for (int t = 0; t < tensors.Length; t++)
        {
            tensors[t] = new float[file.ReadInt32()];
            for (int i = 0; i < tensors[t].Length; i++) tensors[t][i] = file.ReadSingle();
        }
        return tensors;
    }

    /// <summary>The worst relative error over the weight tensors: ‖a − b‖₂ / ‖b‖₂ per tensor (the relative error of a
    /// tensor; an element-wise ratio blows up for weights near zero), and the largest element difference relative to
    /// its tensor's largest magnitude.</summary>
    public static (double Norm, double Element) RelativeDifference(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double norm = 0, element = 0;
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.Equal(expected[t].Length, actual[t].Length);
            double scale = 0, diff = 0, squares = 0, diffSquares = 0;
            for (int i = 0; i < expected[t].Length; i++)
            {
                double e = expected[t][i], d = Math.Abs(e - actual[t][i]);
                scale = Math.Max(scale, Math.Abs(e));
                diff = Math.Max(diff, d);
                squares += e * e;
                diffSquares += d * d;
            }
            norm = Math.Max(norm, squares == 0 ? Math.Sqrt(diffSquares) : Math.Sqrt(diffSquares / squares));
            element = Math.Max(element, scale == 0 ? diff : diff / scale);
        }
        return (norm, element);
    }
}

/// <summary>A fact that starts MPI jobs: skipped, with how to install Open MPI, where mpirun is missing.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    /// <summary>Skips the test when mpirun is missing.</summary>
    public MpiFactAttribute()
    {
        if (MpiJob.Missing is { } reason) Skip = reason;
    }
}

/// <summary>A theory that starts MPI jobs: skipped, with how to install Open MPI, where mpirun is missing.</summary>
public sealed class MpiTheoryAttribute : TheoryAttribute
{
    /// <summary>Skips the test when mpirun is missing.</summary>
    public MpiTheoryAttribute()
    {
        if (MpiJob.Missing is { } reason) Skip = reason;
    }
}
