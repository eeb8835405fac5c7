using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection;

/// <summary>
/// Turns what the user gave (a complete quantizer, or target/method/bits without a threshold or range) into a
/// quantizer for a file or a set of files: the one shared rule of the cmdlets and the CLI.
/// </summary>
public static class QuantizerResolver
{
    /// <summary>True when the spec has its threshold (POT, symmetric) or its range (uniform).</summary>
    public static bool IsComplete(QuantizerSpec spec) =>
        spec.Method == QuantizationMethod.Uniform ? spec.MinRange is not null || spec.MaxRange is not null : spec.Threshold is not null;

    /// <summary>Checks every rule of a request whose values are to be chosen from data (bits, per-channel activations...).</summary>
    public static void ValidateRequest(QuantizerSpec request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (IsComplete(request))
        {
            request.Validate();
            return;
        }
        var probe = request.Method == QuantizationMethod.Uniform
            ? request with { MinRange = new[] { -1.0 }, MaxRange = new[] { 1.0 } }
            : request with { Threshold = new[] { 1.0 } };
        probe.Validate();
    }

    /// <summary>
    /// The quantizer to apply: <paramref name="request"/> itself when complete, else one whose values are chosen
    /// from the arrays in <paramref name="paths"/> (pooled, as calibration batches).
    /// </summary>
    public static QuantizerSpec Resolve(QuantizerSpec request, IReadOnlyList<string> paths, SelectionOptions? options = null)
    {
        ValidateRequest(request);
        if (IsComplete(request)) return request;
        return Resolve(request, paths.Select(NpyArray.Read).ToList(), string.Join(", ", paths), options);
    }

    /// <summary>
    /// The same from arrays already in memory (read once, then also measured or plotted); <paramref name="sourceName"/>
    /// names them in errors.
    /// </summary>
    public static QuantizerSpec Resolve(QuantizerSpec request, IReadOnlyList<NpyArray> arrays, string sourceName, SelectionOptions? options = null)
    {
        ValidateRequest(request);
        if (IsComplete(request)) return request;
        try
        {
            return ParameterSelector.Select(request, arrays, options);
        }
        catch (QuantizerValidationException ex)
        {
            throw new QuantShellException($"{sourceName}: {ex.Message}", ex.ErrorId, QuantShellErrorKind.InvalidArgument, sourceName, ex);
        }
    }
}
