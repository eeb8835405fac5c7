namespace QuantShell.Core.Processing;

/// <summary>
/// Hands the memory of a tensor that was read whole (its values chosen from its data) back before the next one is read.
/// The collector budgets large arrays generously and lets several tensors' worth of them pile up before it collects, so
/// a model file of many large tensors would hold several at once. Its tensors are read one after another: one full
/// collection after each large one keeps memory bounded by the largest tensor and what choosing from it needs. It
/// costs a few milliseconds per tensor of at least <see cref="CollectFromBytes"/>, whose reading and choosing take far
/// longer.
/// </summary>
internal static class WholeTensorMemory
{
    /// <summary>Tensors of at least this many bytes are collected after.</summary>
    public const long CollectFromBytes = 16L << 20;

    /// <summary>Call once nothing refers to the values of a tensor of <paramref name="byteCount"/> bytes any more.</summary>
    public static void Release(long byteCount)
    {
        if (byteCount >= CollectFromBytes)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
    }
}
