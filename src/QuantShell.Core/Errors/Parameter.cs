using System.Text;

namespace QuantShell.Core.Errors;

/// <summary>
/// A parameter that an error message names. A message holds it as a token (<c>$"{Parameter.Force} replaces ..."</c>) and
/// each face spells the token its own way when it shows the message (<see cref="ParameterSpelling"/>): the cmdlets
/// <c>-ChannelAxis</c>, <c>-Format Fake</c>; the command line <c>--channel-axis</c>, <c>--format fake</c>; the core's own
/// <see cref="Exception.Message"/> the plain names, <c>ChannelAxis</c>, <c>Format Fake</c>.
/// </summary>
public sealed class Parameter
{
    private Parameter(string name) => Name = name;

    /// <summary>The name as C# and PowerShell spell it (<c>ChannelAxis</c>).</summary>
    public string Name { get; }

    // Quantizer parameters.
    public static readonly Parameter Quantizer = new(nameof(Quantizer));
    public static readonly Parameter Target = new(nameof(Target));
    public static readonly Parameter Method = new(nameof(Method));
    public static readonly Parameter NumBits = new(nameof(NumBits));
    public static readonly Parameter Threshold = new(nameof(Threshold));
    public static readonly Parameter MinRange = new(nameof(MinRange));
    public static readonly Parameter MaxRange = new(nameof(MaxRange));
    public static readonly Parameter Signed = new(nameof(Signed));
    /// <summary>The command line's opposite of Signed (the cmdlets take <c>-Signed:$false</c>).</summary>
    public static readonly Parameter Unsigned = new(nameof(Unsigned));
    public static readonly Parameter PerChannel = new(nameof(PerChannel));
    public static readonly Parameter ChannelAxis = new(nameof(ChannelAxis));
    public static readonly Parameter GroupSize = new(nameof(GroupSize));
    public static readonly Parameter LutValues = new(nameof(LutValues));
    public static readonly Parameter LutValuesBitwidth = new(nameof(LutValuesBitwidth));
    public static readonly Parameter Eps = new(nameof(Eps));

    // Choosing values from the data.
    public static readonly Parameter ErrorMethod = new(nameof(ErrorMethod));
    public static readonly Parameter Search = new(nameof(Search));
    public static readonly Parameter P = new(nameof(P));
    public static readonly Parameter Percentile = new(nameof(Percentile));
    public static readonly Parameter Calibrate = new(nameof(Calibrate));
    public static readonly Parameter FromPath = new(nameof(FromPath));

    // Jobs and outputs.
    public static readonly Parameter Rules = new(nameof(Rules));
    public static readonly Parameter Format = new(nameof(Format));
    public static readonly Parameter OutputPath = new(nameof(OutputPath));
    public static readonly Parameter OutputDirectory = new(nameof(OutputDirectory));
    public static readonly Parameter ExportQuantizer = new(nameof(ExportQuantizer));
    public static readonly Parameter Force = new(nameof(Force));
    public static readonly Parameter AllowNonFinite = new(nameof(AllowNonFinite));
    public static readonly Parameter PlotPath = new(nameof(PlotPath));
    public static readonly Parameter Weights = new(nameof(Weights));
    public static readonly Parameter Activations = new(nameof(Activations));
    public static readonly Parameter MaxParallelism = new(nameof(MaxParallelism));
    public static readonly Parameter Part = new(nameof(Part));
    public static readonly Parameter Finish = new(nameof(Finish));

    /// <summary>Every parameter, for the faces' tests that each one is spelled as a parameter they have.</summary>
    public static IReadOnlyList<Parameter> All { get; } =
    [
        Quantizer, Target, Method, NumBits, Threshold, MinRange, MaxRange, Signed, Unsigned, PerChannel, ChannelAxis, GroupSize, LutValues,
        LutValuesBitwidth, Eps, ErrorMethod, Search, P, Percentile, Calibrate, FromPath, Rules, Format, OutputPath, OutputDirectory,
        ExportQuantizer, Force, AllowNonFinite, PlotPath, Weights, Activations, MaxParallelism, Part, Finish,
    ];

    /// <summary>The token that stands for this parameter in a message (see the class summary).</summary>
    public override string ToString() => $"{ParameterSpelling.NameStart}{Name}{ParameterSpelling.End}";

    /// <summary>This parameter with one of its enum values: <c>Format Fake</c>, <c>--format fake</c>, <c>-Format Fake</c>.</summary>
    public string With<T>(T value) where T : struct, Enum => $"{this} {Value(value)}";

    /// <summary>The token for an enum value in a message: <c>LutPot</c>, the command line's <c>lut-pot</c>.</summary>
    public static string Value<T>(T value) where T : struct, Enum => $"{ParameterSpelling.ValueStart}{value}{ParameterSpelling.End}";

    /// <summary>Several values as one list: <c>Pot, Symmetric or Uniform</c>.</summary>
    public static string Values<T>(params T[] values) where T : struct, Enum =>
        values.Length == 1 ? Value(values[0]) : string.Join(", ", values[..^1].Select(v => Value(v))) + " or " + Value(values[^1]);
}

/// <summary>
/// How a face spells the <see cref="Parameter"/> tokens of a message: a parameter's name (given as <c>ChannelAxis</c>)
/// and an enum value (given as its C# name, <c>LutPot</c>). <see cref="Plain"/> is the core's own spelling.
/// </summary>
public sealed class ParameterSpelling(Func<string, string> name, Func<string, string> value)
{
    internal const char NameStart = '\uE000', ValueStart = '\uE001', End = '\uE002';

    /// <summary>The names as they are: <c>ChannelAxis</c>, <c>Format Fake</c>.</summary>
    public static ParameterSpelling Plain { get; } = new(n => n, v => v);

    /// <summary>
    /// As quantizer and rules files spell their fields and values (<c>channelAxis</c>, <c>method lutPot</c>): for an error
    /// about what such a file says, which no option of a face gave.
    /// </summary>
    public static ParameterSpelling Json { get; } = new(Camel, Camel);

    private static string Camel(string word) => word.Length == 0 ? word : char.ToLowerInvariant(word[0]) + word[1..];

    /// <summary>A message with its tokens spelled this way (text without tokens is returned as it is).</summary>
    public string Spell(string message)
    {
        if (message.AsSpan().IndexOfAny(NameStart, ValueStart) < 0) return message;
        var text = new StringBuilder(message.Length);
        int i = 0;
        while (i < message.Length)
        {
            char c = message[i];
            int end = c is NameStart or ValueStart ? message.IndexOf(End, i + 1) : -1;
            if (end < 0)
            {
                text.Append(c);
                i++;
                continue;
            }
            string word = message[(i + 1)..end];
            text.Append(c == NameStart ? name(word) : value(word));
            i = end + 1;
        }
        return text.ToString();
    }
}
