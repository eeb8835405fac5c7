using QuantShell.Core.Errors;
using QuantShell.Core.IO;

namespace QuantShell.Core.Jobs;

/// <summary>
/// The output rule of a job that writes one file per input: OutputPath (one input), an output stream, OutputDirectory
/// (created when the first file is written; names kept), or a default name beside the input. Checks each output before
/// anything is read: no two inputs onto one name, never the input, never an existing file without Force.
/// </summary>
internal sealed class OutputPlanner
{
    private readonly string? _outputPath, _outputDirectory, _outputPathAsGiven, _outputDirectoryAsGiven;
    private readonly Stream? _outputStream;
    private readonly bool _force;
    private readonly Func<string, string> _defaultName;
    private readonly string _severalInputs;
    private readonly HashSet<string> _outputs = new(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
    private bool _directoryReady;

    /// <summary>
    /// The rule of a job's outputs: <paramref name="defaultName"/> names the output beside an input (see <see cref="Beside"/>);
    /// <paramref name="severalInputs"/> tells a user who gave OutputPath with several inputs what to do instead.
    /// </summary>
    public OutputPlanner(string? outputPath, string? outputDirectory, Stream? outputStream, bool force, Func<string, string> defaultName,
                         string severalInputs = "use OutputDirectory for several inputs")
    {
        if (outputPath is not null && outputDirectory is not null)
            throw Usage($"{Parameter.OutputPath} and {Parameter.OutputDirectory} cannot both be given: {Parameter.OutputPath} names the one output file, {Parameter.OutputDirectory} a folder for several.", ErrorIds.OptionConflict, Parameter.OutputDirectory);
        if (outputStream is not null && (outputPath is not null || outputDirectory is not null))
            throw Usage($"An output stream excludes {Parameter.OutputPath} and {Parameter.OutputDirectory}.", ErrorIds.OptionConflict, Parameter.OutputPath);
        _outputPathAsGiven = outputPath;
        _outputDirectoryAsGiven = outputDirectory;
        _outputPath = outputPath is null ? null : Path.GetFullPath(outputPath);
        _outputDirectory = outputDirectory is null ? null : Path.GetFullPath(outputDirectory);
        _outputStream = outputStream;
        _force = force;
        _defaultName = defaultName;
        _severalInputs = severalInputs;
        if (_outputDirectory is not null && File.Exists(_outputDirectory))
            throw new QuantShellException($"{outputDirectory}: is a file, not a directory.", ErrorIds.OutputDirectoryIsFile, QuantShellErrorKind.WriteFailed, outputDirectory);
    }

    /// <summary>True when every input goes to one place (OutputPath or the stream), so only one input is allowed.</summary>
    public bool SingleOutput => _outputPath is not null || _outputStream is not null;

    /// <summary>Refuses several inputs for one output.</summary>
    public void CheckCount(int inputs)
    {
        if (SingleOutput && inputs > 1)
            throw Usage($"{Parameter.OutputPath} names one file but {inputs} inputs were given; {_severalInputs}.", ErrorIds.OutputPathWithSeveralInputs, Parameter.OutputPath);
    }

    /// <summary>Names and checks an input's output (on the caller's thread, before anything is read).</summary>
    public OutputTarget For(JobInput input)
    {
        var output = Name(input);
        if (output.Path is null)
        {
            input.CheckReadable();
            return output;
        }
        if (!_outputs.Add(output.Path))
            throw new QuantShellException($"{input.Name}: its output {output.Path} is also the output of an earlier input; give inputs with distinct file names.", ErrorIds.OutputCollision, QuantShellErrorKind.InvalidArgument, output.Path);
        // A folder still to be created holds no file yet: only the input can be checked before it is.
        if (!_directoryReady && _outputDirectory is not null && !Directory.Exists(_outputDirectory)) input.CheckReadable();
        else if (input.FullPath is not null) PathChecks.CheckInputAndOutput(input.FullPath, output.Path, _force, input.Name, output.Name);
        else AtomicFile.CheckWritable(output.Path, _force, output.Name);
        return output;
    }

    /// <summary>Creates OutputDirectory the first time a file is about to be written into it.</summary>
    public void EnsureDirectory()
    {
        if (_directoryReady || _outputDirectory is null) return;
        try
        {
            Directory.CreateDirectory(_outputDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{_outputDirectoryAsGiven}: the output directory cannot be created ({ex.Message}).", ErrorIds.OutputDirectoryUnwritable, QuantShellErrorKind.WriteFailed, _outputDirectoryAsGiven, ex);
        }
        _directoryReady = true;
    }

    /// <summary>
    /// The default output of an input: beside it, named <c>NAME.TAG.EXT</c> with the input's extension unless
    /// <paramref name="extension"/> is given; a tag that an earlier step put on the name (<paramref name="replacing"/>:
    /// <c>m.int.pt</c>) is taken off first.
    /// </summary>
    public static string Beside(string inputPath, string tag, string? extension = null, params string[] replacing)
    {
        string name = Path.GetFileNameWithoutExtension(inputPath);
        foreach (string earlier in replacing)
        {
            if (!name.EndsWith("." + earlier, StringComparison.Ordinal)) continue;
            name = name[..^(earlier.Length + 1)];
            break;
        }
        return Path.Combine(Path.GetDirectoryName(inputPath) ?? "", $"{name}.{tag}{extension ?? Path.GetExtension(inputPath)}");
    }

    /// <summary>
    /// The inverse of <see cref="Beside"/>: the existing files whose default output <paramref name="fullPath"/> would be
    /// under one of <paramref name="tags"/> (<c>x.q.npy</c> → <c>x.npy</c>, and <c>x</c> for an input without extension,
    /// whose output gets <c>.npy</c>). Empty when the name carries none of the tags or no such file exists.
    /// </summary>
    public static IReadOnlyList<string> SourcesBeside(string fullPath, IEnumerable<string> tags)
    {
        string stem = Path.GetFileNameWithoutExtension(fullPath), extension = Path.GetExtension(fullPath);
        string tag = Path.GetExtension(stem);
        if (tag.Length < 2 || !tags.Contains(tag[1..], StringComparer.Ordinal)) return [];
        string directory = Path.GetDirectoryName(fullPath) ?? "", name = Path.GetFileNameWithoutExtension(stem);
        if (name.Length == 0) return [];
        var sources = new List<string> { Path.Combine(directory, name + extension) };
        if (extension.Equals(".npy", StringComparison.OrdinalIgnoreCase) && !Path.HasExtension(name)) sources.Add(Path.Combine(directory, name));
        return sources.Where(File.Exists).ToList();
    }

    private OutputTarget Name(JobInput input)
    {
        if (_outputStream is not null) return new OutputTarget(null, JobInput.StandardOutputName, _outputStream);
        if (_outputPath is not null) return new OutputTarget(_outputPath, _outputPathAsGiven!, null);
        if (input.FullPath is null)
            throw Usage($"{input.Name}: reading from a stream needs {Parameter.OutputPath} (a file) or an output stream.", ErrorIds.StdinNeedsOutput, Parameter.OutputPath);
        if (_outputDirectory is not null)
        {
            string path = Path.Combine(_outputDirectory, Path.GetFileName(input.FullPath));
            return new OutputTarget(path, path, null);
        }
        return new OutputTarget(_defaultName(input.FullPath), _defaultName(input.Name), null);
    }

    private static QuantShellException Usage(string message, string errorId, Parameter parameter) =>
        new(message, errorId, QuantShellErrorKind.InvalidArgument, parameter.Name);
}
