using System.Diagnostics;

namespace QuantShell.Core.Diagnostics;

/// <summary>One timed occurrence of a <see cref="TimelinePhase"/> (a struct: nothing is allocated when the timeline is off).</summary>
public readonly struct PhaseTimer : IDisposable
{
    private readonly TimelinePhase _phase;
    private readonly long _bytes;
    private readonly long _start;

    internal PhaseTimer(TimelinePhase phase, long bytes, long start)
    {
        _phase = phase;
        _bytes = bytes;
        _start = start;
    }

    public void Dispose()
    {
        if (_start != 0) Timeline.Add(_phase, Stopwatch.GetTimestamp() - _start, _bytes);
    }
}
