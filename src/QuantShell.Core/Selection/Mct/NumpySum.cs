namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// Sums and means added up in exactly NumPy's order (<c>np.add.reduce</c> of a contiguous float32 or float64 axis), so
/// errors MCT compares come out bit for bit as MCT's: the axis is taken in blocks of 8192 elements (the ufunc buffer),
/// each block summed pairwise (blocks of at most 128 with eight running sums, longer ones split in two at a multiple of
/// eight), and the blocks' sums added in order to a running total that starts at 0. Float32 data is summed in float32.
/// </summary>
internal static class NumpySum
{
    private const int BufferSize = 8192;
    private const int PairwiseBlock = 128;

    public static float Sum(ReadOnlySpan<float> values)
    {
        float total = 0;
        for (int start = 0; start < values.Length; start += BufferSize)
            total += Pairwise(values.Slice(start, Math.Min(BufferSize, values.Length - start)));
        return total;
    }

    public static double Sum(ReadOnlySpan<double> values)
    {
        double total = 0;
        for (int start = 0; start < values.Length; start += BufferSize)
            total += Pairwise(values.Slice(start, Math.Min(BufferSize, values.Length - start)));
        return total;
    }

    /// <summary><c>np.mean</c> of a whole float32 array: the float32 sum divided by the count in float64, then rounded to float32.</summary>
    public static float MeanOfArray(ReadOnlySpan<float> values) => (float)((double)Sum(values) / values.Length);

    /// <summary><c>np.mean(axis=-1)</c> of one row of a 2-D float32 array: the float32 sum divided by the count in float32.</summary>
    public static float MeanOfRow(ReadOnlySpan<float> values) => Sum(values) / values.Length;

    /// <summary><c>np.mean</c> of float64 values (whole array or one row: both divide in float64).</summary>
    public static double Mean(ReadOnlySpan<double> values) => Sum(values) / values.Length;

    private static float Pairwise(ReadOnlySpan<float> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            float sum = -0.0f;
            for (int i = 0; i < n; i++) sum += a[i];
            return sum;
        }
        if (n <= PairwiseBlock)
        {
            float r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
            int i = 8;
            for (; i < n - n % 8; i += 8)
            {
                r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3];
                r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7];
            }
            float sum = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++) sum += a[i];
            return sum;
        }
        int half = n / 2;
        half -= half % 8;
        return Pairwise(a[..half]) + Pairwise(a[half..]);
    }

    private static double Pairwise(ReadOnlySpan<double> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            double sum = -0.0;
            for (int i = 0; i < n; i++) sum += a[i];
            return sum;
        }
        if (n <= PairwiseBlock)
        {
            double r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
            int i = 8;
            for (; i < n - n % 8; i += 8)
            {
                r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3];
                r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7];
            }
            double sum = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++) sum += a[i];
            return sum;
        }
        int half = n / 2;
        half -= half % 8;
        return Pairwise(a[..half]) + Pairwise(a[half..]);
    }
}
