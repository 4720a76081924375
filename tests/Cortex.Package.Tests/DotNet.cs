using System.Diagnostics;
using System.Text;

namespace Cortex.Package.Tests;

/// <summary>What one command printed (stdout and stderr together, as a person sees them) and returned.</summary>
public sealed record CommandResult(string Command, int ExitCode, string Output, TimeSpan Elapsed)
{
    public override string ToString() => $"{Command}\nexit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n{Output}";
}

/// <summary>
/// Runs <c>dotnet</c> and the installed tool as a user would, in a given directory, with an environment that keeps
/// every package these tests restore out of the machine's NuGet cache and leaves no build server running after them.
/// </summary>
public static class DotNet
{
    /// <summary>The dotnet host that runs these tests, so the same SDK packs, builds and installs.</summary>
    public static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <c>dotnet ARGS</c> in <paramref name="directory"/> and fails the test past <paramref name="timeout"/>.</summary>
    public static CommandResult Run(string directory, string packagesFolder, TimeSpan timeout, params string[] args) =>
        Exec(Host, directory, packagesFolder, timeout, args);

    /// <summary>Runs an executable (an installed tool) in <paramref name="directory"/>.</summary>
    public static CommandResult Exec(string file, string directory, string packagesFolder, TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in args) start.ArgumentList.Add(a);

        // `dotnet test` hands its test hosts MSBuild's location and settings; a build started from a test must find
        // its own, as one started from a terminal does.
        foreach (string name in start.Environment.Keys.ToArray())
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
                start.Environment.Remove(name);
        // Restored and installed packages go to this test's own folder, so a test version never lands in (or is read
        // from) the machine's cache; the machine's cache serves the other packages as a fallback folder (nuget.config).
        start.Environment["NUGET_PACKAGES"] = packagesFolder;
        // No MSBuild node or compiler server outlives the command: one would hold the output pipes open.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["UseSharedCompilation"] = "false";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        string command = Path.GetFileName(file) + " " + string.Join(' ', args);
        var output = new StringBuilder();
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{command} did not finish in {timeout.TotalSeconds:F0} s; it printed:\n{output}");
        }
        process.WaitForExit();   // the rest of the output
        lock (output) return new CommandResult(command, process.ExitCode, output.ToString(), watch.Elapsed);
    }

    /// <summary>Asserts exit code 0, showing the command's output otherwise.</summary>
    public static CommandResult Succeeded(this CommandResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }
}
