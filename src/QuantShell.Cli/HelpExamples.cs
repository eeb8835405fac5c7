namespace QuantShell.Cli;

/// <summary>The examples each command's --help ends with (before the exit codes): command lines that run as written.</summary>
internal static class HelpExamples
{
    private static readonly Dictionary<string, (string CommandLine, string What)[]> ByCommand = new(StringComparer.Ordinal)
    {
        [Cli.Name] =
        [
            ("dotnet quant quantize w.npy --method pot", "fake-quantize an .npy file: w.q.npy, the threshold chosen from the data"),
            ("dotnet quant quantize model.onnx --format qdq", "quantize an ONNX model's weights into QuantizeLinear/DequantizeLinear form"),
            ("dotnet quant quantize --help", "the options of one command"),
        ],
        ["quantize"] =
        [
            ("dotnet quant quantize w.npy --method pot", "8-bit POT weights, the threshold chosen from the data: w.q.npy"),
            ("dotnet quant quantize w.npy --method symmetric --num-bits 4 --threshold 2 --output-path w4.npy", "a quantizer given in full"),
            ("dotnet quant quantize w.npy --quantizer q.json", "a quantizer file (from 'dotnet quant new')"),
            ("dotnet quant quantize model.safetensors --format int", "integer codes with their scales: model.int.safetensors"),
            ("dotnet quant quantize model.onnx --rules model.rules.json --format qdq", "an ONNX model's weights and calibrated activations as QDQ"),
        ],
        ["new"] =
        [
            ("dotnet quant new --method pot --num-bits 8 --threshold 4 --output-path q.json", "a quantizer file with every value given"),
            ("dotnet quant new --method uniform --from-path batch1.npy --output-path q.json", "the range chosen from data"),
        ],
        ["inspect"] =
        [
            ("dotnet quant inspect w.npy", "shape, dtype and statistics of an .npy file"),
            ("dotnet quant inspect model.onnx --json", "every tensor of an ONNX model, as JSON Lines"),
        ],
        ["measure"] =
        [
            ("dotnet quant measure w.npy --method pot --num-bits 4", "the error a quantizer would make, nothing written"),
            ("dotnet quant measure w.npy --method lut-pot --num-bits 3 --plot-path w.svg", "with a plot of the values and levels"),
        ],
        ["dequantize"] =
        [
            ("dotnet quant dequantize model.int.safetensors", "integer codes back to values: model.q.safetensors"),
            ("dotnet quant dequantize model.qdq.onnx --output-path model.fake.onnx", "an ONNX model's qdq format back to fake"),
        ],
        ["lower"] =
        [
            ("dotnet quant lower model_mctq.onnx", "an MCT-exported ONNX model to standard ONNX: model_mctq.lowered.onnx"),
            ("dotnet quant lower model_mctq.onnx --weights qdq --activations qdq", "as QuantizeLinear/DequantizeLinear nodes"),
        ],
        ["calibrate"] =
        [
            ("dotnet quant calibrate model.onnx --data-path samples", "activation rules for an ONNX model from sample inputs: model.rules.json"),
            ("dotnet quant calibrate model.onnx --data-path samples --method symmetric --error-method percentile", "another method and error"),
        ],
        ["compare"] =
        [
            ("dotnet quant compare model.onnx model.qdq.onnx --data-path samples", "the outputs of two ONNX models on the same samples"),
        ],
        ["schema"] =
        [
            ("dotnet quant schema quantize", "the JSON Schema of 'quantize --json' lines"),
            ("dotnet quant schema quantizer", "the JSON Schema of a quantizer file"),
        ],
    };

    /// <summary>The examples of <paramref name="command"/> (the tool's own name for the root), or none.</summary>
    public static IReadOnlyList<(string CommandLine, string What)> For(string command) =>
        ByCommand.TryGetValue(command, out var examples) ? examples : [];

    /// <summary>The "Examples:" section of a command's help.</summary>
    public static void Write(TextWriter output, string command)
    {
        var examples = For(command);
        if (examples.Count == 0) return;
        output.WriteLine("Examples:");
        foreach (var (commandLine, what) in examples)
        {
            output.WriteLine($"  {commandLine}");
            output.WriteLine($"      {what}");
        }
        output.WriteLine();
    }
}
