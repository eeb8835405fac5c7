namespace QuantShell.Core.Formats;

/// <summary>One tensor of a tensor file, as its index or header describes it (no value read yet).</summary>
public sealed record StoredTensor
{
    /// <summary>The tensor's name in the file (a state-dict key, an initializer name); the file's own name for an .npy file.</summary>
    public required string Name { get; init; }

    public required DType DType { get; init; }

    public required long[] Shape { get; init; }

    /// <summary>The dtype as the file spells it (<c>&lt;f4</c>, <c>F32</c>, <c>torch.float32</c>, <c>FLOAT</c>).</summary>
    public required string StoredDType { get; init; }

    /// <summary>Elements stored in Fortran order (.npy files only); <see cref="TensorFile.OpenTensor"/> then yields them so.</summary>
    public bool FortranOrder { get; init; }

    /// <summary>For a tensor of a model graph (an ONNX initializer): which operators read it, and as what; null for other files.</summary>
    public GraphRole? GraphRole { get; init; }

    /// <summary>The tensor's position in the file's own order (0-based).</summary>
    public int Index { get; init; }

    public int Rank => Shape.Length;

    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));

    public long ByteCount => checked(ElementCount * DType.ItemSize);

    public string ShapeText => NpyHeader.FormatShape(Shape);

    public override string ToString() => $"{Name} {DType.Name} {ShapeText}";
}
