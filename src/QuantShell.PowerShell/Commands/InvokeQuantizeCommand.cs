using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Invoke-Quantize: fake-quantizes .npy files with an inferable quantizer, writing one .npy per input and emitting one
/// QuantizationResult per file. A bad file is a non-terminating error; the other files are still processed.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "Quantize", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType(typeof(QuantizationResult))]
public sealed class InvokeQuantizeCommand : PSCmdlet, IDisposable
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const int ProgressActivityId = 1;

    private readonly CancellationTokenSource _cancellation = new();
    private readonly List<string> _inputs = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private string? _outputPath;
    private string? _outputDirectory;

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true)]
    [ValidateNotNull]
    public InferableQuantizer? Quantizer { get; set; }

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
    }

    // Inputs are collected first so that -OutputPath can be checked against the number of inputs before any
    // file is written, and so that progress can show "n of N".
    protected override void ProcessRecord()
    {
        if (ParameterSetName == PathSet)
        {
            foreach (string path in Path)
            {
                var files = PathResolver.ResolveWildcard(this, path, out var error);
                if (error is not null) { WriteError(error); continue; }
                bool expanded = WildcardPattern.ContainsWildcardCharacters(path);
                foreach (string file in files)
                {
                    // A wildcard that also matches folders quantizes the files among its matches.
                    if (expanded && Directory.Exists(file)) continue;
                    Add(file);
                }
            }
        }
        else
        {
            foreach (string path in LiteralPath)
            {
                string? file = PathResolver.ResolveLiteral(this, path, out var error);
                if (error is not null) { WriteError(error); continue; }
                Add(file!);
            }
        }
    }

    protected override void EndProcessing()
    {
        if (_outputPath is not null && _inputs.Count > 1)
        {
            ThrowTerminatingError(ErrorRecords.Create(
                $"-OutputPath names one file but {_inputs.Count} inputs were given; use -OutputDirectory for several inputs.",
                "OutputPathRequiresSingleInput", ErrorCategory.InvalidArgument, OutputPath));
        }
        var options = new FileQuantizeOptions { Force = Force.IsPresent, AllowNonFinite = AllowNonFinite.IsPresent };
        var progress = new ProgressRecord(ProgressActivityId, "Invoke-Quantize", "Starting");
        bool showProgress = _inputs.Count > 1;
        for (int i = 0; i < _inputs.Count; i++)
        {
            if (_cancellation.IsCancellationRequested) break;
            string input = _inputs[i];
            if (showProgress)
            {
                progress.StatusDescription = $"{i + 1} of {_inputs.Count}: {System.IO.Path.GetFileName(input)}";
                progress.PercentComplete = (int)(100L * i / _inputs.Count);
                WriteProgress(progress);
            }
            QuantizeOne(input, options);
        }
        if (showProgress)
        {
            progress.RecordType = ProgressRecordType.Completed;
            progress.PercentComplete = 100;
            WriteProgress(progress);
        }
    }

    protected override void StopProcessing() => _cancellation.Cancel();

    public void Dispose() => _cancellation.Dispose();

    private void QuantizeOne(string input, FileQuantizeOptions options)
    {
        string output = _outputPath
                        ?? (_outputDirectory is not null
                            ? System.IO.Path.Combine(_outputDirectory, System.IO.Path.GetFileName(input))
                            : FileQuantizer.DefaultOutputPath(input));
        try
        {
            if (_outputDirectory is not null && !Directory.Exists(_outputDirectory))
            {
                // The folder does not exist yet: only the input can be checked now; it is created right before writing.
                if (!File.Exists(input))
                    throw new QuantShellException($"{input}: file not found.", "InputFileNotFound", QuantShellErrorKind.InputOutput, input);
                if (!ShouldProcess(input, $"Quantize into '{output}'")) return;
                Directory.CreateDirectory(_outputDirectory);
            }
            else
            {
                FileQuantizer.CheckPaths(input, output, options.Force);
                if (!ShouldProcess(input, $"Quantize into '{output}'")) return;
            }
            WriteObject(FileQuantizer.QuantizeFile(input, output, Quantizer!, options, _cancellation.Token));
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
    }

    private void Add(string file)
    {
        if (_seen.Add(file)) _inputs.Add(file);
    }

    private string ResolveOrThrow(string path)
    {
        string? resolved = PathResolver.ResolveLiteral(this, path, out var error);
        if (error is not null || resolved is null) ThrowTerminatingError(error!);
        return resolved!;
    }
}
