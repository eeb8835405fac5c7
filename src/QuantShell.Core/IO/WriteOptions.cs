namespace QuantShell.Core.IO;

/// <summary>How an output file is written (every writer of the core takes these: tensors, quantizer files, plots).</summary>
public sealed record WriteOptions
{
    /// <summary>Nothing replaced, nothing flushed to disk beyond what the system does by itself.</summary>
    public static WriteOptions Default { get; } = new();

    /// <summary>Replace an existing file (never an input). A symbolic link in the way is replaced itself, not the file it points to.</summary>
    public bool Force { get; init; }

    /// <summary>
    /// Flush the file's data to the disk before it is renamed into place, and the folder's entry after: the output then
    /// survives a power cut or a crash of the system, at the cost of waiting for the disk.
    /// </summary>
    public bool Fsync { get; init; }
}
