using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Jobs.NewQuantizer;

/// <summary>
/// Builds one quantizer: from its parameters, or with the values not given chosen from data inputs pooled (as
/// calibration batches). An input that cannot be read is reported and left out.
/// </summary>
public static class NewQuantizerJob
{
    /// <returns>The quantizer built; null when it was to be chosen from data and no input was left (<see cref="NewQuantizerRequest.FromData"/>).</returns>
    public static InferableQuantizer? Run(NewQuantizerRequest request, IEnumerable<JobInput> fromInputs, JobHost<InferableQuantizer> host,
                                          CancellationToken cancellationToken = default)
    {
        var recipe = request.Quantizer.Check();
        // A file named twice (a wildcard and its name) is pooled once.
        var inputs = fromInputs.DistinctBy(input => input.FullPath ?? input.Name).ToList();
        // Building from the parameters alone would fail on the values the data was to choose.
        if (request.FromData && inputs.Count == 0) return null;
        InferableQuantizer created;
        if (inputs.Count == 0)
        {
            recipe.Spec.ValidateComplete();
            created = recipe.Complete;
        }
        else
        {
            if (!recipe.ChoosesFromData)
                throw new QuantizerValidationException($"{Parameter.FromPath} chooses the values from data, but they are all given; leave {Parameter.FromPath} out or leave the values out.",
                    Parameter.FromPath, ErrorIds.SelectionOptionNotApplicable);
            // Each file that cannot be read is reported; when none could be, the last one's error is the request's own.
            var errors = new List<(JobInput Input, QuantShellException Error)>();
            var pool = CalibrationPool.Read(recipe, inputs, Parameter.FromPath, (input, error) => errors.Add((input, error)), cancellationToken);
            foreach (var (input, error) in pool is null ? errors[..^1] : errors) host.WriteError(error, input);
            created = pool?.Quantizer ?? throw errors[^1].Error;
        }
        if (request.OutputPath is not null && host.ShouldProcess(request.OutputPath, "Write quantizer file"))
            QuantizerFile.Write(request.OutputPath, created.Spec, new WriteOptions { Force = request.Force, Fsync = request.Fsync });
        host.WriteResult(created);
        return created;
    }
}
