using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Cortex.Saving;

/// <summary>
/// Writes a file so that a crash never leaves it half-written: the bytes go to a temporary file beside the target
/// (<c>.NAME.PID.GUID.tmp</c>), which is flushed to disk, renamed over the target, and the directory flushed so that
/// the rename itself survives a power cut. A writer killed mid-save leaves its temporary file behind; the next save of
/// the same path removes those whose writer is no longer alive.
/// </summary>
internal static partial class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, atomically and durably.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory of <paramref name="path"/> does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Cannot save to '{path}': the directory '{dir}' does not exist.");
        string name = Path.GetFileName(full);
        RemoveStaleTemps(dir, name);
        string temp = Path.Combine(dir, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        FlushDirectory(dir);
    }

    /// <summary>
    /// Deletes the temporary files of earlier saves of <paramref name="name"/> whose writing process has died. A file
    /// is left alone while its PID names a live process (a concurrent save, or a reused PID: then it waits for a later
    /// save) or while another handle holds it open.
    /// </summary>
    internal static void RemoveStaleTemps(string dir, string name)
    {
        string prefix = $".{name}.";
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(dir, $"{prefix}*.tmp"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (string file in candidates)
        {
            // The rest of the name is "PID.GUID.tmp": anything else is not ours to delete.
            string[] parts = Path.GetFileName(file)[prefix.Length..].Split('.');
            if (parts is not [var pid, var guid, "tmp"] || !int.TryParse(pid, out int id) || !Guid.TryParseExact(guid, "N", out _)) continue;
            if (IsAlive(id)) continue;
            try
            {
                // FileShare.None fails while any other handle has the file open (on Unix .NET takes an advisory lock).
                using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }        // no such process
        catch (InvalidOperationException) { return false; } // it exited while we looked
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or NotSupportedException) { return true; } // cannot tell: keep the file
    }

    /// <summary>
    /// Flushes a directory's entries to disk, so that a rename into it survives a power cut (POSIX makes no such
    /// promise until the directory itself is fsync'ed). Windows has no directory handle to flush and NTFS journals
    /// the rename, so it is skipped there; a file system that refuses to flush a directory is not an error.
    /// Returns whether the directory was flushed.
    /// </summary>
    internal static bool FlushDirectory(string dir)
    {
        if (OperatingSystem.IsWindows()) return false;
        try
        {
            int fd = Open(dir, 0 /* O_RDONLY */);
            if (fd < 0) return false;
            try { return Fsync(fd) == 0; }
            finally { Close(fd); }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; } // a libc by another name: the save stands, less durably
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
