using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Cortex.Package.Tests;

/// <summary>
/// A new user's first hour, from the packages alone: a fresh console app outside the repository adds <c>Cortex</c>
/// from a folder feed and trains the digits; a clean folder gets the <c>cortex</c> tool and trains from the command line.
/// </summary>
[Collection(PackageCollection.Name)]
[Trait("Category", "Package")]
public sealed class PackageConsumptionTests(PackageFeed feed, ITestOutputHelper log)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(6);

    [Fact]
    public void FreshConsoleAppTrainsTheDigitsFromThePackage()
    {
        foreach (CommandResult pack in feed.PackResults) log.WriteLine($"{pack.Command}: {pack.Elapsed.TotalSeconds:F1} s (once for both tests)");
        string app = feed.NewFolder("DigitsApp");
        feed.WriteNuGetConfig(app);
        Step(DotNet.Run(app, feed.Packages, CommandTimeout, "new", "console", "--framework", "net10.0", "--no-update-check"));
        Step(DotNet.Run(app, feed.Packages, CommandTimeout, "add", "package", "Cortex", "--version", feed.Version));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "ConsumerApp", "Program.cs"), Path.Combine(app, "Program.cs"), overwrite: true);
        Step(DotNet.Run(app, feed.Packages, CommandTimeout, "build", "-c", "Release"));
        CommandResult run = Step(DotNet.Run(app, feed.Packages, CommandTimeout, "run", "-c", "Release", "--no-build"));
        log.WriteLine(run.Output);

        // The package restored from the feed, under the test's version, not from any cache or the repository.
        string restored = Path.Combine(feed.Packages, "cortex", feed.Version, "lib", "net10.0", "Cortex.dll");
        Assert.True(File.Exists(restored), $"expected Cortex {feed.Version} restored at {restored}");
        Assert.Contains($"Include=\"Cortex\" Version=\"{feed.Version}\"", File.ReadAllText(Path.Combine(app, "DigitsApp.csproj")));

        // The embedded digits, the training loop and the file format work from the package.
        Assert.Equal("8000 2000", Value(run, "train") + " " + Value(run, "test"));
        string[] loss = Value(run, "loss", 2).Split(' ');
        Assert.True(Number(loss[1]) < Number(loss[0]) / 3, $"the loss should fall well over 10 epochs: {loss[0]} → {loss[1]}");
        float accuracy = Number(Value(run, "accuracy"));
        Assert.InRange(accuracy, 0.88f, 1f);
        Assert.Equal("20000", Value(run, "outputs"));
        Assert.Equal("0", Value(run, "differing"));   // the loaded model predicts the same bits
        Assert.True(File.Exists(Path.Combine(app, "digits.cortex")));

        // buildTransitive/Cortex.props reached the app: its runtimeconfig carries the setting and the runtime sees it.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(app, "bin", "Release", "net10.0", "DigitsApp.runtimeconfig.json")))!;
        Assert.Equal(8388608, (long)config["runtimeOptions"]!["configProperties"]!["System.GC.LOHThreshold"]!);
        Assert.False((bool)config["runtimeOptions"]!["configProperties"]!["System.Runtime.TieredPGO"]!);
        Assert.Equal(0, (long)config["runtimeOptions"]!["configProperties"]!["System.Runtime.TieredCompilation.CallCountingDelayMs"]!);
        Assert.Equal("8388608", Value(run, "lohthreshold"));
    }

    [Fact]
    public void ToolInstallsFromTheFeedAndTrainsInACleanFolder()
    {
        string tools = feed.NewFolder("tools");
        string home = feed.NewFolder("tool-install");   // no nuget.config here: only the machine's sources and --add-source
        Step(DotNet.Run(home, feed.Packages, CommandTimeout,
            "tool", "install", "--tool-path", tools, "--add-source", feed.Feed, "Cortex.Cli", "--version", feed.Version));
        string cortex = Path.Combine(tools, OperatingSystem.IsWindows() ? "cortex.exe" : "cortex");
        Assert.True(File.Exists(cortex), $"expected the command at {cortex}");

        string work = feed.NewFolder("clean");
        CommandResult train = Step(DotNet.Exec(cortex, work, feed.Packages, CommandTimeout, "train", "--epochs", "3"));
        Assert.Contains("Epoch 3/3", train.Output);
        float accuracy = Number(Regex.Match(train.Output, @"Test accuracy: ([0-9.]+)").Groups[1].Value);
        Assert.InRange(accuracy, 0.80f, 1f);
        Assert.True(File.Exists(Path.Combine(work, "digits.cortex")), train.ToString());
        string[] history = File.ReadAllLines(Path.Combine(work, "digits-history.csv"));
        Assert.Equal(4, history.Length);   // a header and one line per epoch

        // The tool carries the runtime settings the repository's executables get.
        string runtimeConfig = Directory.GetFiles(Path.Combine(tools, ".store"), "Cortex.Cli.runtimeconfig.json", SearchOption.AllDirectories).Single();
        var config = JsonNode.Parse(File.ReadAllText(runtimeConfig))!;
        Assert.Equal(8388608, (long)config["runtimeOptions"]!["configProperties"]!["System.GC.LOHThreshold"]!);
        Assert.False((bool)config["runtimeOptions"]!["configProperties"]!["System.Runtime.TieredPGO"]!);
        Assert.Equal(0, (long)config["runtimeOptions"]!["configProperties"]!["System.Runtime.TieredCompilation.CallCountingDelayMs"]!);
    }

    private CommandResult Step(CommandResult result)
    {
        log.WriteLine($"{result.Command}: exit {result.ExitCode}, {result.Elapsed.TotalSeconds:F1} s");
        return result.Succeeded();
    }

    /// <summary>The rest of the line the program printed after <paramref name="name"/> (its first word, or
    /// <paramref name="words"/> words).</summary>
    private static string Value(CommandResult result, string name, int words = 1)
    {
        Match m = Regex.Match(result.Output, $@"(?:^|\s){Regex.Escape(name)} (\S+(?: \S+){{{words - 1}}})", RegexOptions.Multiline);
        Assert.True(m.Success, $"'{name}' not printed:\n{result}");
        return m.Groups[1].Value;
    }

    private static float Number(string text) => float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
}
