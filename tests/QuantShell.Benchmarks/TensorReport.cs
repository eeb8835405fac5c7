using QuantShell.Torch;
using System.Diagnostics;
using QuantShell.Core.Quantization;
using TorchSharp;

namespace QuantShell.Benchmarks;

/// <summary>The C# API's Tensor path on a CPU float32 tensor of 64M values (best of 5), per tensor and per channel (axis 0, 64 channels).</summary>
public static class TensorReport
{
    public static void Run()
    {
        torch.manual_seed(1);
        using var x = torch.randn(64, 1024, 1024) * 0.5f;
        var perTensor = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 2.0 });
        var perChannel = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: Enumerable.Range(0, 64).Select(c => 1.0 + 0.01 * c).ToArray(), perChannel: true, channelAxis: 0);
        foreach (var (name, q) in new[] { ("tensor", (InferableQuantizer)perTensor), ("channel", perChannel) })
        {
            double best = double.MaxValue;
            for (int i = 0; i < 6; i++)
            {
                var clock = Stopwatch.StartNew();
                using var y = q.Quantize(x);
                if (i > 0) best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            Console.WriteLine($"QuantShell Tensor path {name}: {best:F4} s  {x.numel() * 4 / best / 1e9:F2} GB/s");
        }
    }
}
