namespace QuantShell.Core.Errors;

/// <summary>
/// An expected failure: bad parameters, a malformed file, a refused write. The message names the file, tensor,
/// parameter and value; <see cref="ErrorId"/> is one of <see cref="ErrorIds"/>. The parameters it names are
/// <see cref="Parameter"/> tokens: <see cref="Message"/> spells them plainly, a face with <see cref="MessageIn"/>.
/// </summary>
public class QuantShellException : Exception
{
    public QuantShellException(string message, string errorId, QuantShellErrorKind kind, string? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    /// <summary>Stable identifier such as <c>ThresholdNotPowerOfTwo</c> or <c>NpyHeaderInvalid</c> (see <see cref="ErrorIds"/>).</summary>
    public string ErrorId { get; }

    public QuantShellErrorKind Kind { get; }

    /// <summary>The file, tensor or parameter the error is about, when there is one.</summary>
    public string? Target { get; }

    /// <summary>The message with its parameters named plainly (<c>ChannelAxis</c>).</summary>
    public override string Message => ParameterSpelling.Plain.Spell(base.Message);

    /// <summary>The message with its parameters spelled as a face spells them (<c>--channel-axis</c>, <c>-ChannelAxis</c>).</summary>
    public string MessageIn(ParameterSpelling spelling) => spelling.Spell(base.Message);

    /// <summary>The same error with its message prefixed by where it happened (a file, a file and tensor).</summary>
    public virtual QuantShellException WithSource(string source) =>
        new($"{source}: {base.Message}", ErrorId, Kind, source, this);
}
