namespace QuantShell.Core.Processing;

/// <summary>
/// Hands the memory of tensors that were read whole (their values chosen from their data) back as a model's tensors are
/// read one after another. The collector budgets large arrays generously and lets many tensors' worth of them pile up
/// before it collects, so a model file of many tensors would hold several at once (a model of a thousand 4 MiB tensors as
/// much as one of a few 64 MiB ones). One full collection each time tensors of <see cref="CollectFromBytes"/> in all have
/// been read whole since the last keeps memory bounded by that much, the largest tensor and what choosing from it needs.
/// It costs a few milliseconds per <see cref="CollectFromBytes"/> of tensors, whose reading and choosing take far longer.
/// </summary>
internal static class WholeTensorMemory
{
    /// <summary>How many bytes of tensors read whole are let go between collections.</summary>
    public const long CollectFromBytes = 16L << 20;

    /// <summary>
    /// How many bytes may be allocated between collections while the tensors of a model held whole in memory (ONNX) are
    /// quantized one after another (<see cref="AfterModelTensor"/>).
    /// </summary>
    public const long CollectFromAllocatedBytes = 16L << 20;

    private static long s_released;
    private static long s_allocatedAtCollection;

    /// <summary>Call once nothing refers to the values of a tensor of <paramref name="byteCount"/> bytes any more.</summary>
    public static void Release(long byteCount)
    {
        long released = Interlocked.Add(ref s_released, byteCount);
        if (released < CollectFromBytes) return;
        // Of threads releasing at once, the one that takes the count collects; the others' tensors count towards the next.
        if (Interlocked.CompareExchange(ref s_released, 0, released) == released) Collect();
    }

    /// <summary>
    /// Call after each tensor of a model that is held whole in memory (an ONNX model: its parsed message holds every
    /// tensor's bytes). Choosing a tensor's values allocates several times the tensor's size (copies, sorted values,
    /// per-channel work), so counting tensors (<see cref="Release"/>) would let several times <see cref="CollectFromBytes"/>
    /// of garbage pile up beside the model; this collects once <see cref="CollectFromAllocatedBytes"/> have been allocated
    /// since the last collection, which keeps the peak near the model, the largest tensor's work and that much.
    /// </summary>
    public static void AfterModelTensor()
    {
        if (GC.GetTotalAllocatedBytes() - Interlocked.Read(ref s_allocatedAtCollection) < CollectFromAllocatedBytes) return;
        Interlocked.Exchange(ref s_released, 0);
        Collect();
    }

    private static void Collect()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        Interlocked.Exchange(ref s_allocatedAtCollection, GC.GetTotalAllocatedBytes());
    }
}
