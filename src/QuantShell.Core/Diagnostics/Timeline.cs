using System.Diagnostics;
using System.Globalization;

namespace QuantShell.Core.Diagnostics;

/// <summary>
/// Where the time of a run goes, for the benchmarks: marks (one moment each, in order) and phases (summed over
/// chunks and threads), printed by a face at exit. Enabled by the environment variable <c>QUANTSHELL_TIMELINE</c>: any
/// value turns it on; a launch time in nanoseconds since the Unix epoch (<c>QUANTSHELL_TIMELINE=$(date +%s%N)</c>) also
/// gives the start-up, from that moment to the first mark. Off, every call is one test of a static field.
/// </summary>
public static class Timeline
{
    /// <summary>The environment variable that turns the timeline on.</summary>
    public const string Variable = "QUANTSHELL_TIMELINE";

    private static readonly long[] Ticks = new long[Enum.GetValues<TimelinePhase>().Length];
    private static readonly long[] Calls = new long[Ticks.Length];
    private static readonly long[] Bytes = new long[Ticks.Length];
    private static readonly List<(string Name, long Timestamp)> Marks = [];
    private static readonly long LaunchUnixNanoseconds;
    private static readonly long Origin;

    static Timeline()
    {
        string? value = Environment.GetEnvironmentVariable(Variable);
        Enabled = !string.IsNullOrEmpty(value) && value != "0";
        Origin = Stopwatch.GetTimestamp();
        if (Enabled && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long launch) && launch > 1_000_000_000_000_000L)
            LaunchUnixNanoseconds = launch;
        OriginUnixNanoseconds = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
    }

    /// <summary>True when <c>QUANTSHELL_TIMELINE</c> is set (and not 0).</summary>
    public static bool Enabled { get; }

    private static long OriginUnixNanoseconds { get; }

    /// <summary>Records a moment (e.g. "arguments parsed").</summary>
    public static void Mark(string name)
    {
        if (!Enabled) return;
        long now = Stopwatch.GetTimestamp();
        lock (Marks) Marks.Add((name, now));
    }

    /// <summary>Starts timing one occurrence of <paramref name="phase"/>; dispose the result to add it.</summary>
    public static PhaseTimer Time(TimelinePhase phase, long bytes = 0) => Enabled ? new PhaseTimer(phase, bytes, Stopwatch.GetTimestamp()) : default;

    internal static void Add(TimelinePhase phase, long elapsedTicks, long bytes)
    {
        Interlocked.Add(ref Ticks[(int)phase], elapsedTicks);
        Interlocked.Increment(ref Calls[(int)phase]);
        if (bytes > 0) Interlocked.Add(ref Bytes[(int)phase], bytes);
    }

    /// <summary>Writes the marks and phases so far (milliseconds) to <paramref name="writer"/>.</summary>
    public static void Report(TextWriter writer)
    {
        if (!Enabled) return;
        long end = Stopwatch.GetTimestamp();
        var text = new System.Text.StringBuilder();
        text.AppendLine("timeline (ms):");
        if (LaunchUnixNanoseconds > 0)
        {
            double startup = (OriginUnixNanoseconds - LaunchUnixNanoseconds) / 1e6;
            text.AppendLine(CultureInfo.InvariantCulture, $"  {"start-up (launch to the first line of code)",-46} {startup,9:F1}");
        }
        (string Name, long Timestamp)[] marks;
        lock (Marks) marks = [.. Marks];
        long previous = Origin;
        foreach (var (name, timestamp) in marks)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {"at " + name,-46} {Milliseconds(timestamp - Origin),9:F1}  (+{Milliseconds(timestamp - previous):F1})");
            previous = timestamp;
        }
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"at report",-46} {Milliseconds(end - Origin),9:F1}");
        text.AppendLine("phases (summed over chunks and threads; read, kernel and waiting run on one thread, writing on another):");
        foreach (var phase in Enum.GetValues<TimelinePhase>())
        {
            long calls = Interlocked.Read(ref Calls[(int)phase]);
            if (calls == 0) continue;
            long bytes = Interlocked.Read(ref Bytes[(int)phase]);
            string rate = bytes > 0 ? string.Create(CultureInfo.InvariantCulture, $", {bytes / 1048576.0:F0} MiB") : "";
            text.AppendLine(CultureInfo.InvariantCulture, $"  {Name(phase),-46} {Milliseconds(Interlocked.Read(ref Ticks[(int)phase])),9:F1}  ({calls} calls{rate})");
        }
        writer.Write(text.ToString());
        writer.Flush();
    }

    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static string Name(TimelinePhase phase) => phase switch
    {
        TimelinePhase.Open => "open (inputs, headers, indexes)",
        TimelinePhase.Read => "read (+ a zip entry's CRC-32)",
        TimelinePhase.Kernel => "kernel",
        TimelinePhase.WaitForWriter => "wait for the writer",
        TimelinePhase.Write => "write",
        TimelinePhase.Copy => "copy (tensors not quantized)",
        TimelinePhase.Choose => "choose values (from blocks of channels)",
        TimelinePhase.Flush => "flush + close",
        TimelinePhase.Rename => "rename into place",
        _ => phase.ToString(),
    };
}
