using System.Globalization;

namespace Cortex.Package.Tests;

/// <summary>
/// Packs <c>Cortex</c> (the library) and <c>Cortex.Cli</c> (the <c>cortex</c> tool) from this checkout into a folder
/// feed, once for the collection, under a version no earlier run used (<c>0.0.0-test.TICKS</c>), so that no cache
/// anywhere can serve an older build under the same number. The build goes to its own artifacts folder: the
/// checkout's bin/ and obj/ are left as the solution's build made them.
/// </summary>
public sealed class PackageFeed : IDisposable
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(10);   // a bound for a hung build; packing takes 1–2 minutes on two busy cores

    /// <summary>The version of the packages in <see cref="Feed"/>.</summary>
    public string Version { get; } = "0.0.0-test." + DateTime.UtcNow.Ticks.ToString(CultureInfo.InvariantCulture);

    /// <summary>A temporary folder outside the repository, holding everything below; deleted on dispose.</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("cortex-package-").FullName;

    /// <summary>The folder feed with the packed .nupkg and .snupkg files.</summary>
    public string Feed => Path.Combine(Root, "feed");

    /// <summary>The NuGet packages folder for every restore and install of these tests.</summary>
    public string Packages => Path.Combine(Root, "packages");

    /// <summary>The repository being packed.</summary>
    public string Repository { get; } = FindRepository();

    /// <summary>What the two pack commands printed.</summary>
    public List<CommandResult> PackResults { get; } = [];

    public PackageFeed()
    {
        Directory.CreateDirectory(Feed);
        Directory.CreateDirectory(Packages);
        string artifacts = Path.Combine(Root, "artifacts");
        foreach (string project in new[] { "src/Cortex/Cortex.csproj", "src/Cortex.Cli/Cortex.Cli.csproj" })
            PackResults.Add(DotNet.Run(Repository, Packages, PackTimeout,
                "pack", project, "-c", "Release", "-o", Feed, "--artifacts-path", artifacts, "-p:Version=" + Version).Succeeded());
    }

    /// <summary>Writes a nuget.config into <paramref name="directory"/> that adds the feed to the machine's package
    /// sources and lets restores take what the machine's NuGet cache already holds.</summary>
    public void WriteNuGetConfig(string directory)
    {
        string machineCache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="cortex-test-feed" value="{Feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine-cache" value="{machineCache}" />
              </fallbackPackageFolders>
            </configuration>
            """);
    }

    /// <summary>A new empty folder under <see cref="Root"/>.</summary>
    public string NewFolder(string name) => Directory.CreateDirectory(Path.Combine(Root, name)).FullName;

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }   // a temp folder left behind is no failure
        catch (UnauthorizedAccessException) { }
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cortex.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"No Cortex.slnx above {AppContext.BaseDirectory}: the package tests pack the repository they were built in.");
    }
}

/// <summary>The package tests: they share one feed and run one at a time (each builds and restores on its own).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackageCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "packages";
}
