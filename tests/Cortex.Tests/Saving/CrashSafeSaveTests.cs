using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Data;

namespace Cortex.Tests.Saving;

/// <summary>
/// A save killed mid-write leaves its temporary file behind; the next save of the same path removes it, but never the
/// temporary file of a writer that is still alive.
/// </summary>
public class CrashSafeSaveTests
{
    // Linux's pid_max is at most 2^22 and Windows' PIDs are multiples of 4, so no live process has this id.
    private const int DeadPid = 2_147_483_646;

    private static Sequential Built()
    {
        var m = new Sequential(new Dense(2));
        m.Build([-1, 3]);
        return m;
    }

    [Fact]
    public void AStaleTempFileOfADeadWriterIsRemovedByTheNextSave()
    {
        using var dir = new TempDir();
        string path = dir.File("model.cortex");
        string stale = dir.Write($".model.cortex.{DeadPid}.{Guid.NewGuid():N}.tmp", new byte[4096]);
        string otherModel = dir.Write($".other.cortex.{DeadPid}.{Guid.NewGuid():N}.tmp", new byte[16]);
        Built().Save(path);
        Assert.False(File.Exists(stale), "the dead writer's temporary file is still there");
        Assert.True(File.Exists(otherModel), "a temporary file of another path was removed");
        Assert.NotNull(Model.Load(path));
    }

    [Fact]
    public void ALiveWritersTempFileIsKept()
    {
        using var dir = new TempDir();
        string path = dir.File("model.cortex");
        // This process is alive: its temporary files belong to a save in progress, held open or not.
        string open = dir.Write($".model.cortex.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp", new byte[16]);
        string closed = dir.Write($".model.cortex.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp", new byte[16]);
        using (new FileStream(open, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
            Built().Save(path);
        Assert.True(File.Exists(open));
        Assert.True(File.Exists(closed));
        Assert.Equal(2, Directory.GetFiles(dir.Path, ".model.cortex.*.tmp").Length);
    }

    [Fact]
    public void TheDirectoryIsFlushedAfterTheRename()
    {
        using var dir = new TempDir();
        // libc's open and fsync are reached and succeed on a directory; Windows has no directory to flush.
        Assert.Equal(!OperatingSystem.IsWindows(), Cortex.Saving.AtomicFile.FlushDirectory(dir.Path));
    }
}
