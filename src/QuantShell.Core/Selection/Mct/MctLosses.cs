namespace QuantShell.Core.Selection.Mct;

/// <summary>NumPy's reductions and element-wise steps on MCT's errors, with its NaN rules and float32/float64 promotion.</summary>
internal static class MctLosses
{
    /// <summary><c>np.argmin</c>: the first NaN if there is one, else the first smallest.</summary>
    public static int ArgMin(ReadOnlySpan<MctLoss> losses)
    {
        int best = 0;
        for (int i = 0; i < losses.Length; i++)
        {
            if (double.IsNaN(losses[i].Value)) return i;
            if (losses[i].Value < losses[best].Value) best = i;
        }
        return best;
    }

    /// <summary>The value <c>np.min</c> gives for a list of errors (NaN if any is), float32 only when all are.</summary>
    public static MctLoss Min(ReadOnlySpan<MctLoss> losses)
    {
        bool single = true;
        foreach (var loss in losses) single &= loss.Single;
        return new MctLoss(losses[ArgMin(losses)].Value, single);
    }

    /// <summary>Whether every error is float32 (NumPy then keeps their array in float32).</summary>
    public static bool AllSingle(ReadOnlySpan<MctLoss> losses)
    {
        foreach (var loss in losses)
            if (!loss.Single) return false;
        return true;
    }

    /// <summary>
    /// <c>new * improved + old * (not improved)</c> as MCT writes the choice of the better value: literally, so an infinite
    /// old value turns the sum into NaN as it does in NumPy.
    /// </summary>
    public static double Blend(double candidate, double old, bool improved) =>
        candidate * (improved ? 1.0 : 0.0) + old * (improved ? 0.0 : 1.0);

    public static MctLoss Blend(MctLoss candidate, MctLoss old, bool improved, bool single)
    {
        if (single)
            return new MctLoss((float)candidate.Value * (improved ? 1f : 0f) + (float)old.Value * (improved ? 0f : 1f), true);
        return new MctLoss(Blend(candidate.Value, old.Value, improved), false);
    }

    /// <summary>
    /// <c>np.mean(previous - current)</c> over the channels, the difference in float32 when both arrays are float32
    /// (whose mean is then the float32 sum over the count, rounded to float32).
    /// </summary>
    public static double MeanImprovement(ReadOnlySpan<MctLoss> previous, ReadOnlySpan<MctLoss> current, bool single)
    {
        if (single)
        {
            var differences = new float[previous.Length];
            for (int i = 0; i < differences.Length; i++) differences[i] = (float)previous[i].Value - (float)current[i].Value;
            return NumpySum.MeanOfArray(differences);
        }
        var doubles = new double[previous.Length];
        for (int i = 0; i < doubles.Length; i++) doubles[i] = previous[i].Value - current[i].Value;
        return NumpySum.Mean(doubles);
    }
}
