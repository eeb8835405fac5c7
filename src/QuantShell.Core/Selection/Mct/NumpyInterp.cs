namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// <c>np.interp(x, xp, fp)</c> for ascending <c>xp</c>: below the first point the first value, above the last the last
/// value, on a point its value, else <c>slope·(x - xp[j]) + fp[j]</c> with slope = (fp[j+1] - fp[j]) / (xp[j+1] - xp[j]).
/// </summary>
internal static class NumpyInterp
{
    public static void Evaluate(ReadOnlySpan<double> x, ReadOnlySpan<double> xp, ReadOnlySpan<double> fp, Span<double> result)
    {
        int last = xp.Length - 1;
        for (int i = 0; i < x.Length; i++)
        {
            double value = x[i];
            if (double.IsNaN(value)) { result[i] = value; continue; }
            if (value < xp[0]) { result[i] = fp[0]; continue; }
            if (value > xp[last]) { result[i] = fp[last]; continue; }
            if (last == 0) { result[i] = fp[0]; continue; }
            int j = LastAtMost(xp, value);
            if (j == last || xp[j] == value) { result[i] = fp[j]; continue; }
            double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
            double y = slope * (value - xp[j]) + fp[j];
            if (double.IsNaN(y))
            {
                y = slope * (value - xp[j + 1]) + fp[j + 1];
                if (double.IsNaN(y) && fp[j] == fp[j + 1]) y = fp[j];
            }
            result[i] = y;
        }
    }

    /// <summary>The last index whose point is at most <paramref name="value"/> (points ascending, value ≥ the first).</summary>
    private static int LastAtMost(ReadOnlySpan<double> xp, double value)
    {
        int low = 0, high = xp.Length;
        while (low < high)
        {
            int mid = low + ((high - low) >> 1);
            if (value >= xp[mid]) low = mid + 1;
            else high = mid;
        }
        return low - 1;
    }
}
