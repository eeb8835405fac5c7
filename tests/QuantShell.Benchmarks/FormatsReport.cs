using System.Diagnostics;
using System.Runtime.InteropServices;
using QuantShell.Core.Formats;

namespace QuantShell.Benchmarks;

/// <summary>
/// The model-file layer's own cost: the same float32 bytes as one .npy, a safetensors file, a PyTorch checkpoint and a
/// stored .npz (64 tensors), read tensor by tensor (<c>OpenTensor</c>) and copied with a pass-through rewriter on every
/// tensor (<c>WriteCopy</c>, into a null stream: the layer's own cost; and into a file), against the same for the .npy
/// file. CRC-32 alone is timed too (it is computed on every zip entry read and written). Best of 3, GB/s of tensor bytes; the files go to
/// the folder given (the page cache holds them after the first round, as it does for a model quantized twice).
/// </summary>
public static class FormatsReport
{
    public static void Run(string folder, long mebibytes)
    {
        Directory.CreateDirectory(folder);
        const int tensorCount = 64;
        long perTensor = mebibytes * (1L << 20) / 4 / tensorCount;
        var random = new Random(1);
        var values = new float[perTensor];
        for (long i = 0; i < perTensor; i++) values[i] = (float)(random.NextDouble() - 0.5);
        var tensors = Enumerable.Range(0, tensorCount).Select(i => new OutputTensor($"layer.{i}.weight", DType.Float32, [perTensor / 64, 64],
            stream => stream.Write(MemoryMarshal.AsBytes(values.AsSpan())))).ToList();
        long bytes = perTensor * 4 * tensorCount;

        string npy = Path.Combine(folder, "model.npy");
        using (var stream = File.Create(npy))
            TensorFiles.Write(TensorFileKind.Npy, stream, [new OutputTensor("all", DType.Float32, [perTensor * tensorCount],
                s => { for (int i = 0; i < tensorCount; i++) s.Write(MemoryMarshal.AsBytes(values.AsSpan())); })], new Dictionary<string, string>(), default);
        var files = new List<(string Label, string Path)> { (".npy (1 tensor)", npy) };
        foreach (var (kind, extension) in new[] { (TensorFileKind.Safetensors, ".safetensors"), (TensorFileKind.PyTorch, ".pt"), (TensorFileKind.Npz, ".npz") })
        {
            string path = Path.Combine(folder, "model" + extension);
            using (var stream = File.Create(path))
                TensorFiles.Write(kind, stream, tensors, new Dictionary<string, string>(), default);
            files.Add((extension + $" ({tensorCount} tensors)", path));
        }

        Console.WriteLine($"{bytes >> 20} MiB of float32 tensor data; best of 3; GB/s of tensor bytes");
        var block = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        double crc = Best(() => { var c = new System.IO.Hashing.Crc32(); for (int i = 0; i < tensorCount; i++) c.Append(block); });
        Console.WriteLine($"CRC-32 alone: {bytes / crc / 1e9:F2} GB/s");
        Console.WriteLine($"{"file",-26} {"read (OpenTensor)",18} {"WriteCopy to null",18} {"WriteCopy to file",18}");
        foreach (var (label, path) in files)
        {
            double read = Best(() =>
            {
                using var file = TensorFiles.Open(path);
                foreach (var tensor in file.Tensors)
                {
                    using var source = file.OpenTensor(tensor);
                    source.CopyTo(Stream.Null, 1 << 20);
                }
            });
            double copyNull = Best(() =>
            {
                using var file = TensorFiles.Open(path);
                file.WriteCopy(Stream.Null, _ => (_, source, destination) => source.CopyTo(destination, 1 << 20), default);
            });
            string output = path + ".copy";
            double copy = Best(() =>
            {
                using var file = TensorFiles.Open(path);
                using var stream = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
                file.WriteCopy(stream, _ => (_, source, destination) => source.CopyTo(destination, 1 << 20), default);
            });
            File.Delete(output);
            Console.WriteLine($"{label,-26} {bytes / read / 1e9,13:F2} GB/s {bytes / copyNull / 1e9,13:F2} GB/s {bytes / copy / 1e9,13:F2} GB/s");
        }
        foreach (var (_, path) in files) File.Delete(path);
    }

    private static double Best(Action action)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
