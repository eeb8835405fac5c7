using System.Globalization;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.IO;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// Tensors kept in files beside the model (ONNX external data, for models over 2 GiB): <c>location</c>, <c>offset</c>
/// and <c>length</c> entries of <c>external_data</c>. Locations are relative to the model's folder and may not leave it.
/// </summary>
internal static class OnnxExternalData
{
    private const int CopyChunkBytes = 1 << 20;

    /// <summary>Offsets in the data files QuantShell writes are multiples of this (runtimes map aligned ranges directly).</summary>
    internal const int Alignment = 4096;

    /// <summary>A byte range of a file.</summary>
    public sealed record Range(string FilePath, long Offset, long Length);

    /// <summary>Checks a tensor's external entries and returns its range; every problem is an error naming the tensor.</summary>
    public static Range Resolve(TensorProto tensor, string? modelDirectory, string where)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = ParseNumber(entry.Value, "offset", where); break;
                case "length": length = ParseNumber(entry.Value, "length", where); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new TensorFormatException(where, "external data has no location.", ErrorIds.OnnxExternalDataInvalid);
        if (modelDirectory is null)
            throw new TensorFormatException(where, $"external data '{location}' needs the model's folder, but the model was not read from a file.", ErrorIds.OnnxExternalDataInvalid);
        string folder = Path.GetFullPath(modelDirectory);
        if (Path.IsPathRooted(location) || location.Contains('\0'))
            throw new TensorFormatException(where, $"external data location '{location}' is not a path relative to the model's folder.", ErrorIds.OnnxExternalDataPathInvalid);
        string full = Path.GetFullPath(Path.Combine(folder, location));
        if (!IsInside(full, folder))
            throw new TensorFormatException(where, $"external data location '{location}' leads out of the model's folder.", ErrorIds.OnnxExternalDataPathInvalid);
        var info = new FileInfo(full);
        if (!info.Exists)
            throw new TensorFormatException(where, $"external data file '{location}' does not exist beside the model.", ErrorIds.OnnxExternalDataInvalid);
        // A link anywhere on the way (the file, or a folder under the model's) may not lead out of the model's folder.
        for (string? step = full; step is not null && step.Length > folder.Length; step = Path.GetDirectoryName(step))
        {
            FileSystemInfo entry = step == full ? info : new DirectoryInfo(step);
            if (entry.LinkTarget is not null && entry.ResolveLinkTarget(returnFinalTarget: true) is { } target && !IsInside(target.FullName, folder))
                throw new TensorFormatException(where, $"external data location '{location}' goes through a link to '{target.FullName}', outside the model's folder.", ErrorIds.OnnxExternalDataPathInvalid);
        }
        long expected = OnnxDataTypes.RawBytes((OnnxDataType)tensor.DataType, OnnxTensorCodec.ElementCount(tensor, where));
        if (length is long given && given != expected)
            throw new TensorFormatException(where, $"external data length {given} differs from the {expected} bytes that dims [{string.Join(", ", tensor.Dims)}] of {OnnxDataTypes.Name((OnnxDataType)tensor.DataType)} need.", ErrorIds.OnnxTensorDataMismatch);
        long fileLength = IO.FileLength.Of(info);
        if (offset > fileLength || expected > fileLength - offset)
            throw new TensorFormatException(where, $"external data range [{offset}, {offset + expected}) ends beyond the end of '{location}' ({fileLength} bytes).", ErrorIds.OnnxExternalDataOutOfRange);
        return new Range(full, offset, expected);
    }

    private static long ParseNumber(string text, string key, string where)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            throw new TensorFormatException(where, $"external data {key} '{text}' is not a non-negative integer.", ErrorIds.OnnxExternalDataInvalid);
        return value;
    }

    private static bool IsInside(string path, string folder)
    {
        string prefix = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
    }

    public static byte[] Read(Range range, string where)
    {
        if (range.Length > Array.MaxLength)
            throw new TensorFormatException(where, $"{range.Length} bytes of external data are too many to hold in memory at once.", ErrorIds.TensorTooLarge);
        var bytes = new byte[range.Length];
        using var file = new FileStream(range.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        file.Position = range.Offset;
        file.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// Writes the data of every external tensor into one file, <paramref name="dataPath"/>, and points the tensors at it.
    /// Each tensor's bytes come from <paramref name="replaced"/> when set, else from its range in the source file.
    /// </summary>
    public static void WriteAll(string dataPath, WriteOptions options, IReadOnlyList<TensorProto> tensors,
                                IReadOnlyDictionary<TensorProto, Range> sources, IReadOnlyDictionary<TensorProto, byte[]> replaced,
                                Dictionary<TensorProto, Range> written)
    {
        string location = Path.GetFileName(dataPath);
        AtomicFile.Write(dataPath, options, stream =>
        {
            var buffer = new byte[CopyChunkBytes];
            long position = 0;
            foreach (var tensor in tensors)
            {
                long padding = (Alignment - position % Alignment) % Alignment;
                stream.Write(new byte[padding]);
                position += padding;
                long start = position;
                if (replaced.TryGetValue(tensor, out var bytes))
                {
                    stream.Write(bytes);
                    position += bytes.Length;
                }
                else
                {
                    var source = sources[tensor];
                    using var file = new FileStream(source.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                    file.Position = source.Offset;
                    for (long left = source.Length; left > 0;)
                    {
                        int n = (int)Math.Min(buffer.Length, left);
                        file.ReadExactly(buffer, 0, n);
                        stream.Write(buffer, 0, n);
                        left -= n;
                    }
                    position += source.Length;
                }
                written[tensor] = new Range(Path.GetFullPath(dataPath), start, position - start);
            }
        }, dataPath);
        foreach (var tensor in tensors)
        {
            var range = written[tensor];
            // A checksum (or any other entry) described the old bytes: only the three entries of the new file remain.
            tensor.ExternalData.Clear();
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = range.Offset.ToString(CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = range.Length.ToString(CultureInfo.InvariantCulture) });
        }
    }
}
