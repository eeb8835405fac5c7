using System.Globalization;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// One part of a run split over processes or machines (<c>--part K/N</c>): part K of N takes the shards whose position in
/// file-name order, counted from 0, is K - 1 modulo N. Every part computes the same split from the folder alone.
/// </summary>
public sealed record SplitPart(int Number, int Count)
{
    /// <summary>Parses <c>K/N</c> (1 &lt;= K &lt;= N).</summary>
    public static SplitPart Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = text.Split('/');
        if (pieces.Length == 2
            && int.TryParse(pieces[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            && int.TryParse(pieces[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            && n >= 1 && k >= 1 && k <= n)
            return new SplitPart(k, n);
        throw new QuantShellException($"Part must be K/N with 1 <= K <= N (e.g. 2/8) but is '{text}'.", ErrorIds.PartInvalid, QuantShellErrorKind.InvalidArgument, "Part");
    }

    /// <summary>True when the shard at <paramref name="position"/> (file-name order, from 0) is this part's.</summary>
    public bool Takes(int position) => position % Count == Number - 1;

    public override string ToString() => $"{Number}/{Count}";
}
