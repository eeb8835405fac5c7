using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>The element types QuantShell reads: floats, signed and unsigned integers, bool.</summary>
public enum DTypeKind
{
    Float,
    SignedInteger,
    UnsignedInteger,
    Bool,
}
