using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Tests;

/// <summary>
/// What every job over inputs does the same way: our own default outputs among the inputs are skipped with a warning
/// (docs/safety.md), and progress counts inputs right and is closed at the end.
/// </summary>
public sealed class InputJobTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A host that keeps everything it is given; <see cref="Decline"/> names inputs ShouldProcess refuses.</summary>
    private sealed class Host<T> : JobHost<T>
    {
        public List<T> Results { get; } = [];

        /// <summary>The tensors' results of a quantize job's reports (an .npy file's report is its one tensor).</summary>
        public List<QuantizationResult> Tensors => Results.OfType<QuantizationReport>().SelectMany(r => r.TensorResults()).ToList();
        public List<QuantShellException> Errors { get; } = [];
        public List<string> Warnings { get; } = [];
        public List<JobProgress> Progress { get; } = [];
        public HashSet<string> Decline { get; } = [];

        public override bool ShouldProcess(string target, string action) => !Decline.Contains(Path.GetFileName(target));
        public override void WriteResult(T result) => Results.Add(result);
        public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
        public override void WriteWarning(string message, JobInput? input) => Warnings.Add(message);
        public override void WriteProgress(JobProgress progress) => Progress.Add(progress);
    }

    private string Npy(string name, int seed, long[]? shape = null)
    {
        shape ??= [4, 6];
        var random = new Random(seed);
        var values = Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        string path = _temp.File(name);
        new NpyArray(shape, values).Write(path);
        return path;
    }

    private static Host<QuantizationReport> Quantize(QuantizeRequest request, IEnumerable<string> inputs)
    {
        var host = new Host<QuantizationReport>();
        QuantizeJob.Run(request, inputs.Select(JobInput.File), host);
        Assert.True(host.Errors.Count == 0, string.Join("\n", host.Errors.Select(e => e.Message)));
        return host;
    }

    private static readonly QuantizeRequest Calibrated = new() { Quantizer = new QuantizerArguments { Calibrate = true } };

    [Fact]
    public void Calibrate_RunTwiceOverAWildcard_SkipsTheFirstRunsOutputs()
    {
        string batch1 = Npy("batch1.npy", 1), batch2 = Npy("batch2.npy", 2);
        var first = Quantize(Calibrated, [batch1, batch2]);
        Assert.Equal(2, first.Tensors.Count);
        Assert.Empty(first.Warnings);

        // What batch*.npy matches the second time, in a listing's order.
        string[] matched = [batch1, _temp.File("batch1.q.npy"), batch2, _temp.File("batch2.q.npy")];
        var second = Quantize(Calibrated with { Force = true }, matched);
        Assert.Equal(2, second.Tensors.Count);
        Assert.All(second.Tensors, r => Assert.Equal(2, r.Selection!.InputCount));
        Assert.Equal(first.Tensors[0].Threshold, second.Tensors[0].Threshold);
        Assert.Equal(2, second.Warnings.Count);
        Assert.StartsWith($"{_temp.File("batch1.q.npy")}: skipped: it is named as the default output of {batch1}, which is also an input", second.Warnings[0]);
        Assert.StartsWith($"{_temp.File("batch2.q.npy")}: skipped", second.Warnings[1]);
        Assert.False(File.Exists(_temp.File("batch1.q.q.npy")));
        Assert.False(File.Exists(_temp.File("batch2.q.q.npy")));
    }

    [Fact]
    public void OwnOutputBeforeItsSource_IsSkippedToo()
    {
        // A listing puts x.int.npy before x.npy ('i' < 'n'): the job holds it until it knows.
        string x = Npy("x.npy", 3), own = Npy("x.int.npy", 4);
        var host = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), MaxParallelism = 1 }, [own, x]);
        var result = Assert.Single(host.Tensors);
        Assert.Equal(x, result.InputPath);
        Assert.Contains($"{own}: skipped", Assert.Single(host.Warnings));
        Assert.False(File.Exists(_temp.File("x.int.q.npy")));
    }

    [Fact]
    public void OwnOutputNamedWithoutItsSource_IsQuantized()
    {
        Npy("x.npy", 5);
        string own = Npy("x.q.npy", 6);
        var host = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments() }, [own]);
        Assert.Equal(own, Assert.Single(host.Tensors).InputPath);
        Assert.Empty(host.Warnings);
        Assert.True(File.Exists(_temp.File("x.q.q.npy")));
    }

    [Fact]
    public void NamesThatOnlyLookLikeOutputs_AreQuantized()
    {
        // "q" of a file beside which no x.npy exists, and tags that are not ours, are ordinary names.
        string[] inputs = [Npy("y.q.npy", 7), Npy("z.npy", 8), Npy("z.fp16.npy", 9)];
        var host = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments() }, inputs);
        Assert.Equal(inputs, host.Tensors.Select(r => r.InputPath));
        Assert.Empty(host.Warnings);
    }

    [Fact]
    public void Measure_SkipsOwnOutputsToo()
    {
        string w = Npy("w.npy", 10);
        Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments() }, [w]);
        var host = new Host<MeasurementResult>();
        MeasureJob.Run(new MeasureRequest { Quantizer = new QuantizerArguments() }, [JobInput.File(w), JobInput.File(_temp.File("w.q.npy"))], host);
        Assert.Equal(w, Assert.Single(host.Results).InputPath);
        Assert.Single(host.Warnings);
    }

    /// <summary>Every record counts inputs that exist: the one shown is at most the last one, done at most all.</summary>
    private static void AssertCountsRight(IReadOnlyList<JobProgress> progress, int inputs)
    {
        Assert.NotEmpty(progress);
        foreach (var record in progress.Take(progress.Count - 1))
        {
            Assert.False(record.Completed);
            Assert.True(record.Done <= record.Known && record.Known <= inputs, record.Status);
            if (record.Current is not null) Assert.True(record.Done + 1 <= record.Known, record.Status);
        }
        var last = progress[^1];
        Assert.True(last.Completed, "the last progress record completes the bar");
        Assert.Equal(inputs, last.Done);
        Assert.Equal(inputs, last.Known);
    }

    [Fact]
    public void Progress_OfOneInput_IsCompleted()
    {
        // Calibrate collects its inputs, so even one input shows progress: "1 of 1", then completed (never "2 of 1").
        string only = Npy("only.npy", 11);
        var host = Quantize(Calibrated, [only]);
        AssertCountsRight(host.Progress, 1);
        Assert.Equal("1 of 1: only.npy", host.Progress[0].Status);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Progress_OfInputsAddedOneByOne_CountsThem(int parallelism)
    {
        string[] inputs = [Npy("a.npy", 12), Npy("b.npy", 13), Npy("c.npy", 14)];
        var host = new Host<QuantizationReport>();
        using var job = new QuantizeJob(new QuantizeRequest { Quantizer = new QuantizerArguments(), MaxParallelism = parallelism }, host);
        foreach (string input in inputs)
        {
            job.Add(JobInput.File(input));
            Thread.Sleep(300); // past the progress interval, so that each input's record is drawn
        }
        job.Complete();
        Assert.Equal(3, host.Tensors.Count);
        AssertCountsRight(host.Progress, 3);
    }

    [Fact]
    public void Progress_LeavesOutInputsDeclined()
    {
        string[] inputs = [Npy("a.npy", 15), Npy("b.npy", 16), Npy("c.npy", 17)];
        var host = new Host<QuantizationReport>();
        host.Decline.Add("b.npy");
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), MaxParallelism = 1 }, inputs.Select(JobInput.File), host);
        Assert.Equal(2, host.Tensors.Count);
        AssertCountsRight(host.Progress, 2);
    }
}
