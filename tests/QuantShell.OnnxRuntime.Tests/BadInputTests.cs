using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Jobs;
using static QuantShell.Onnx.Tests.TestModels;
using QuantShell.Core.Jobs.Calibrate;
using QuantShell.Core.Jobs.Compare;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.OnnxRuntime.Tests;

/// <summary>
/// Samples that do not fit the model, non-finite activations, a model ONNX Runtime cannot load, rules naming values the
/// model lacks: one error with its id, naming the file and the tensor, and nothing written.
/// </summary>
public sealed class BadInputTests
{
    /// <summary>a [N,4] and b [4,3] -> MatMul -> y [N,3]: both inputs are activations; the second is fixed in shape.</summary>
    private static string TwoInputModel(TempDirectory temp)
    {
        var proto = Model(Graph("two", [Node("MatMul", ["a", "b"], ["y"], "matmul")],
            [Value("a", OnnxDataType.Float, 2, 4), Value("b", OnnxDataType.Float, 4, 3)], [Value("y", OnnxDataType.Float, 2, 3)]));
        proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].ClearDimValue();
        proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam = "batch";
        string path = temp.File("two.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        return path;
    }

    private static QuantShellException Calibrate(TempDirectory temp, string model, string data, out string rules)
    {
        rules = temp.File("rules.json");
        string output = rules;
        return Assert.ThrowsAny<QuantShellException>(() => Fixtures.Calibrate(model, data, output));
    }

    private static string Folder(TempDirectory temp, params (string Name, Action<string> Write)[] files)
    {
        string folder = temp.File("data");
        Directory.CreateDirectory(folder);
        foreach (var (name, write) in files) write(Path.Combine(folder, name));
        return folder;
    }

    [Fact]
    public void TwoInputModel_CalibratesFromNpz_BothInputsAreActivations()
    {
        using var temp = new TempDirectory();
        string model = TwoInputModel(temp);
        string data = Folder(temp,
            ("s0.npz", p => Samples.Npz(p, Samples.Tensor("a", [3, 4], Samples.Normal(1, 12)), Samples.Tensor("b", [4, 3], Samples.Normal(2, 12)))),
            ("s1.npz", p => Samples.Npz(p, Samples.Tensor("b", [4, 3], Samples.Normal(3, 12)), Samples.Tensor("a", [5, 4], Samples.Normal(4, 20)))));
        var host = new CollectingHost<CalibrationResult>();
        Fixtures.Calibrate(model, data, temp.File("rules.json"), host);
        Assert.Equal(["a", "b"], host.Results.Select(r => r.TensorName));
        Assert.Equal([32L, 24], host.Results.Select(r => r.Count));
    }

    [Fact]
    public void SampleWithoutAnInput_NamesTheFileAndTheInput()
    {
        using var temp = new TempDirectory();
        string data = Folder(temp, ("s0.npz", p => Samples.Npz(p, Samples.Tensor("a", [1, 4], Samples.Normal(1, 4)))));
        var error = Calibrate(temp, TwoInputModel(temp), data, out string rules);
        Assert.Equal(ErrorIds.SampleInputMissing, error.ErrorId);
        Assert.Contains("s0.npz", error.Message);
        Assert.Contains("'b'", error.Message);
        Assert.False(File.Exists(rules));
    }

    [Fact]
    public void NpyForAModelOfTwoInputs_SaysToUseNpz()
    {
        using var temp = new TempDirectory();
        string data = Folder(temp, ("s0.npy", p => Samples.Npy(p, [1, 4], Samples.Normal(1, 4))));
        var error = Calibrate(temp, TwoInputModel(temp), data, out string rules);
        Assert.Equal(ErrorIds.SampleInputMissing, error.ErrorId);
        Assert.Contains(".npz", error.Message);
        Assert.False(File.Exists(rules));
    }

    [Fact]
    public void SampleWithAnUnknownArray_NamesIt()
    {
        using var temp = new TempDirectory();
        string data = Folder(temp, ("s0.npz", p => Samples.Npz(p, Samples.Tensor("a", [1, 4], Samples.Normal(1, 4)), Samples.Tensor("b", [4, 3], Samples.Normal(2, 12)),
            Samples.Tensor("c", [1], [1f]))));
        var error = Calibrate(temp, TwoInputModel(temp), data, out string rules);
        Assert.Equal(ErrorIds.SampleInputUnknown, error.ErrorId);
        Assert.Contains("array 'c'", error.Message);
        Assert.False(File.Exists(rules));
    }

    [Fact]
    public void SampleOfTheWrongShape_NamesTheFileTheInputAndBothShapes()
    {
        using var temp = new TempDirectory();
        // The second sample's b is [3, 4]: the model fixes b at [4, 3].
        string data = Folder(temp,
            ("s0.npz", p => Samples.Npz(p, Samples.Tensor("a", [1, 4], Samples.Normal(1, 4)), Samples.Tensor("b", [4, 3], Samples.Normal(2, 12)))),
            ("s1.npz", p => Samples.Npz(p, Samples.Tensor("a", [1, 4], Samples.Normal(1, 4)), Samples.Tensor("b", [3, 4], Samples.Normal(2, 12)))));
        var error = Calibrate(temp, TwoInputModel(temp), data, out string rules);
        Assert.Equal(ErrorIds.SampleShapeMismatch, error.ErrorId);
        Assert.Contains("s1.npz", error.Message);
        Assert.Contains("'b' has shape [3, 4]", error.Message);
        Assert.Contains("[4, 3]", error.Message);
        Assert.False(File.Exists(rules));
    }

    [Fact]
    public void SampleOfTheWrongType_NamesBothTypes()
    {
        using var temp = new TempDirectory();
        string data = Folder(temp, ("s0.npz", p => Samples.Npz(p, Samples.Tensor("a", [1, 4], new double[4]), Samples.Tensor("b", [4, 3], Samples.Normal(2, 12)))));
        var error = Calibrate(temp, TwoInputModel(temp), data, out string rules);
        Assert.Equal(ErrorIds.SampleDTypeMismatch, error.ErrorId);
        Assert.Contains("'a' is float64", error.Message);
        Assert.Contains("float32", error.Message);
        Assert.False(File.Exists(rules));
    }

    [Fact]
    public void NoSamples_IsAnError()
    {
        using var temp = new TempDirectory();
        string data = Folder(temp, ("notes.txt", p => File.WriteAllText(p, "not a sample")));
        var error = Calibrate(temp, Fixtures.SmallCnn, data, out string rules);
        Assert.Equal(ErrorIds.SampleDataMissing, error.ErrorId);
        Assert.False(File.Exists(rules));
        Assert.Equal(ErrorIds.SampleDataMissing, Calibrate(temp, Fixtures.SmallCnn, temp.File("missing"), out _).ErrorId);
    }

    [Fact]
    public void NonFiniteActivation_NamesTheSampleAndTheActivation()
    {
        using var temp = new TempDirectory();
        // x -> Reciprocal -> MatMul: an input of 0 makes the MatMul's input infinite.
        var proto = Model(Graph("recip", [Node("Reciprocal", ["x"], ["inverse"], "reciprocal"), Node("MatMul", ["inverse", "w"], ["y"], "matmul")],
            [Value("x", OnnxDataType.Float, 1, 4)], [Value("y", OnnxDataType.Float, 1, 2)], Floats("w", [4, 2], Samples.Normal(1, 8))));
        string model = temp.File("recip.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        string data = Folder(temp, ("s0.npy", p => Samples.Npy(p, [1, 4], [1f, 2f, 3f, 4f])), ("s1.npy", p => Samples.Npy(p, [1, 4], [1f, 0f, 3f, 4f])));
        var error = Calibrate(temp, model, data, out string rules);
        Assert.Equal(ErrorIds.ActivationNonFinite, error.ErrorId);
        Assert.Contains("s1.npy", error.Message);
        Assert.Contains("activation 'inverse'", error.Message);
        Assert.Contains("[0, 1]", error.Message);
        Assert.False(File.Exists(rules));
    }

    [Fact]
    public void ModelOnnxRuntimeCannotLoad_IsReportedAsSuch()
    {
        using var temp = new TempDirectory();
        // A standard-domain op that does not exist: QuantShell reads the graph, ONNX Runtime refuses it.
        var proto = Model(Graph("bad", [Node("NoSuchOperator", ["x"], ["h"], "bad"), Node("MatMul", ["h", "w"], ["y"], "matmul")],
            [Value("x", OnnxDataType.Float, 1, 4)], [Value("y", OnnxDataType.Float, 1, 2)], Floats("w", [4, 2], Samples.Normal(1, 8))));
        string model = temp.File("bad.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        string data = Folder(temp, ("s0.npy", p => Samples.Npy(p, [1, 4], [1f, 2f, 3f, 4f])));
        var error = Calibrate(temp, model, data, out string rules);
        Assert.Equal(ErrorIds.OnnxRuntimeCannotLoad, error.ErrorId);
        Assert.StartsWith(model + ": ONNX Runtime cannot load the model", error.Message);
        Assert.Contains("NoSuchOperator", error.Message);
        Assert.False(File.Exists(rules));
        var compare = Assert.ThrowsAny<QuantShellException>(() => CompareJob.Run(new CompareRequest { ReferencePath = model, CandidatePath = model, DataPath = data, Runner = Fixtures.Runner },
            new CollectingHost<ComparisonResult>()));
        Assert.Equal(ErrorIds.OnnxRuntimeCannotLoad, compare.ErrorId);
    }

    [Fact]
    public void RulesNamingAnActivationTheModelLacks_NameItAndWriteNothing()
    {
        using var temp = new TempDirectory();
        string rules = temp.File("rules.json");
        File.WriteAllText(rules, """{"rules": [{"match": "*.weight", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 8}}], "activations": [{"tensor": "no_such_value", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4]}}]}""");
        string output = temp.File("out.onnx");
        foreach (var form in new[] { OutputFormat.Qdq, OutputFormat.Fake })
        {
            var error = Assert.ThrowsAny<QuantShellException>(() => Fixtures.Quantize(Fixtures.SmallCnn, rules, output, form));
            Assert.Equal(ErrorIds.RulesTensorNotFound, error.ErrorId);
            Assert.Contains("'no_such_value'", error.Message);
            Assert.Contains("rules.json", error.Message);
            Assert.Contains("small_cnn.onnx", error.Message);
            Assert.False(File.Exists(output));
        }
    }

    [Fact]
    public void RulesWithActivations_ForAFileWithoutAGraph_AreRefused()
    {
        using var temp = new TempDirectory();
        string rules = temp.File("rules.json");
        File.WriteAllText(rules, """{"rules": [], "activations": [{"tensor": "x", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4]}}]}""");
        string npz = temp.File("weights.npz");
        Samples.Npz(npz, Samples.Tensor("w", [4, 4], Samples.Normal(1, 16)));
        var error = Assert.ThrowsAny<QuantShellException>(() => Fixtures.Quantize(npz, rules, temp.File("out.npz"), OutputFormat.Fake));
        Assert.Equal(ErrorIds.RulesActivationsNotApplicable, error.ErrorId);
        Assert.False(File.Exists(temp.File("out.npz")));
    }

    [Fact]
    public void CalibrateWithoutARuntime_OrWithALutMethod_IsRefusedBeforeAnythingIsRead()
    {
        var noRunner = Assert.ThrowsAny<QuantShellException>(() => CalibrateJob.Run(new CalibrateRequest { ModelPath = "missing.onnx", DataPath = "missing" },
            new CollectingHost<CalibrationResult>()));
        Assert.Equal(ErrorIds.OnnxRuntimeUnavailable, noRunner.ErrorId);
        var lut = Assert.ThrowsAny<QuantShellException>(() => CalibrateJob.Run(new CalibrateRequest
        {
            ModelPath = "missing.onnx", DataPath = "missing", Runner = Fixtures.Runner, Method = Core.Quantization.QuantizationMethod.LutPot,
        }, new CollectingHost<CalibrationResult>()));
        Assert.Equal(ErrorIds.MethodInvalid, lut.ErrorId);
    }
}
