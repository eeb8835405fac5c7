using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace QuantShell.Core.IO;

/// <summary>
/// The temporary files outputs are written into before they are renamed into place: <c>.NAME.quantshell-PID-RANDOM.tmp</c>
/// in the output's folder, so that one left by a killed process says what made it, for which output, and which process.
/// A write into a folder first removes the stale ones of that folder (at most once a minute per folder and process, so
/// a long PowerShell session cleans up too): only this pattern, only files not written for a minute, and only those
/// whose process is gone. The files being written now are registered, so that a process about to end at once (a signal
/// whose default action is to terminate) can remove them first: <see cref="RemoveLive"/>.
/// </summary>
internal static partial class TemporaryFiles
{
    /// <summary>A temporary file untouched for this long, whose process is gone, is left over from a killed run.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(1);

    private const string Marker = ".quantshell-";
    private const int MaxNameBytes = 255;
    // Folder → when this process last cleaned it (UTC ticks).
    private static readonly ConcurrentDictionary<string, long> CleanedFolders = new(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);

    // The temporary files this process is writing now. One lock covers creating a file and registering it, and removing
    // them all: a file is either created and registered before RemoveLive runs, or created after it (and refused once
    // the process is ending).
    private static readonly object LiveLock = new();
    private static readonly HashSet<string> Live = new(StringComparer.Ordinal);
    private static bool _ending;

    /// <summary>
    /// Creates <paramref name="path"/> (exclusively, for writing, unbuffered) and registers it as being written until
    /// <see cref="Forget"/>. Throws <see cref="OperationCanceledException"/> once <see cref="RemoveLive"/> was told the
    /// process is ending.
    /// </summary>
    public static FileStream Create(string path)
    {
        lock (LiveLock)
        {
            if (_ending) throw new OperationCanceledException("The process is ending; no new output is started.");
            var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
            Live.Add(path);
            return stream;
        }
    }

    /// <summary>The file at <paramref name="path"/> is no longer this process's to remove: renamed into place, or deleted.</summary>
    public static void Forget(string path)
    {
        lock (LiveLock) Live.Remove(path);
    }

    /// <summary>
    /// Removes every temporary file this process is writing now; returns how many. The writes go on into files without a
    /// name and fail when they rename them. With <paramref name="processEnding"/> no temporary file is created afterwards
    /// either (<see cref="Create"/> throws), for a process that ends right after this call. Never fails.
    /// </summary>
    public static int RemoveLive(bool processEnding)
    {
        lock (LiveLock)
        {
            _ending |= processEnding;
            int removed = 0;
            foreach (string path in Live)
            {
                try
                {
                    File.Delete(path);
                    removed++;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Nothing more can be done for it: the next run into that folder removes it once stale.
                }
            }
            Live.Clear();
            return removed;
        }
    }

    /// <summary>How many temporary files this process is writing now.</summary>
    public static int LiveCount
    {
        get { lock (LiveLock) return Live.Count; }
    }

    /// <summary>A new temporary file name for <paramref name="outputPath"/>, in the same folder.</summary>
    public static string NewPath(string outputPath)
    {
        string directory = Path.GetDirectoryName(outputPath)!;
        // The name only has to differ from other writers' (the file is created exclusively): Random.Shared does that
        // without loading OpenSSL, which RandomNumberGenerator does on Linux (~10 ms of every run's start-up).
        Span<byte> random = stackalloc byte[6];
        Random.Shared.NextBytes(random);
        string suffix = $"{Marker}{Environment.ProcessId}-{Convert.ToHexStringLower(random)}.tmp";
        // A long output name is shortened so the temporary name stays within the file system's 255 bytes.
        string name = Truncate(Path.GetFileName(outputPath), MaxNameBytes - 1 - Encoding.UTF8.GetByteCount(suffix));
        return Path.Combine(directory, $".{name}{suffix}");
    }

    /// <summary>True when <paramref name="fileName"/> has the temporary files' pattern; <paramref name="processId"/> is its writer.</summary>
    public static bool IsTemporaryName(string fileName, out int processId)
    {
        var match = TemporaryName().Match(fileName);
        processId = match.Success && int.TryParse(match.Groups[1].ValueSpan, out int id) ? id : 0;
        return match.Success && processId > 0;
    }

    /// <summary>Removes the stale temporary files of <paramref name="directory"/>, unless this process did in the last minute; never fails.</summary>
    public static void CleanStaleIfDue(string directory)
    {
        long now = DateTime.UtcNow.Ticks;
        long last = CleanedFolders.GetOrAdd(directory, 0);
        if (now - last < StaleAfter.Ticks || !CleanedFolders.TryUpdate(directory, now, last)) return;
        CleanStale(directory, new DateTime(now, DateTimeKind.Utc) - StaleAfter);
    }

    /// <summary>Removes this folder's temporary files last written before <paramref name="olderThanUtc"/> whose process is gone.</summary>
    internal static int CleanStale(string directory, DateTime olderThanUtc)
    {
        int removed = 0;
        try
        {
            foreach (string path in Directory.EnumerateFiles(directory, $".*{Marker}*.tmp"))
            {
                if (!IsTemporaryName(Path.GetFileName(path), out int processId)) continue;
                try
                {
                    var file = new FileInfo(path);
                    if (file.LinkTarget is not null || file.LastWriteTimeUtc >= olderThanUtc || IsRunning(processId)) continue;
                    file.Delete();
                    removed++;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Another run removed it first, or it is not ours to remove: leave it.
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // An unreadable folder: writing into it will say what is wrong.
        }
        return removed;
    }

    // This process counts as running: its own files are never stale. A reused process id keeps a file, which is harmless.
    private static bool IsRunning(int processId)
    {
        if (processId == Environment.ProcessId) return true;
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{processId}");
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string Truncate(string name, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(name) <= maxBytes) return name;
        var builder = new StringBuilder();
        int bytes = 0;
        foreach (var rune in name.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > maxBytes) break;
            builder.Append(rune.ToString());
            bytes += rune.Utf8SequenceLength;
        }
        return builder.ToString();
    }

    [GeneratedRegex(@"^\..+\.quantshell-([0-9]{1,10})-[0-9a-f]{12}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryName();
}
