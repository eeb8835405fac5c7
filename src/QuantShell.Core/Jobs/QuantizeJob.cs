using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Jobs;

/// <summary>
/// Quantizes inputs into outputs: resolves the quantizer (given, chosen per input, or calibrated over all inputs),
/// names and checks each output, asks the host before each write, reads each input once, writes atomically, and
/// reports one result per tensor or one error per input.
/// </summary>
public sealed class QuantizeJob : InputJob<QuantizationResult>
{
    private readonly QuantizeRequest _request;
    private readonly QuantizerRequest _quantizer;
    private readonly string? _outputPath, _outputDirectory, _exportPath;
    private readonly HashSet<string> _outputs = new(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
    private bool _outputDirectoryReady, _quantizerExported;

    /// <summary>Checks the request (every rule that needs no input) and reads the quantizer file, if any.</summary>
    public QuantizeJob(QuantizeRequest request, JobHost<QuantizationResult> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _quantizer = request.Quantizer.ToRequest();
        if (request.OutputPath is not null && request.OutputDirectory is not null)
            throw Usage("OutputPath and OutputDirectory cannot both be given: OutputPath names the one output file, OutputDirectory a folder for several.", ErrorIds.OptionConflict, "OutputDirectory");
        if (request.OutputStream is not null && (request.OutputPath is not null || request.OutputDirectory is not null))
            throw Usage("An output stream excludes OutputPath and OutputDirectory.", ErrorIds.OptionConflict, "OutputPath");
        _outputPath = request.OutputPath is null ? null : Path.GetFullPath(request.OutputPath);
        _outputDirectory = request.OutputDirectory is null ? null : Path.GetFullPath(request.OutputDirectory);
        if (_outputDirectory is not null && File.Exists(_outputDirectory))
            throw new QuantShellException($"{request.OutputDirectory}: is a file, not a directory.", ErrorIds.OutputDirectoryIsFile, QuantShellErrorKind.InvalidArgument, request.OutputDirectory);
        if (request.ExportQuantizerPath is not null)
        {
            _exportPath = Path.GetFullPath(request.ExportQuantizerPath);
            AtomicFile.CheckWritable(_exportPath, request.Force, request.ExportQuantizerPath);
        }
    }

    /// <summary>The checked quantizer request (complete, or with values to choose).</summary>
    public QuantizerRequest Quantizer => _quantizer;

    protected override string Activity => "Quantize";

    // One output path needs the count of inputs before anything is written; calibration needs them all; a quantizer
    // file of values chosen per input is only possible for a single input.
    protected override bool CollectsInputs =>
        _outputPath is not null || _request.OutputStream is not null || _quantizer.Calibrates || (_exportPath is not null && _quantizer.ChoosesFromData);

    /// <summary>Runs a whole job: adds every input, completes, and returns it for its counts.</summary>
    public static QuantizeJob Run(QuantizeRequest request, IEnumerable<JobInput> inputs, JobHost<QuantizationResult> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new QuantizeJob(request, host, cancellationToken), inputs);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        if ((_outputPath is not null || _request.OutputStream is not null) && inputs.Count > 1)
            throw Usage($"OutputPath names one file but {inputs.Count} inputs were given; use OutputDirectory for several inputs.", ErrorIds.OutputPathWithSeveralInputs, "OutputPath");
        if (_exportPath is not null && _quantizer.ChoosesFromData && !_quantizer.Calibrates && inputs.Count > 1)
            throw Usage($"ExportQuantizer writes one quantizer but each of the {inputs.Count} inputs would get its own chosen values; add Calibrate to choose one from all inputs, or give the values.",
                ErrorIds.ExportQuantizerNeedsOneQuantizer, "ExportQuantizer");
        if (!_quantizer.Calibrates)
        {
            base.StartCollected(inputs);
            return;
        }

        // Calibration: every input is read once; the arrays serve both choosing and quantizing. An input that cannot be
        // read is reported and left out of the pool.
        var readable = new List<(JobInput Input, NpyArray Array)>(inputs.Count);
        foreach (var input in inputs)
        {
            Cancellation.ThrowIfCancellationRequested();
            try
            {
                readable.Add((input, input.ReadArray()));
            }
            catch (QuantShellException ex)
            {
                Fail(input, ex);
            }
        }
        if (readable.Count == 0)
            throw new QuantShellException("No readable input is left to choose the quantizer from.", ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidData);
        var quantizer = _quantizer.ResolveFor(readable.Select(r => r.Array).ToList(), string.Join(", ", readable.Select(r => r.Input.Name)));
        var selection = _quantizer.Describe(readable.Count);
        ExportQuantizer(quantizer.Spec);
        foreach (var (input, array) in readable)
        {
            if (Cancellation.IsCancellationRequested) break;
            StartOne(input, (output, token) => WriteArray(array, input, output, quantizer, selection, token));
        }
    }

    protected override void Start(JobInput input)
    {
        if (!_quantizer.ChoosesFromData)
        {
            ExportQuantizer(_quantizer.Spec);
            var quantizer = _quantizer.Complete;
            StartOne(input, (output, token) => output.Stream is null && !input.IsStream
                ? FileQuantizer.QuantizeFile(input.Name, output.Name, quantizer, Options(null), token)
                : StreamToOutput(input, output, quantizer, token));
            return;
        }
        // Chosen from this input alone: read it once, choose, quantize the array in memory.
        StartOne(input, (output, token) =>
        {
            var array = input.ReadArray();
            var quantizer = _quantizer.ResolveFor([array], input.Name);
            return WriteArray(array, input, output, quantizer, _quantizer.Describe(1), token);
        });
    }

    // Values chosen from the single input (the job has one when it exports them): written once that input is done.
    protected override void Delivered(JobInput input, IReadOnlyList<QuantizationResult> results)
    {
        if (_exportPath is not null && _quantizer.ChoosesFromData && !_quantizer.Calibrates && results.Count > 0)
            ExportQuantizer(results[0].Quantizer);
    }

    /// <summary>Names and checks the output, asks the host, then queues the work.</summary>
    private void StartOne(JobInput input, Func<OutputTarget, CancellationToken, QuantizationResult> work)
    {
        OutputTarget output;
        try
        {
            output = OutputFor(input);
            if (output.Path is not null)
            {
                if (!_outputs.Add(output.Path))
                    throw new QuantShellException($"{input.Name}: its output {output.Path} is also the output of an earlier input; give inputs with distinct file names.", ErrorIds.OutputCollision, QuantShellErrorKind.InvalidArgument, output.Path);
                // A folder still to be created holds no file yet: only the input can be checked before it is.
                if (!_outputDirectoryReady && _outputDirectory is not null && !Directory.Exists(_outputDirectory)) input.CheckReadable();
                else if (input.FullPath is not null) FileQuantizer.CheckPaths(input.FullPath, output.Path, _request.Force, input.Name, output.Name);
                else AtomicFile.CheckWritable(output.Path, _request.Force, output.Name);
            }
            else
            {
                input.CheckReadable();
            }
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        if (!Host.ShouldProcess(input.Name, $"Quantize into '{output.Name}'")) return;
        try
        {
            EnsureOutputDirectory();
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        Enqueue(input, token => [work(output, token)]);
    }

    private FileQuantizeOptions Options(SelectionInfo? selection) =>
        new() { Force = _request.Force, AllowNonFinite = _request.AllowNonFinite, ChunkBytes = _request.ChunkBytes, Selection = selection };

    // A stream in (stdin) or out (stdout): read once, in order.
    private QuantizationResult StreamToOutput(JobInput input, OutputTarget output, InferableQuantizer quantizer, CancellationToken token)
    {
        using var source = input.Open();
        if (output.Stream is not null)
            return FileQuantizer.QuantizeStream(source, input.Name, output.Stream, output.Name, quantizer, Options(null), token);
        return AtomicFile.Write(output.Path!, _request.Force,
            stream => FileQuantizer.QuantizeStream(source, input.Name, stream, output.Path!, quantizer, Options(null), token), output.Name);
    }

    private QuantizationResult WriteArray(NpyArray array, JobInput input, OutputTarget output, InferableQuantizer quantizer, SelectionInfo? selection, CancellationToken token)
    {
        var options = Options(selection);
        if (output.Stream is not null)
            return FileQuantizer.QuantizeArray(array, input.Name, output.Stream, output.Name, quantizer, options, token);
        return AtomicFile.Write(output.Path!, _request.Force,
            stream => FileQuantizer.QuantizeArray(array, input.Name, stream, output.Path!, quantizer, options, token), output.Name);
    }

    /// <summary>Where an input's output goes: the stream, OutputPath, a file in OutputDirectory, or <c>x.q.npy</c> beside it.</summary>
    private OutputTarget OutputFor(JobInput input)
    {
        if (_request.OutputStream is not null) return new OutputTarget(null, JobInput.StandardOutputName, _request.OutputStream);
        if (_outputPath is not null) return new OutputTarget(_outputPath, _request.OutputPath!, null);
        if (input.FullPath is null)
            throw Usage($"{input.Name}: reading from a stream needs OutputPath (a file) or an output stream.", ErrorIds.StdinNeedsOutput, "OutputPath");
        if (_outputDirectory is not null)
        {
            string path = Path.Combine(_outputDirectory, Path.GetFileName(input.FullPath));
            return new OutputTarget(path, path, null);
        }
        string beside = FileQuantizer.DefaultOutputPath(input.FullPath);
        return new OutputTarget(beside, FileQuantizer.DefaultOutputPath(input.Name), null);
    }

    private void EnsureOutputDirectory()
    {
        if (_outputDirectoryReady || _outputDirectory is null) return;
        try
        {
            Directory.CreateDirectory(_outputDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{_request.OutputDirectory}: the output directory cannot be created ({ex.Message}).", ErrorIds.OutputDirectoryUnwritable, QuantShellErrorKind.WriteFailed, _request.OutputDirectory, ex);
        }
        _outputDirectoryReady = true;
    }

    // A quantizer file is written once, when the quantizer for all inputs is known and something is about to be quantized.
    private void ExportQuantizer(QuantizerSpec spec)
    {
        if (_exportPath is null || _quantizerExported) return;
        _quantizerExported = true;
        if (Host.ShouldProcess(_exportPath, "Write quantizer file"))
            QuantizerFile.Write(_exportPath, spec, _request.Force, _request.ExportQuantizerPath);
    }

    private static QuantShellException Usage(string message, string errorId, string parameter) =>
        new(message, errorId, QuantShellErrorKind.InvalidArgument, parameter);

    /// <summary>An output: a file (full path, and the name used in messages) or a stream.</summary>
    private readonly record struct OutputTarget(string? Path, string Name, Stream? Stream);
}
