using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Plotting;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;
using QuantShell.Plotting;

namespace QuantShell.Core.Tests;

/// <summary>
/// A full disk, for real: a 1 MiB tmpfs mounted by the test (as root; skipped with the reason elsewhere) and filled up.
/// Every writer of the core must fail with NoSpaceLeft naming the output, leave no temporary file, and leave an
/// existing output byte-identical. A new kind of output (model files, ONNX) adds its writer to <see cref="Writers"/>.
/// </summary>
public sealed class DiskFullTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly InferableQuantizer Quantizer = new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 2.0);

    /// <summary>Every way the core writes a file, by name: (output path, options) → write it.</summary>
    private IReadOnlyList<(string Name, Action<string, WriteOptions> Write)> Writers()
    {
        var random = new Random(14);
        // Larger than the whole file system, so the streaming path fills it mid-file.
        var big = new NpyArray([2 << 20], Enumerable.Range(0, 2 << 20).Select(_ => (float)random.NextDouble()).ToArray());
        string bigInput = _temp.File("big.npy");
        big.Write(bigInput);
        var small = new NpyArray([64], Enumerable.Range(0, 64).Select(i => i / 32f - 1).ToArray());
        // A model file larger than the file system, and its int format (to dequantize).
        string model = _temp.File("big.npz"), codes = _temp.File("big.int.npz");
        using (var stream = File.Create(model))
            TensorFiles.Write(TensorFileKind.Npz, stream, [new OutputTensor("w", DType.Float32, [2048, 1024], s => s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(((float[])big.Data).AsSpan())))],
                new Dictionary<string, string>(), CancellationToken.None);
        RunJob(new QuantizeRequest { Quantizer = new QuantizerArguments { Threshold = [2.0] }, OutputPath = codes, Format = OutputFormat.Int }, model);
        var figure = QuantizationFigure.Create(small, Quantizer, QuantizationMetrics.Measure(small, Quantizer, "small.npy"));
        return
        [
            ("tensor streamed (NpyQuantizer.QuantizeFile)", (path, options) =>
                NpyQuantizer.QuantizeFile(bigInput, path, Quantizer, new FileQuantizeOptions { Force = options.Force, Fsync = options.Fsync })),
            ("tensor in memory (NpyArray.Write)", (path, options) => small.Write(path, options)),
            ("quantizer file (QuantizerFile.Write)", (path, options) => QuantizerFile.Write(path, Quantizer.Spec, options)),
            ("plot (PlotFile.Write, PNG)", (path, options) => PlotFile.Write(path, figure, new ScottPlotQuantizationPlotter(), PlotFormat.Png, options)),
            ("model file, fake format (QuantizeJob)", (path, options) =>
                RunJob(new QuantizeRequest { Quantizer = new QuantizerArguments { Threshold = [2.0] }, OutputPath = path, Force = options.Force, Fsync = options.Fsync }, model)),
            ("model file, int format (QuantizeJob)", (path, options) =>
                RunJob(new QuantizeRequest { Quantizer = new QuantizerArguments { Threshold = [2.0] }, OutputPath = path, Force = options.Force, Fsync = options.Fsync, Format = OutputFormat.Int }, model)),
            ("dequantized model file (DequantizeJob)", (path, options) =>
            {
                var host = new CollectingHost<DequantizationResult>();
                DequantizeJob.Run(new DequantizeRequest { OutputPath = path, Force = options.Force, Fsync = options.Fsync }, [JobInput.File(codes)], host);
                if (host.Errors.Count > 0) throw host.Errors[0];
            }),
        ];
    }

    /// <summary>Runs a quantize job on one input; its one error, if any, is thrown as the other writers throw theirs.</summary>
    private static void RunJob(QuantizeRequest request, string input)
    {
        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(request, [JobInput.File(input)], host);
        if (host.Errors.Count > 0) throw host.Errors[0];
    }

    [SkippableFact]
    public void EveryWriter_OnAFullDisk_FailsWithNoSpaceLeft_AndLosesNothing()
    {
        using var mount = ScratchMount.Tmpfs(_temp.File("full"), 1 << 20);
        var writers = Writers();
        byte[] existing = Enumerable.Range(0, 100).Select(i => (byte)(i * 7)).ToArray();
        for (int i = 0; i < writers.Count; i++) File.WriteAllBytes(Path.Combine(mount.Path, $"existing{i}.out"), existing);
        Fill(mount.Path);

        int ran = 0;
        for (int i = 0; i < writers.Count; i++)
        {
            var (name, write) = writers[i];
            string replaced = Path.Combine(mount.Path, $"existing{i}.out");
            var ex = Assert.Throws<QuantShellException>(() => write(replaced, new WriteOptions { Force = true, Fsync = i % 2 == 0 }));
            Assert.True(ex.ErrorId == ErrorIds.NoSpaceLeft, $"{name}: {ex.ErrorId}: {ex.Message}");
            Assert.Equal(QuantShellErrorKind.WriteFailed, ex.Kind);
            Assert.Contains(replaced, ex.Message);
            Assert.Equal(existing, File.ReadAllBytes(replaced));

            string fresh = Path.Combine(mount.Path, $"new{i}.out");
            ex = Assert.Throws<QuantShellException>(() => write(fresh, WriteOptions.Default));
            Assert.True(ex.ErrorId == ErrorIds.NoSpaceLeft, $"{name}: {ex.ErrorId}: {ex.Message}");
            Assert.False(File.Exists(fresh), name);
            Assert.Empty(Directory.GetFiles(mount.Path, "*.tmp"));
            ran++;
        }
        Assert.Equal(7, ran); // every writer of the core: tensors, quantizer file, plot, model files (fake, int), dequantized
    }

    [SkippableFact]
    public void QuantizeJob_IntoAFullDisk_ReportsNoSpaceLeft_AndGoesOnWithTheNextInput()
    {
        using var mount = ScratchMount.Tmpfs(_temp.File("full"), 1 << 20);
        var random = new Random(141);
        // The first input does not fit; the second, 1 KiB, fits in what the first one gave back.
        new NpyArray([1 << 20], Enumerable.Range(0, 1 << 20).Select(_ => (float)random.NextDouble()).ToArray()).Write(_temp.File("a.npy"));
        new NpyArray([256], Enumerable.Range(0, 256).Select(_ => (float)random.NextDouble()).ToArray()).Write(_temp.File("b.npy"));
        var host = new RecordingHost();
        var job = QuantizeJob.Run(new QuantizeRequest
        {
            Quantizer = new QuantizerArguments { Method = QuantizationMethod.Symmetric, Threshold = [1.0] },
            OutputDirectory = mount.Path,
            MaxParallelism = 1,
        }, [JobInput.File(_temp.File("a.npy")), JobInput.File(_temp.File("b.npy"))], host);
        Assert.Equal((1, 1), (job.Succeeded, job.Failed));
        var error = Assert.Single(host.Errors);
        Assert.Equal(ErrorIds.NoSpaceLeft, error.ErrorId);
        Assert.Contains(Path.Combine(mount.Path, "a.npy"), error.Message);
        Assert.Equal(new[] { "b.npy" }, Directory.GetFiles(mount.Path).Select(Path.GetFileName));
    }

    /// <summary>Writes a filler file until the file system refuses another byte.</summary>
    private static void Fill(string folder)
    {
        using var filler = new FileStream(Path.Combine(folder, "filler"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        var chunk = new byte[4096];
        try
        {
            while (true) filler.Write(chunk);
        }
        catch (IOException ex) when (AtomicFile.ErrnoOf(ex) == 28)
        {
            // ENOSPC: full.
        }
    }
}
