using System.Diagnostics;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Benchmarks;

/// <summary>Times the file path (NpyQuantizer) on an existing .npy for several chunk sizes (best of 3 runs each).</summary>
public static class FileReport
{
    public static void Run(string input)
    {
        var quantizer = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 2.0 });
        string output = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(input))!, "filereport.out.npy");
        long bytes = new FileInfo(input).Length;
        foreach (int chunk in new[] { 256 << 10, 1 << 20, 4 << 20, 16 << 20 })
        {
            double best = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                var clock = Stopwatch.StartNew();
                NpyQuantizer.QuantizeFile(input, output, quantizer, new FileQuantizeOptions { Force = true, ChunkBytes = chunk });
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            Console.WriteLine($"chunk {chunk >> 10,6} KiB: {best:F3} s  {bytes / best / 1e9:F2} GB/s");
        }
        File.Delete(output);
    }
}

/// <summary>Writes a float32 .npy of gaussian values with the given shape (for benchmarks on machines without numpy).</summary>
public static class Generator
{
    public static void Run(string path, long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var random = new Random(1);
        using var stream = File.Create(path);
        QuantShell.Core.Formats.NpyHeader.Write(stream, QuantShell.Core.Formats.DType.Float32, shape);
        var buffer = new float[1 << 18];
        for (long done = 0; done < count; done += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, count - done);
            for (int i = 0; i < n; i++)
                buffer[i] = (float)(0.5 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan(0, n)));
        }
    }
}

/// <summary>Times NpyQuantizer over every .npy in a folder (the per-file overhead that small files expose).</summary>
public static class SmallFilesReport
{
    public static void Run(string directory)
    {
        var quantizer = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 2.0 });
        var files = Directory.GetFiles(directory, "*.npy");
        string output = Path.Combine(Path.GetTempPath(), "quantshell-smallfiles-out");
        Directory.CreateDirectory(output);
        for (int round = 0; round < 3; round++)
        {
            int gcBefore = GC.CollectionCount(2);
            var clock = Stopwatch.StartNew();
            foreach (var file in files)
                NpyQuantizer.QuantizeFile(file, Path.Combine(output, Path.GetFileName(file)), quantizer, new FileQuantizeOptions { Force = true });
            Console.WriteLine($"{files.Length} files: {clock.Elapsed.TotalSeconds:F3} s ({clock.Elapsed.TotalMilliseconds / files.Length:F3} ms per file), gen2 GCs {GC.CollectionCount(2) - gcBefore}");
        }
    }
}
