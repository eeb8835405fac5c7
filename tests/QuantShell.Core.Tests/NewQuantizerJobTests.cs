using QuantShell.Core.Errors;
using QuantShell.Core.Jobs.NewQuantizer;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Tests;

/// <summary>
/// The job behind New-InferableQuantizer and <c>dotnet quant new</c>: with values to be chosen from data and no input left
/// (each path already reported by the face that resolved it), nothing is built and nothing more is reported; without
/// data inputs the quantizer is built from its parameters, and a missing value is an error.
/// </summary>
public sealed class NewQuantizerJobTests
{
    [Fact]
    public void FromDataWithNoInputLeft_BuildsNothing_AndFromParametersBuildsOrFails()
    {
        var pot = new QuantizerArguments { Method = QuantizationMethod.Pot };

        var host = new CollectingHost<InferableQuantizer>();
        Assert.Null(NewQuantizerJob.Run(new NewQuantizerRequest { Quantizer = pot, FromData = true }, [], host));
        Assert.Empty(host.Results);
        Assert.Empty(host.Errors);

        // The same request without data: the threshold the data was to choose is missing.
        Assert.ThrowsAny<QuantShellException>(() => NewQuantizerJob.Run(new NewQuantizerRequest { Quantizer = pot }, [], new CollectingHost<InferableQuantizer>()));

        var given = new CollectingHost<InferableQuantizer>();
        var built = NewQuantizerJob.Run(new NewQuantizerRequest { Quantizer = pot with { Threshold = [4] } }, [], given);
        Assert.Equal([4.0], built!.Spec.Threshold);
        Assert.Same(built, Assert.Single(given.Results));
    }
}
