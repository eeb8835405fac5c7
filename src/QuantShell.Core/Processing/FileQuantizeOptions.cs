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

    /// <summary>How the output file is written.</summary>
    public WriteOptions Output => new() { Force = Force, Fsync = Fsync };
}
