namespace QuantShell.Core.Formats;

/// <summary>The kinds of element a stored tensor has.</summary>
public enum DTypeKind
{
    /// <summary>IEEE float16, float32, float64.</summary>
    Float,
    SignedInteger,
    UnsignedInteger,
    Bool,
    /// <summary>bfloat16 (model files only): computed as float32, rounded back to nearest even.</summary>
    BFloat,
    /// <summary>A type QuantShell copies byte for byte but never reads as numbers (float8, complex, strings, ...).</summary>
    Opaque,
}
