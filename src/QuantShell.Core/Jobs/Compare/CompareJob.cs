using System.Diagnostics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Runtime;
using QuantShell.Core.Jobs.Calibrate;

namespace QuantShell.Core.Jobs.Compare;

/// <summary>
/// Compares two models on sample inputs: runs both (the runtime's default optimizations, as deployed) on every sample
/// and, for each output of the reference, measures how far the candidate's is from it (SQNR, largest and mean absolute
/// error, cosine similarity, top-1 agreement for class scores), accumulated over the samples in bounded memory; with
/// each model's size on disk and median latency. Writes nothing.
/// </summary>
public static class CompareJob
{
    /// <summary>Runs the comparison: one result per output of the reference, in its order.</summary>
    public static IReadOnlyList<ComparisonResult> Run(CompareRequest request, JobHost<ComparisonResult> host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var runner = request.Runner ?? throw new QuantShellException("No model runtime was given to run the models (CompareRequest.Runner).",
            ErrorIds.OnnxRuntimeUnavailable, QuantShellErrorKind.InvalidArgument, "Runner");
        long referenceBytes = ModelBytes(request.ReferencePath);
        long candidateBytes = ModelBytes(request.CandidatePath);
        var samples = SampleSet.Open(request.DataPath);
        var options = new ModelSessionOptions { Threads = request.Threads };
        using var reference = runner.Open(ModelSource.File(request.ReferencePath, request.ReferencePath), options);
        using var candidate = runner.Open(ModelSource.File(request.CandidatePath, request.CandidatePath), options);
        CheckInterfaces(request, reference, candidate);
        var outputNames = reference.Outputs.Where(o => o.IsTensor).Select(o => o.Name).ToList();
        var metrics = outputNames.Select(name => new OutputMetrics(name)).ToArray();
        var referenceTimes = new List<double>(samples.Count);
        var candidateTimes = new List<double>(samples.Count);

        // The bar is closed however the loop ends (a sample that fails ends the job; a stopped one takes its bar away).
        int done = 0;
        try
        {
            for (int i = 0; i < samples.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string sampleName = samples.NameOf(i);
                host.WriteProgress(new JobProgress("Compare", i, samples.Count, samples.Files[i], Completed: false));
                var feeds = samples.Read(i, reference.Inputs);
                if (i == 0)
                {
                    // One warm-up run of each: the first run of a session pays for allocations and kernel choices.
                    CalibrateJob.RunSample(reference, feeds, outputNames, sampleName);
                    CalibrateJob.RunSample(candidate, feeds, outputNames, sampleName);
                }
                // Alternate which model runs first, so that neither always finds the caches warmed by the other.
                IReadOnlyList<ModelTensor> referenceOutputs, candidateOutputs;
                if (i % 2 == 0)
                {
                    referenceOutputs = Timed(reference, feeds, outputNames, referenceTimes, sampleName);
                    candidateOutputs = Timed(candidate, feeds, outputNames, candidateTimes, sampleName);
                }
                else
                {
                    candidateOutputs = Timed(candidate, feeds, outputNames, candidateTimes, sampleName);
                    referenceOutputs = Timed(reference, feeds, outputNames, referenceTimes, sampleName);
                }
                for (int o = 0; o < outputNames.Count; o++) metrics[o].Add(referenceOutputs[o], candidateOutputs[o], sampleName);
                done++;
            }
        }
        finally
        {
            if (!cancellationToken.IsCancellationRequested)
                host.WriteProgress(new JobProgress("Compare", done, samples.Count, null, Completed: true));
        }

        double referenceMedian = Median(referenceTimes), candidateMedian = Median(candidateTimes);
        var results = metrics.Select(m => m.Result(request, samples.Count, referenceBytes, candidateBytes, referenceMedian, candidateMedian)).ToList();
        foreach (var result in results) host.WriteResult(result);
        return results;
    }

    private static IReadOnlyList<ModelTensor> Timed(IModelSession session, IReadOnlyList<ModelTensor> feeds, IReadOnlyList<string> outputs, List<double> times, string sampleName)
    {
        var clock = Stopwatch.StartNew();
        var result = CalibrateJob.RunSample(session, feeds, outputs, sampleName);
        times.Add(clock.Elapsed.TotalMilliseconds);
        return result;
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>A model's size on disk: the .onnx file and the external data files its tensors name.</summary>
    private static long ModelBytes(string path)
    {
        var model = OnnxModel.Load(path);
        return IO.FileLength.Of(new FileInfo(path)) + model.ExternalDataFiles().Sum(f => IO.FileLength.Of(new FileInfo(f)));
    }

    /// <summary>The candidate must take the reference's inputs and give its outputs (same names and element types).</summary>
    private static void CheckInterfaces(CompareRequest request, IModelSession reference, IModelSession candidate)
    {
        foreach (var input in reference.Inputs)
        {
            var other = candidate.Inputs.FirstOrDefault(i => i.Name == input.Name);
            if (other is null || other.ElementType != input.ElementType)
                throw Mismatch(request, other is null
                    ? $"has no input '{input.Name}', which the reference takes"
                    : $"takes input '{input.Name}' as {OnnxDataTypes.Name(other.ElementType)}, the reference as {OnnxDataTypes.Name(input.ElementType)}");
        }
        foreach (var input in candidate.Inputs)
        {
            if (!reference.Inputs.Any(i => i.Name == input.Name))
                throw Mismatch(request, $"takes input '{input.Name}', which the reference does not");
        }
        foreach (var output in reference.Outputs.Where(o => o.IsTensor))
        {
            var other = candidate.Outputs.FirstOrDefault(o => o.Name == output.Name);
            if (other is null || other.ElementType != output.ElementType)
                throw Mismatch(request, other is null
                    ? $"has no output '{output.Name}', which the reference gives"
                    : $"gives output '{output.Name}' as {OnnxDataTypes.Name(other.ElementType)}, the reference as {OnnxDataTypes.Name(output.ElementType)}");
        }
    }

    private static QuantShellException Mismatch(CompareRequest request, string problem) =>
        new($"{request.CandidatePath}: {problem}; a model is compared with a version of itself ({request.ReferencePath}).",
            ErrorIds.CompareModelsMismatch, QuantShellErrorKind.InvalidData, request.CandidatePath);

    /// <summary>One output's sums over the samples.</summary>
    private sealed class OutputMetrics(string name)
    {
        private double _signal, _noise, _absolute, _maxAbsolute, _dot, _candidateEnergy;
        private long _count, _rows, _agreeing;
        private bool _classScores = true;
        private long[]? _shape;
        private OnnxDataType _type;

        public void Add(ModelTensor reference, ModelTensor candidate, string sampleName)
        {
            if (!reference.Shape.SequenceEqual(candidate.Shape))
                throw new QuantShellException($"{sampleName}: output '{name}' is {candidate.ShapeText} from the candidate but {reference.ShapeText} from the reference.",
                    ErrorIds.CompareModelsMismatch, QuantShellErrorKind.InvalidData, sampleName);
            _shape ??= reference.Shape;
            _type = reference.ElementType;
            var r = reference.ToDoubles();
            var c = candidate.ToDoubles();
            for (int i = 0; i < r.Length; i++)
            {
                double difference = r[i] - c[i], absolute = Math.Abs(difference);
                _signal += r[i] * r[i];
                _noise += difference * difference;
                _absolute += absolute;
                if (double.IsNaN(absolute)) _maxAbsolute = double.NaN;
                else if (absolute > _maxAbsolute) _maxAbsolute = absolute;
                _dot += r[i] * c[i];
                _candidateEnergy += c[i] * c[i];
            }
            _count += r.Length;
            bool floating = reference.ElementType is OnnxDataType.Float or OnnxDataType.Double or OnnxDataType.Float16 or OnnxDataType.BFloat16;
            _classScores &= floating && reference.Shape is [_, > 1];
            if (!_classScores) return;
            int classes = (int)reference.Shape[1];
            for (long row = 0; row < reference.Shape[0]; row++)
            {
                _rows++;
                if (ArgMax(r, row * classes, classes) == ArgMax(c, row * classes, classes)) _agreeing++;
            }
        }

        private static int ArgMax(double[] values, long start, int count)
        {
            int best = 0;
            for (int k = 1; k < count; k++)
                if (values[start + k] > values[start + best]) best = k;
            return best;
        }

        public ComparisonResult Result(CompareRequest request, int samples, long referenceBytes, long candidateBytes, double referenceMs, double candidateMs) => new()
        {
            ReferencePath = Path.GetFullPath(request.ReferencePath),
            CandidatePath = Path.GetFullPath(request.CandidatePath),
            DataPath = Path.GetFullPath(request.DataPath),
            OutputName = name,
            DType = OnnxDataTypes.Name(_type),
            Shape = _shape ?? [],
            Samples = samples,
            ElementCount = _count,
            SqnrDb = _noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(_signal / _noise),
            MaxAbsError = _maxAbsolute,
            MeanAbsError = _count == 0 ? 0 : _absolute / _count,
            CosineSimilarity = _signal == 0 && _candidateEnergy == 0 ? 1 : _dot / Math.Sqrt(_signal * _candidateEnergy),
            Top1Agreement = _classScores && _rows > 0 ? (double)_agreeing / _rows : null,
            Top1Rows = _classScores && _rows > 0 ? _rows : null,
            ReferenceBytes = referenceBytes,
            CandidateBytes = candidateBytes,
            ReferenceMedianMs = referenceMs,
            CandidateMedianMs = candidateMs,
        };
    }
}
