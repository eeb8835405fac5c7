namespace QuantShell.Core.Diagnostics;

/// <summary>The parts of a run that <see cref="Timeline"/> sums, over every chunk and thread.</summary>
public enum TimelinePhase
{
    /// <summary>Opening inputs and reading headers or indexes.</summary>
    Open,
    /// <summary>Reading tensor bytes (the thread that quantizes).</summary>
    Read,
    /// <summary>The kernel: decoding, quantizing, encoding.</summary>
    Kernel,
    /// <summary>The quantizing thread waiting for a free buffer (the writer is behind).</summary>
    WaitForWriter,
    /// <summary>Writing output bytes (the writer thread, or inline for small outputs).</summary>
    Write,
    /// <summary>Copying tensors that are not quantized (model files).</summary>
    Copy,
    /// <summary>Choosing values from the data (in a pass that reads blocks of a tensor's channels).</summary>
    Choose,
    /// <summary>Flushing and closing the temporary output (and fsync with <c>--fsync</c>).</summary>
    Flush,
    /// <summary>Renaming the temporary output into place (and flushing its folder with <c>--fsync</c>).</summary>
    Rename,
}
