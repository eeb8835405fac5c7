namespace QuantShell.Core.Formats.Pickle;

// The plain values PickleReader builds. Scalars are plain .NET values: null (None), bool, long, BigInteger, double,
// string, byte[]; these classes are the containers and the torch objects. Nothing here has behaviour: a pickle can only
// describe data with them.

/// <summary>An allowlisted global (a class or function named by GLOBAL), never resolved to anything callable.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";
}

internal sealed class PickleList
{
    public List<object?> Items { get; } = new();
}

internal sealed class PickleTuple(object?[] items)
{
    public object?[] Items { get; } = items;
}

/// <summary>A dict or OrderedDict: its items in insertion order (a key set twice keeps its first place, as in Python).</summary>
internal sealed class PickleDict
{
    private readonly Dictionary<object, int> _positions = new();

    public List<KeyValuePair<object?, object?>> Items { get; } = new();

    public void Set(object? key, object? value)
    {
        // Scalar keys (the names of a state dict) are compared by value; other keys are kept as they come.
        if (key is string or long or bool && _positions.TryGetValue(key, out int position))
        {
            Items[position] = new(key, value);
            return;
        }
        if (key is string or long or bool) _positions[key] = Items.Count;
        Items.Add(new(key, value));
    }
}

internal sealed class PickleSet
{
}

/// <summary>What an allowlisted call QuantShell does not interpret produced (torch.Size(...), a layout): kept, never a tensor.</summary>
internal sealed record PickleOpaque(string Description);

/// <summary>A storage named by a persistent id <c>('storage', torch.FloatStorage, key, location, numel)</c>.</summary>
internal sealed record PickleStorage(string TypeName, DType DType, string Key, string Location, long ElementCount);

/// <summary>A tensor as <c>torch._utils._rebuild_tensor_v2</c> would build it: a view of a storage.</summary>
internal sealed class PickleTensor(PickleStorage storage, long storageOffset, long[] shape, long[] stride)
{
    public PickleStorage Storage { get; } = storage;

    /// <summary>Offset of the first element in the storage, in elements.</summary>
    public long StorageOffset { get; } = storageOffset;

    public long[] Shape { get; } = shape;

    /// <summary>Strides in elements.</summary>
    public long[] Stride { get; } = stride;
}
