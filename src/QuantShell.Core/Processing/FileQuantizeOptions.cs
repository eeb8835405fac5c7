using QuantShell.Core.IO;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Processing;

/// <summary>Options for quantizing files.</summary>
public sealed record FileQuantizeOptions
{
    /// <summary>Replace an existing output file.</summary>
    public bool Force { get; init; }

    /// <summary>Keep NaN and saturate ±inf instead of failing on them.</summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>Flush the output to the disk before renaming it into place (see <see cref="WriteOptions.Fsync"/>).</summary>
    public bool Fsync { get; init; }

    /// <summary>Bytes of input read per step when streaming.</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>How the quantizer's values were chosen, reported in the result; null when they were given.</summary>
    public SelectionInfo? Selection { get; init; }

    /// <summary>For tests: write every chunk by the general path (the compressed-tensors writer's fast path off).</summary>
    internal bool GeneralPathOnly { get; init; }

    /// <summary>For tests: counts the chunks the compressed-tensors writer's fast path wrote and left to the general path.</summary>
    internal PathCounter? PathCounter { get; init; }

    /// <summary>How the output file is written.</summary>
    public WriteOptions Output => new() { Force = Force, Fsync = Fsync };
}

/// <summary>Chunks written by the compressed-tensors writer's fast path, and those it left to the general path (for tests).</summary>
internal sealed class PathCounter
{
    private long _fast, _declined, _direct, _fused;

    public long Fast => Interlocked.Read(ref _fast);

    public long Declined => Interlocked.Read(ref _declined);

    /// <summary>Blocks of rows whose values the fast path chose group by group, without the general choice.</summary>
    public long Direct => Interlocked.Read(ref _direct);

    /// <summary>Chunks written by the fast path's fused route (read, chosen and encoded group by group on every core).</summary>
    public long Fused => Interlocked.Read(ref _fused);

    public void Add(long fast, long declined, long direct = 0, long fused = 0)
    {
        Interlocked.Add(ref _fused, fused);
        Interlocked.Add(ref _direct, direct);
        Interlocked.Add(ref _fast, fast);
        Interlocked.Add(ref _declined, declined);
    }
}
