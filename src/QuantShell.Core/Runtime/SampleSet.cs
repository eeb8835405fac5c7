using System.Buffers.Binary;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;

namespace QuantShell.Core.Runtime;

/// <summary>
/// Sample inputs of a model: a folder of <c>.npy</c> files (a model of one input: each file is that input) or <c>.npz</c>
/// files (one array per input, named after it), read one file at a time in ordinal order of their names; each file is one
/// run of the model (a batch, as far as the model's input shapes allow). A single file may be given instead of a folder.
/// Every file is checked against the model's inputs before it is run: names, element types, ranks and fixed dimensions.
/// </summary>
public sealed class SampleSet
{
    private SampleSet(string name, IReadOnlyList<string> files)
    {
        Name = name;
        Files = files;
    }

    /// <summary>The folder (or file) as the user named it.</summary>
    public string Name { get; }

    /// <summary>The sample files, full paths, in the order they are run.</summary>
    public IReadOnlyList<string> Files { get; }

    public int Count => Files.Count;

    /// <summary>Lists the samples of a folder (its .npy and .npz files; other files are left alone) or takes one file.</summary>
    public static SampleSet Open(string path, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        name ??= path;
        string full = Path.GetFullPath(path);
        if (File.Exists(full)) return new SampleSet(name, [full]);
        if (!Directory.Exists(full))
            throw new QuantShellException($"{name}: the sample folder does not exist.", ErrorIds.SampleDataMissing, QuantShellErrorKind.NotFound, name);
        string[] files;
        try
        {
            files = Directory.EnumerateFiles(full)
                .Where(f => f.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex);
        }
        if (files.Length == 0)
            throw new QuantShellException($"{name}: holds no .npy or .npz file; give the model's sample inputs there (.npy for a model of one input, .npz with one array per input name).",
                ErrorIds.SampleDataMissing, QuantShellErrorKind.NotFound, name);
        return new SampleSet(name, files);
    }

    /// <summary>How messages name sample <paramref name="index"/>: the folder as given joined with the file's name.</summary>
    public string NameOf(int index) => File.Exists(Path.GetFullPath(Name)) ? Name : Path.Combine(Name, Path.GetFileName(Files[index]));

    /// <summary>
    /// Reads sample <paramref name="index"/> as the model's inputs, in the order of <paramref name="inputs"/>; a sample that
    /// does not fit them (a missing or unknown name, another element type, rank or fixed dimension) is refused, naming the
    /// file and the input.
    /// </summary>
    public IReadOnlyList<ModelTensor> Read(int index, IReadOnlyList<ModelValueInfo> inputs)
    {
        string name = NameOf(index);
        foreach (var input in inputs)
        {
            if (!input.IsTensor)
                throw new QuantShellException($"{name}: the model's input '{input.Name}' is not a tensor (a sequence or a map); samples give tensors only.",
                    ErrorIds.SampleDTypeMismatch, QuantShellErrorKind.InvalidData, name);
        }
        using var file = TensorFiles.Open(Files[index], name);
        if (file.Kind is not (TensorFileKind.Npy or TensorFileKind.Npz))
            throw new TensorFormatException(name, "is not an .npy or .npz file.", ErrorIds.TensorFileNotRecognized);
        var byName = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        if (file.Kind == TensorFileKind.Npy)
        {
            if (inputs.Count != 1)
                throw new QuantShellException(
                    $"{name}: an .npy file is the one input of a model of one input, but the model has {inputs.Count} ({string.Join(", ", inputs.Select(i => $"'{i.Name}'"))}); " +
                    "give an .npz with one array per input name.", ErrorIds.SampleInputMissing, QuantShellErrorKind.InvalidData, name);
            byName[inputs[0].Name] = file.Tensors[0];
        }
        else
        {
            foreach (var tensor in file.Tensors) byName[tensor.Name] = tensor;
            foreach (var tensor in file.Tensors)
            {
                if (!inputs.Any(i => i.Name == tensor.Name))
                    throw new QuantShellException(
                        $"{name}: array '{tensor.Name}' is no input of the model (its inputs: {string.Join(", ", inputs.Select(i => $"'{i.Name}'"))}).",
                        ErrorIds.SampleInputUnknown, QuantShellErrorKind.InvalidData, name);
            }
            foreach (var input in inputs)
            {
                if (!byName.ContainsKey(input.Name))
                    throw new QuantShellException($"{name}: has no array for the model's input '{input.Name}' ({OnnxDataTypes.Name(input.ElementType)} {input.ShapeText}).",
                        ErrorIds.SampleInputMissing, QuantShellErrorKind.InvalidData, name);
            }
        }
        var tensors = new List<ModelTensor>(inputs.Count);
        foreach (var input in inputs) tensors.Add(ReadOne(file, byName[input.Name], input, name));
        return tensors;
    }

    private static ModelTensor ReadOne(TensorFile file, StoredTensor stored, ModelValueInfo input, string name)
    {
        var wanted = OnnxDataTypes.ToDType(input.ElementType);
        if (stored.DType.Kind != wanted.Kind || stored.DType.ItemSize != wanted.ItemSize)
            throw new QuantShellException(
                $"{name}: '{input.Name}' is {stored.DType.Name} but the model's input '{input.Name}' is {OnnxDataTypes.Name(input.ElementType)}; save the sample as {OnnxDataTypes.Name(input.ElementType)}.",
                ErrorIds.SampleDTypeMismatch, QuantShellErrorKind.InvalidData, name);
        bool fits = stored.Shape.Length == input.Dimensions.Length;
        for (int d = 0; fits && d < stored.Shape.Length; d++) fits = input.Dimensions[d] < 0 || input.Dimensions[d] == stored.Shape[d];
        if (!fits)
            throw new QuantShellException(
                $"{name}: '{input.Name}' has shape [{string.Join(", ", stored.Shape)}] but the model's input '{input.Name}' is {input.ShapeText}.",
                ErrorIds.SampleShapeMismatch, QuantShellErrorKind.InvalidData, name);
        var bytes = new byte[stored.ByteCount];
        using (var stream = file.OpenTensor(stored)) stream.ReadExactly(bytes);
        if (stored.DType.BigEndian) SwapBytes(bytes, stored.DType.ItemSize);
        if (stored.FortranOrder && stored.Rank > 1) bytes = ToCOrder(bytes, stored.Shape, stored.DType.ItemSize);
        return new ModelTensor(input.Name, input.ElementType, stored.Shape, bytes);
    }

    private static void SwapBytes(byte[] bytes, int itemSize)
    {
        for (int at = 0; at < bytes.Length; at += itemSize) bytes.AsSpan(at, itemSize).Reverse();
    }

    /// <summary>Elements stored in Fortran order (first index fastest) rearranged into C order (last index fastest).</summary>
    private static byte[] ToCOrder(byte[] fortran, long[] shape, int itemSize)
    {
        var result = new byte[fortran.Length];
        int rank = shape.Length;
        var index = new long[rank];
        long count = fortran.LongLength / itemSize;
        for (long c = 0; c < count; c++)
        {
            // The C-order position c has multi-index 'index'; its Fortran-order position:
            long f = 0;
            for (int d = rank - 1; d >= 0; d--) f = f * shape[d] + index[d];
            Buffer.BlockCopy(fortran, (int)(f * itemSize), result, (int)(c * itemSize), itemSize);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return result;
    }
}
