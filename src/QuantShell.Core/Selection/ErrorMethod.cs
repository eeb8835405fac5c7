namespace QuantShell.Core.Selection;

/// <summary>How a threshold or range is chosen from data when none is given.</summary>
public enum ErrorMethod
{
    /// <summary>Cover the data: symmetric t = max|x|, POT t = the smallest power of two ≥ max|x|, uniform [min, max].</summary>
    NoClipping,
    /// <summary>Minimize the mean squared error between x and its fake-quantized self.</summary>
    Mse,
    /// <summary>Minimize the mean absolute error.</summary>
    Mae,
    /// <summary>Minimize the mean of |error|^p (see <see cref="SelectionOptions.P"/>).</summary>
    Lp,
}

/// <summary>Options of parameter selection.</summary>
public sealed record SelectionOptions
{
    public ErrorMethod ErrorMethod { get; init; } = ErrorMethod.Mse;

    /// <summary>The exponent for <see cref="ErrorMethod.Lp"/> (ignored otherwise); must be finite and &gt; 0.</summary>
    public double P { get; init; } = 2.0;

    /// <summary>Symmetric and uniform searches run on at most this many values per channel (an evenly strided sample beyond).</summary>
    public int MaxSearchValues { get; init; } = 1 << 20;
}
