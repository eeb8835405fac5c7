namespace QuantShell.Core.Selection.Mct;

/// <summary><c>np.linspace(start, stop, num)</c> in float64 as NumPy computes it: i·step + start with step = (stop - start)/(num - 1), the last value exactly stop.</summary>
internal static class NumpyLinspace
{
    public static double[] Create(double start, double stop, int num)
    {
        var values = new double[num];
        Fill(start, stop, values);
        return values;
    }

    public static void Fill(double start, double stop, Span<double> values)
    {
        int num = values.Length;
        if (num == 0) return;
        int div = num - 1;
        double delta = stop - start;
        if (div > 0)
        {
            double step = delta / div;
            if (step == 0)
            {
                for (int i = 0; i < num; i++) values[i] = (double)i / div * delta + start;
            }
            else
            {
                for (int i = 0; i < num; i++) values[i] = i * step + start;
            }
            values[num - 1] = stop;
        }
        else
        {
            values[0] = 0 * delta + start;
        }
    }
}
