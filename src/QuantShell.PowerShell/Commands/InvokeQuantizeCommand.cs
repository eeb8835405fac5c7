using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Invoke-Quantize: fake-quantizes .npy files with an inferable quantizer, writing one .npy per input and emitting one
/// QuantizationResult per file. The quantizer is given (-Quantizer) or built from parameters (-Method ...); a threshold or
/// range not given is chosen from the data, per file or, with -Calibrate, once for all files. A bad file is a
/// non-terminating error; the other files are still processed.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "Quantize", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType(typeof(QuantizationResult))]
public sealed class InvokeQuantizeCommand : QuantizerInputCommand, IDisposable
{
    private const int ProgressActivityId = 1;

    private readonly CancellationTokenSource _cancellation = new();
    private string? _outputPath;
    private string? _outputDirectory;
    private string? _exportPath;

    /// <summary>The output file; only for a single input. Default: x.q.npy beside x.npy.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    /// <summary>Folder for the outputs (created if missing); each output keeps its input's file name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputDirectory { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter AllowNonFinite { get; set; }

    /// <summary>Writes the applied quantizer (given or chosen) as a JSON quantizer file; needs one quantizer for all inputs.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ExportQuantizer { get; set; }

    protected override void BeginProcessing()
    {
        if (OutputPath is not null && OutputDirectory is not null)
        {
            ThrowTerminatingError(ErrorRecords.Create("Give either -OutputPath or -OutputDirectory, not both.",
                "OutputPathAndDirectory", ErrorCategory.InvalidArgument, OutputPath));
        }
        if (OutputPath is not null)
            _outputPath = ResolveOrThrow(OutputPath);
        if (OutputDirectory is not null)
            _outputDirectory = ResolveOrThrow(OutputDirectory);
        if (_outputDirectory is not null && File.Exists(_outputDirectory))
        {
            ThrowTerminatingError(ErrorRecords.Create($"{OutputDirectory}: is a file, not a directory.",
                "OutputDirectoryIsFile", ErrorCategory.InvalidArgument, OutputDirectory));
        }
        if (ExportQuantizer is not null)
            _exportPath = ResolveOrThrow(ExportQuantizer);
        PrepareQuantizer();
    }

    // With -OutputPath, -Calibrate or an -ExportQuantizer whose values come from the data, inputs are collected first:
    // -OutputPath is checked against the number of inputs before any file is written, and calibration needs them all.
    // Otherwise each file is handed to a worker as soon as it arrives, so quantizing overlaps the upstream command
    // (Get-ChildItem) and uses both cores; results and errors are still written in input order, on this thread.
    private bool Streaming => _outputPath is null && !Calibrate && (_exportPath is null || CompleteQuantizer is not null);

    private readonly Queue<(string Input, Task<QuantizationResult>? Work)> _pending = new();
    private readonly System.Diagnostics.Stopwatch _progressClock = new();
    private int _submitted, _reported;
    private bool _quantizerFileWritten;

    protected override void ProcessRecord()
    {
        int before = Inputs.Count;
        CollectInputs();
        if (!Streaming) return;
        for (int i = before; i < Inputs.Count; i++) Submit(Inputs[i]);
        ReportFinished(wait: false);
    }

    private void Submit(string input)
    {
        if (_cancellation.IsCancellationRequested) return;
        if (!_quantizerFileWritten && _exportPath is not null)
        {
            _quantizerFileWritten = true;
            CheckQuantizerFileWritable();
            WriteQuantizerFile(CompleteQuantizer!);
        }
        string? output = Prepare(input, Force.IsPresent);
        if (output is null) return;
        var options = new FileQuantizeOptions { Force = Force.IsPresent, AllowNonFinite = AllowNonFinite.IsPresent };
        var shared = CompleteQuantizer;
        // Bounded: at most two files in flight per core.
        while (_pending.Count >= 2 * Environment.ProcessorCount) ReportOne(wait: true);
        _pending.Enqueue((input, Task.Run(() => FileQuantizer.QuantizeFile(input, output, QuantizerFor(input, shared), options, _cancellation.Token))));
        _submitted++;
    }

    /// <summary>Writes the results and errors of finished files, in input order; with <paramref name="wait"/>, of all.</summary>
    private void ReportFinished(bool wait)
    {
        while (_pending.Count > 0 && (wait || _pending.Peek().Work!.IsCompleted)) ReportOne(wait);
        if (_submitted > 1 && (_progressClock.ElapsedMilliseconds >= 250 || !_progressClock.IsRunning))
        {
            _progressClock.Restart();
            WriteProgress(new ProgressRecord(ProgressActivityId, "Invoke-Quantize", $"{_reported} of {_submitted} files quantized"));
        }
    }

    private void ReportOne(bool wait)
    {
        var (input, work) = _pending.Dequeue();
        try
        {
            WriteObject(work!.GetAwaiter().GetResult());
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            // StopProcessing: the core left no partial output; the pipeline is being stopped.
        }
        catch (QuantShellException ex)
        {
            WriteError(ErrorRecords.From(ex, input));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            WriteError(new ErrorRecord(ex, "OutputWriteFailed", ErrorCategory.WriteError, input));
        }
        _reported++;
    }

    protected override void EndProcessing()
    {
        if (Streaming)
        {
            ReportFinished(wait: true);
            if (_submitted > 1)
                WriteProgress(new ProgressRecord(ProgressActivityId, "Invoke-Quantize", "Done") { RecordType = ProgressRecordType.Completed });
            return;
        }
        if (_outputPath is not null && Inputs.Count > 1)
        {
            ThrowTerminatingError(ErrorRecords.Create(
                $"-OutputPath names one file but {Inputs.Count} inputs were given; use -OutputDirectory for several inputs.",
                "OutputPathRequiresSingleInput", ErrorCategory.InvalidArgument, OutputPath));
        }
        if (_exportPath is not null)
        {
            if (Inputs.Count > 1 && CompleteQuantizer is null && !Calibrate)
            {
                ThrowTerminatingError(ErrorRecords.Create(
                    $"-ExportQuantizer writes one quantizer but each of the {Inputs.Count} inputs would get its own chosen values; " +
                    "add -Calibrate to choose one quantizer from all inputs, or give the threshold or range.",
                    "ExportQuantizerRequiresOneQuantizer", ErrorCategory.InvalidArgument, ExportQuantizer));
            }
            CheckQuantizerFileWritable();
        }

        IReadOnlyList<string> inputs = Inputs;
        var shared = CompleteQuantizer;
        if (shared is null && Calibrate)
        {
            (shared, inputs) = CalibrateShared();
            if (shared is null) return;
        }
        if (shared is not null && inputs.Count > 0) WriteQuantizerFile(shared);

        var options = new FileQuantizeOptions { Force = Force.IsPresent, AllowNonFinite = AllowNonFinite.IsPresent };
        var progress = new ProgressRecord(ProgressActivityId, "Invoke-Quantize", "Starting");
        bool showProgress = inputs.Count > 1;
        var progressClock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < inputs.Count; i++)
        {
            if (_cancellation.IsCancellationRequested) break;
            string input = inputs[i];
            // Progress is drawn by the host and costs far more than a small file: refresh it at most 4 times a second.
            if (showProgress && (i == 0 || progressClock.ElapsedMilliseconds >= 250))
            {
                progressClock.Restart();
                progress.StatusDescription = $"{i + 1} of {inputs.Count}: {System.IO.Path.GetFileName(input)}";
                progress.PercentComplete = (int)(100L * i / inputs.Count);
                WriteProgress(progress);
            }
            QuantizeOne(input, options, shared);
        }
        if (showProgress)
        {
            progress.RecordType = ProgressRecordType.Completed;
            progress.PercentComplete = 100;
            WriteProgress(progress);
        }
    }

    private void CheckQuantizerFileWritable()
    {
        try
        {
            AtomicFile.CheckWritable(_exportPath!, Force.IsPresent);
        }
        catch (QuantShellException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex, _exportPath));
        }
    }

    protected override void StopProcessing() => _cancellation.Cancel();

    public void Dispose()
    {
        // A stopped pipeline may leave files in flight: let them finish or cancel (the core removes partial files).
        _cancellation.Cancel();
        foreach (var (_, work) in _pending)
        {
            try { work?.Wait(); } catch (AggregateException) { }
        }
        _cancellation.Dispose();
    }

    private void QuantizeOne(string input, FileQuantizeOptions options, InferableQuantizer? shared)
    {
        string? output = Prepare(input, options.Force);
        if (output is null) return;
        InferableQuantizer? quantizer = null;
        Task<QuantizationResult> work;
        try
        {
            // Chosen after ShouldProcess, so -WhatIf does not read the data.
            quantizer = QuantizerFor(input, shared);
            work = Task.FromResult(FileQuantizer.QuantizeFile(input, output, quantizer, options, _cancellation.Token));
        }
        catch (Exception ex) when (ex is QuantShellException or OperationCanceledException or IOException or UnauthorizedAccessException)
        {
            work = Task.FromException<QuantizationResult>(ex);
        }
        _pending.Enqueue((input, work));
        ReportOne(wait: true);
        if (shared is null && work.IsCompletedSuccessfully) WriteQuantizerFile(quantizer!);
    }

    /// <summary>Checks one input and asks ShouldProcess; returns its output path, or null when skipped or refused (reported).</summary>
    private bool _outputDirectoryExists;

    private string? Prepare(string input, bool force)
    {
        string output = _outputPath
                        ?? (_outputDirectory is not null
                            ? System.IO.Path.Combine(_outputDirectory, System.IO.Path.GetFileName(input))
                            : FileQuantizer.DefaultOutputPath(input));
        try
        {
            if (_outputDirectory is not null && !_outputDirectoryExists && !(_outputDirectoryExists = Directory.Exists(_outputDirectory)))
            {
                // The folder does not exist yet: only the input can be checked now; it is created right before writing.
                if (!File.Exists(input))
                    throw new QuantShellException($"{input}: file not found.", "InputFileNotFound", QuantShellErrorKind.InputOutput, input);
                if (!ShouldProcess(input, $"Quantize into '{output}'")) return null;
                Directory.CreateDirectory(_outputDirectory);
                _outputDirectoryExists = true;
            }
            else
            {
                // Streaming: the worker's QuantizeFile checks the paths itself, off this (pipeline) thread; an error
                // then arrives as that file's error record, in order, as it would from here.
                if (!Streaming) FileQuantizer.CheckPaths(input, output, force);
                if (!ShouldProcess(input, $"Quantize into '{output}'")) return null;
            }
            return output;
        }
        catch (QuantShellException ex)
        {
            WriteError(ErrorRecords.From(ex, input));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            WriteError(new ErrorRecord(ex, "OutputWriteFailed", ErrorCategory.WriteError, input));
        }
        return null;
    }

    // A quantizer file that cannot be written stops the pipeline, as in Export-InferableQuantizer.
    private void WriteQuantizerFile(InferableQuantizer quantizer)
    {
        if (_exportPath is null || !ShouldProcess(_exportPath, "Write quantizer file")) return;
        try
        {
            QuantizerFile.Write(_exportPath, quantizer.Spec, Force.IsPresent);
        }
        catch (QuantShellException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex, _exportPath));
        }
    }

    private string ResolveOrThrow(string path)
    {
        string? resolved = PathResolver.ResolveLiteral(this, path, out var error);
        if (error is not null || resolved is null) ThrowTerminatingError(error!);
        return resolved!;
    }
}
