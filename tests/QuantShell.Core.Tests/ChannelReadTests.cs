using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// Values chosen per channel along axis 0 of an .npy file are chosen from the channels read straight from the file, and
/// the file is then streamed through the quantizer: the same values and the same output bytes as the general path (the
/// whole array read, then split), which a stream input still takes.
/// </summary>
public sealed class ChannelReadTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<QuantizationMethod, ErrorMethod, SelectionSearch, bool> Cases() => new()
    {
        { QuantizationMethod.Symmetric, ErrorMethod.Mse, SelectionSearch.Mct, false },
        { QuantizationMethod.Symmetric, ErrorMethod.NoClipping, SelectionSearch.Mct, true },
        { QuantizationMethod.Pot, ErrorMethod.Mae, SelectionSearch.Mct, false },
        { QuantizationMethod.Uniform, ErrorMethod.Mse, SelectionSearch.Mct, true },
        { QuantizationMethod.Uniform, ErrorMethod.Kl, SelectionSearch.Mct, false },
        { QuantizationMethod.Symmetric, ErrorMethod.Mse, SelectionSearch.Optimal, false },
        { QuantizationMethod.LutSymmetric, ErrorMethod.Mse, SelectionSearch.Mct, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChosenFromChannelsReadFromTheFile_EqualsTheWholeArraysChoice(QuantizationMethod method, ErrorMethod errorMethod, SelectionSearch search, bool asDouble)
    {
        long[] shape = [6, 5, 40];
        var random = new Random(20 + (int)method * 7 + (int)errorMethod);
        var values = Enumerable.Range(0, 6 * 5 * 40).Select(i => (random.NextDouble() * 2 - 1) * (1 + i / 200)).ToArray();
        string input = _temp.File("w.npy");
        if (asDouble) new NpyArray(shape, values).Write(input);
        else new NpyArray(shape, values.Select(v => (float)v).ToArray()).Write(input);
        var request = new QuantizeRequest
        {
            Quantizer = new QuantizerArguments { Method = method, NumBits = 4, PerChannel = true, ErrorMethod = errorMethod, Search = search },
        };

        QuantizationResult Run(JobInput job, string output)
        {
            var host = new RecordingHost();
            QuantizeJob.Run(request with { OutputPath = output }, [job], host);
            Assert.True(host.Errors.Count == 0, string.Join("\n", host.Errors.Select(e => e.Message)));
            return Assert.Single(host.Results);
        }

        var fromFile = Run(JobInput.File(input), _temp.File("file.q.npy"));
        var fromStream = Run(JobInput.Stream("w.npy", () => File.OpenRead(input)), _temp.File("stream.q.npy"));
        Assert.Equal(0, fromFile.ChannelAxis);
        Assert.Equal(fromStream.ChannelAxis, fromFile.ChannelAxis);
        Assert.Equal(fromStream.Threshold, fromFile.Threshold);
        Assert.Equal(fromStream.MinRange, fromFile.MinRange);
        Assert.Equal(fromStream.MaxRange, fromFile.MaxRange);
        Assert.Equal(fromStream.LutValues, fromFile.LutValues);
        Assert.Equal(fromStream.Selection, fromFile.Selection);
        Assert.Equal(File.ReadAllBytes(_temp.File("stream.q.npy")), File.ReadAllBytes(_temp.File("file.q.npy")));
    }
}
