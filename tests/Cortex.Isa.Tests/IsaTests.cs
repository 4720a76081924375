using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using System.Text.RegularExpressions;

namespace Cortex.Isa.Tests;

/// <summary>
/// The kernel and model tests at every vector width one x64 machine can show. The JIT picks its instruction set once,
/// at start-up, from the environment, so each width needs a process of its own: each case here starts the already
/// built Cortex.Tests.dll again (<c>dotnet test</c> on the assembly, no build) with the setting made, and passes when
/// the child's tests all pass and there were some. The child runs <c>VectorWidthTests</c> too, which fails when the
/// setting did not narrow the GEMM kernel (as <c>DOTNET_EnableAVX512F=0</c>, the pre-.NET 8 name, silently does not).
/// The native width is what the plain run of Cortex.Tests covers.
/// </summary>
public class IsaTests
{
    /// <summary>
    /// What the child runs: the GEMM, activation and element-wise kernels against their references; the worker pool and
    /// bit-identity across core counts (<c>Kernels</c>, which also holds <c>VectorWidthTests</c>); optimizer update rules,
    /// losses and the training options (<c>Training</c>); the fused step against the tape, steady-state allocation and
    /// convergence (<c>Models</c>, <c>FunctionalApi</c>); convolutions and pooling (<c>Conv</c>); layers against PyTorch
    /// (<c>LayerTests</c>); recurrent, Conv1D and embedding stages (<c>Sequence</c>). Left out: the three multi-epoch
    /// Fashion-MNIST accuracy runs (minutes each at 128 bits; the reference and bit-identity tests cover the same
    /// stages). About 40 s (256-bit) and 60–95 s (128-bit) on the shared 2-core development VM.
    /// </summary>
    private const string Filter =
        "(FullyQualifiedName~Cortex.Tests.GemmTests." +
        "|FullyQualifiedName~Cortex.Tests.ActivationTests." +
        "|FullyQualifiedName~Cortex.Tests.OpReferenceTests." +
        "|FullyQualifiedName~Cortex.Tests.Kernels." +
        "|FullyQualifiedName~Cortex.Tests.Training." +
        "|FullyQualifiedName~Cortex.Tests.Models." +
        "|FullyQualifiedName~Cortex.Tests.FunctionalApi." +
        "|FullyQualifiedName~Cortex.Tests.Conv." +
        "|FullyQualifiedName~Cortex.Tests.LayerTests." +
        "|FullyQualifiedName~Cortex.Tests.Sequence.)" +
        "&FullyQualifiedName!~CnnReachesNinetyPercentOnFashionMnist" +
        "&FullyQualifiedName!~SequentialFashionTests" +
        "&FullyQualifiedName!~ResidualFashionTests";

    /// <summary>The runtime settings that narrow the JIT's vectors; each child gets exactly one of them.</summary>
    private static readonly string[] IsaSettings =
        ["DOTNET_EnableAVX512", "DOTNET_EnableAVX512F", "DOTNET_EnableAVX2", "DOTNET_EnableAVX", "DOTNET_PreferredVectorBitWidth"];

    public static TheoryData<string, string> Settings => new()
    {
        { "DOTNET_EnableAVX512=0", "256-bit (AVX2 + FMA)" },
        { "DOTNET_EnableAVX2=0", "128-bit (SSE4.2; this also turns FMA off)" },
        { "DOTNET_PreferredVectorBitWidth=128", "128-bit with FMA (the fused loops ARM64's AdvSimd runs)" },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void KernelAndModelTestsPassWithTheJitNarrowed(string setting, string width)
    {
        // The settings are x64's; on ARM64 the one (128-bit AdvSimd) path is what the plain run already tested.
        if (!X86Base.IsSupported) return;

        // The FMA case needs a CPU with FMA (every x64 with AVX2); without it, it would repeat the DOTNET_EnableAVX2=0 run.
        if (setting.StartsWith("DOTNET_PreferredVectorBitWidth", StringComparison.Ordinal) && !Fma.IsSupported) return;

        string output = RunCortexTests(setting, TimeSpan.FromMinutes(10), out int exitCode);
        string tail = output.Length > 8000 ? output[^8000..] : output;
        Assert.True(exitCode == 0, $"Cortex.Tests with {setting} ({width}) exited {exitCode}:\n{tail}");
        // The console logger's closing summary at normal verbosity: "Test Run Successful." / "Total tests: N" / "Passed: N".
        Assert.True(output.Contains("Test Run Successful."), $"Cortex.Tests with {setting} did not report success:\n{tail}");
        var passed = Regex.Match(output, @"^\s*Passed:\s+(\d+)\s*$", RegexOptions.Multiline);
        Assert.True(passed.Success, $"Cortex.Tests with {setting} printed no count of passed tests:\n{tail}");
        Assert.True(int.Parse(passed.Groups[1].Value) > 100,
            $"Cortex.Tests with {setting} ran only {passed.Groups[1].Value} tests; the filter matched too few:\n{tail}");
        // The proof that the setting took effect: the child checked its own GEMM kernel against it.
        Assert.Contains("Passed Cortex.Tests.Kernels.VectorWidthTests.GemmRunsTheWidestKernelTheIsaSettingAllows", output);
    }

    /// <summary>
    /// Runs the built Cortex.Tests.dll with <paramref name="setting"/> (NAME=VALUE) and returns its console output. Its results
    /// go to a fresh temporary folder, so nothing it writes meets the outer run's files.
    /// </summary>
    private static string RunCortexTests(string setting, TimeSpan limit, out int exitCode)
    {
        // This assembly is at tests/Cortex.Isa.Tests/bin/<configuration>/<framework>/; Cortex.Tests is built beside it
        // (the project reference above orders the build).
        var here = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        string dll = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.FullName, "Cortex.Tests", "bin", here.Parent.Name, here.Name, "Cortex.Tests.dll");
        Assert.True(File.Exists(dll), $"expected the built tests at {dll}");
        string results = Directory.CreateTempSubdirectory("cortex-isa-").FullName;
        try
        {
            var start = new ProcessStartInfo(DotnetHost())
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string argument in new[] { "test", dll, "--filter", Filter, "--results-directory", results,
                         "--logger", "console;verbosity=normal", "--nologo" })
                start.ArgumentList.Add(argument);
            foreach (string name in IsaSettings) start.Environment.Remove(name);
            start.Environment[setting[..setting.IndexOf('=')]] = setting[(setting.IndexOf('=') + 1)..];
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(limit))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"Cortex.Tests with {setting} did not finish in {limit.TotalMinutes} minutes");
            }
            exitCode = process.ExitCode;
            return stdout.Result + stderr.Result;
        }
        finally
        {
            Directory.Delete(results, recursive: true);
        }
    }

    /// <summary>The dotnet host running these tests (testhost runs under it), else the one on the PATH.</summary>
    private static string DotnetHost()
    {
        string? path = Environment.ProcessPath;
        return path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
    }
}
