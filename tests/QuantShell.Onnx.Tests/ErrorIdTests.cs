using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Lower;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Rules;
using static QuantShell.Onnx.Tests.TestModels;

namespace QuantShell.Onnx.Tests;

/// <summary>Error ids of model files and their jobs that no other test produced, each from the mistake it names.</summary>
public sealed class ErrorIdTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string name, ModelProto model)
    {
        string path = _temp.File(name);
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        return path;
    }

    private static List<QuantShellException> QuantizeErrors(QuantizeRequest request, JobInput input)
    {
        var host = new Collector<QuantizationReport>();
        try
        {
            QuantizeJob.Run(request, [input], host);
        }
        catch (QuantShellException ex)
        {
            host.Errors.Add(ex);
        }
        return host.Errors;
    }

    [Fact]
    public void Initializer_WithANegativeDimension_IsRefused()
    {
        string model = Write("negative.onnx", Model(Graph("g", [], [], [Value("w", OnnxDataType.Float, 2, 3)], Raw("w", OnnxDataType.Float, [-2, 3], new byte[24]))));
        var error = Assert.ThrowsAny<QuantShellException>(() => { using var file = TensorFiles.Open(model); _ = file.Tensors.Count; });
        Assert.Equal(ErrorIds.OnnxTensorShapeInvalid, error.ErrorId);
        Assert.Contains("negative dimension", error.Message);
    }

    [Fact]
    public void Initializer_OfStrings_CannotBeReadAsNumbers()
    {
        var strings = new TensorProto { Name = "names", DataType = (int)OnnxDataType.String };
        strings.Dims.Add(2);
        strings.StringData.Add(Google.Protobuf.ByteString.CopyFromUtf8("a"));
        strings.StringData.Add(Google.Protobuf.ByteString.CopyFromUtf8("b"));
        string model = Write("strings.onnx", Model(Graph("g", [], [], [Value("names", OnnxDataType.String, 2)], strings)));
        using var file = TensorFiles.Open(model);
        var error = Assert.ThrowsAny<QuantShellException>(() => { using var stream = file.OpenTensor(file.Tensor("names")); stream.CopyTo(Stream.Null); });
        Assert.Equal(ErrorIds.OnnxDataTypeNotSupported, error.ErrorId);
    }

    [Fact]
    public void Tensor_TheFileDoesNotHold_IsNamed()
    {
        string model = Write("one.onnx", Model(Graph("g", [], [], [Value("w", OnnxDataType.Float, 2, 2)], Floats("w", [2, 2], [1, 2, 3, 4]))));
        using var file = TensorFiles.Open(model);
        var error = Assert.ThrowsAny<QuantShellException>(() => file.Tensor("v"));
        Assert.Equal(ErrorIds.TensorNotFound, error.ErrorId);
        Assert.Contains("'v'", error.Message);
    }

    [Fact]
    public void ActivationRule_OnAValueThatIsNotFloat32_IsRefused_NothingWritten()
    {
        // y = Relu(x), and s = Shape(x), an int64 value the rules name as an activation.
        var graph = Graph("g", [Node("Relu", ["x"], ["y"], "relu"), Node("Shape", ["x"], ["s"], "shape")],
            [Value("x", OnnxDataType.Float, 1, 4)], [Value("y", OnnxDataType.Float, 1, 4), Value("s", OnnxDataType.Int64, 2)]);
        string model = Write("shape.onnx", Model(graph));
        var rules = QuantizationRules.Parse("""{"rules": [], "activations": [{"tensor": "s", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4]}}]}""", "rules.json");
        var errors = QuantizeErrors(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, OutputPath = _temp.File("q.onnx") }, JobInput.File(model));
        Assert.Equal(ErrorIds.ActivationDTypeNotSupported, Assert.Single(errors).ErrorId);
        Assert.Contains("'s'", errors[0].Message);
        Assert.False(File.Exists(_temp.File("q.onnx")));
    }

    [Fact]
    public void IntFormat_WhereTheFileHasATensorOfTheScalesName_IsRefused()
    {
        string npz = _temp.File("m.npz");
        using (var stream = File.Create(npz))
        {
            TensorFiles.Write(TensorFileKind.Npz, stream,
                [Floats32("w", [1, -2, 3, -4]), Floats32("w_scale", [1, 2, 3, 4])],
                new Dictionary<string, string>(), default);
        }
        var errors = QuantizeErrors(new QuantizeRequest { Quantizer = new QuantizerArguments(), Format = OutputFormat.Int, OutputPath = _temp.File("m.int.npz") }, JobInput.File(npz));
        Assert.Equal(ErrorIds.OutputTensorNameTaken, Assert.Single(errors).ErrorId);
        Assert.Contains("'w_scale'", errors[0].Message);
        Assert.False(File.Exists(_temp.File("m.int.npz")));
    }

    [Fact]
    public void Lower_FromAStream_IsRefused()
    {
        var host = new Collector<LowerResult>();
        LowerJob.Run(new LowerRequest { OutputPath = _temp.File("l.onnx") }, [JobInput.StandardInput(() => new MemoryStream([1, 2, 3]))], host);
        Assert.Equal(ErrorIds.StreamInputNotSupported, Assert.Single(host.Errors).ErrorId);
    }

    private static OutputTensor Floats32(string name, float[] values) =>
        new(name, DType.Float32, [2, 2], stream => stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())));

    private sealed class Collector<T> : JobHost<T>
    {
        public List<T> Results { get; } = [];
        public List<QuantShellException> Errors { get; } = [];
        public override void WriteResult(T result) => Results.Add(result);
        public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
    }
}
