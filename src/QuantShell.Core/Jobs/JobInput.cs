using QuantShell.Core.Formats;
using QuantShell.Core.IO;

namespace QuantShell.Core.Jobs;

/// <summary>One input of a job: a file, or a stream (the command line's stdin) with a name for messages.</summary>
public sealed class JobInput
{
    /// <summary>How a stream read from standard input is named in messages and results.</summary>
    public const string StandardInputName = "<stdin>";

    /// <summary>How an output written to a stream (standard output) is named in messages and results.</summary>
    public const string StandardOutputName = "<stdout>";

    private readonly Func<Stream>? _openStream;

    private JobInput(string name, string? fullPath, Func<Stream>? openStream)
    {
        Name = name;
        FullPath = fullPath;
        _openStream = openStream;
    }

    /// <summary>A file; <paramref name="path"/> is kept as given for messages.</summary>
    public static JobInput File(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new JobInput(path, System.IO.Path.GetFullPath(path), null);
    }

    /// <summary>A stream, opened when the job reads it (once).</summary>
    public static JobInput Stream(string name, Func<Stream> open) => new(name, null, open ?? throw new ArgumentNullException(nameof(open)));

    /// <summary>Standard input.</summary>
    public static JobInput StandardInput(Func<Stream> open) => Stream(StandardInputName, open);

    /// <summary>The input as given: a path (relative or not), or the stream's name. Errors start with it.</summary>
    public string Name { get; }

    /// <summary>The file's full path; null for a stream.</summary>
    public string? FullPath { get; }

    public bool IsStream => _openStream is not null;

    /// <summary>Whether the input is a folder (a Hugging Face model folder is one input to the jobs that take one).</summary>
    public bool IsFolder => FullPath is not null && Directory.Exists(FullPath);

    /// <summary>How results name the input: the full path of a file, the name of a stream.</summary>
    public string ResultPath => FullPath ?? Name;

    /// <summary>How results name an input known by its name: standard input by its name, a file by its full path.</summary>
    internal static string ResultPathOf(string name) => name == StandardInputName ? name : System.IO.Path.GetFullPath(name);

    /// <summary>Checks that a file input exists and is a file (a stream always may be read).</summary>
    internal void CheckReadable()
    {
        if (FullPath is not null) PathChecks.CheckInput(FullPath, Name);
    }

    /// <summary>Reads the whole input as an array (once: the same array then serves choosing, quantizing, measuring).</summary>
    internal NpyArray ReadArray()
    {
        if (_openStream is not null)
        {
            using var stream = _openStream();
            return NpyArray.Read(stream, Name);
        }
        CheckReadable();
        using var file = NpyFiles.OpenRead(FullPath!, Name);
        return NpyArray.Read(file, Name);
    }

    /// <summary>
    /// The kind of tensor file this input is: streams are .npy; files by their content, an unrecognised one as .npy unless
    /// its extension names a model format (so a text file called x.npy gets the .npy reader's clear error).
    /// </summary>
    internal TensorFileKind Kind()
    {
        if (FullPath is null) return TensorFileKind.Npy;
        CheckReadable();
        if (TensorFiles.Recognize(FullPath) is { } kind) return kind;
        string extension = System.IO.Path.GetExtension(FullPath);
        if (ModelExtensions.Contains(extension)) return TensorFileKind.Safetensors;
        // A file that names no kind (x.txt, w.h5) and holds none: what is read is listed. A pipe (<(...), /dev/stdin) has
        // no size and no extension, and an .npy file whose magic is wrong gets the .npy reader's own error.
        if (extension.Length > 0 && !extension.Equals(".npy", StringComparison.OrdinalIgnoreCase) && new FileInfo(FullPath).Length > 0)
            throw TensorFiles.NotRecognized(Name);
        return TensorFileKind.Npy;
    }

    private static readonly HashSet<string> ModelExtensions = new(StringComparer.OrdinalIgnoreCase)
        { ".npz", ".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".onnx" };

    /// <summary>Opens a model file (any kind but a stream).</summary>
    internal TensorFile OpenTensorFile() => TensorFiles.Open(FullPath!, Name);

    /// <summary>Opens the input for streaming.</summary>
    internal Stream Open()
    {
        if (_openStream is not null) return _openStream();
        CheckReadable();
        return NpyFiles.OpenRead(FullPath!, Name);
    }

    public override string ToString() => Name;
}
