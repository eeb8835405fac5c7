using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Rules;

/// <summary>
/// Which tensor gets which quantizer. With rules, the first matching rule decides. Without, the quantizer arguments decide:
/// an .npy file's one tensor gets them as given; in a model file every floating tensor of rank 2 or more is a weight,
/// quantized per channel on axis 0 (the output channel of PyTorch Conv/Linear weights) unless the arguments say otherwise,
/// and every other tensor is copied; in an ONNX model the graph says which constant tensors are weights (those a Conv,
/// ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN reads as its weight, through the chains exporters leave) and their
/// channel axis (docs/onnx-weights.md).
/// </summary>
public sealed class TensorPolicy
{
    private readonly QuantizerRecipe? _modelDefault;
    private QuantizerRecipe? _folderDefault;

    private readonly QuantizerArguments _arguments;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, QuantizerRecipe> _defaultsByAxis = new();

    private TensorPolicy(QuantizerArguments arguments, QuantizerRecipe recipe, QuantizerRecipe? modelDefault, QuantizationRules? rules)
    {
        _arguments = arguments;
        Recipe = recipe;
        _modelDefault = modelDefault;
        Rules = rules;
    }

    /// <summary>The quantizer arguments checked: what an .npy file gets when there are no rules.</summary>
    public QuantizerRecipe Recipe { get; }

    public QuantizationRules? Rules { get; }

    /// <summary>Checks how the quantizer arguments and the rules combine; reads the rules file when one is named.</summary>
    public static TensorPolicy Create(QuantizerArguments arguments, QuantizationRules? rules, string? rulesPath)
    {
        if (rules is not null && rulesPath is not null)
            throw new QuantizerValidationException($"{Parameter.Rules} were given both as an object and as a file; give one.", Parameter.Rules, ErrorIds.OptionConflict);
        rules ??= rulesPath is null ? null : QuantizationRules.Read(rulesPath);
        if (rules is not null)
        {
            var given = arguments.BuildingParametersGiven().Concat(arguments.SelectionParametersGiven()).ToList();
            if (arguments.Quantizer is not null || arguments.QuantizerPath is not null) given.Insert(0, Parameter.Quantizer);
            if (given.Count > 0)
                throw new QuantizerValidationException(
                    $"{Parameter.Rules} decide the quantizer of every tensor; {string.Join(", ", given)} cannot be given with them (put them in the rules).",
                    given[0], ErrorIds.OptionConflict);
        }
        var recipe = arguments.Check();
        return new TensorPolicy(arguments, recipe, rules is null ? ModelDefault(arguments, recipe) : null, rules);
    }

    /// <summary>
    /// The default of model files: per channel on axis 0 for weights whose values are chosen from each tensor, unless the
    /// arguments decide the channels; values given (a threshold, a range) apply as given.
    /// </summary>
    private static QuantizerRecipe ModelDefault(QuantizerArguments arguments, QuantizerRecipe asGiven, int axis = 0)
    {
        bool weights = asGiven.Spec.Target == QuantizationTarget.Weights;
        if (!weights || !asGiven.ChoosesFromData || arguments.Quantizer is not null || arguments.QuantizerPath is not null || arguments.PerChannel == false) return asGiven;
        return (arguments with { PerChannel = true, ChannelAxis = arguments.ChannelAxis ?? axis }).Check();
    }

    /// <summary>
    /// A rule's per-channel quantizer checked against a tensor it matched, before anything is read: its channel axis in
    /// range, its values one per channel. The rules file gave those, so the error names the rule and its field names
    /// (channelAxis), not a command-line option the user did not write.
    /// </summary>
    private static void CheckFits(QuantizerRecipe recipe, StoredTensor tensor, string rule, string? file)
    {
        var spec = recipe.Spec;
        if (!spec.PerChannel) return;
        try
        {
            if (recipe.ChoosesFromData) spec.ResolveSelectionAxis(tensor.Shape);
            else spec.ResolveChannels(tensor.Shape, (spec.Method == QuantizationMethod.Uniform ? spec.MinRange : spec.Threshold)!.Count);
        }
        catch (QuantizerValidationException ex)
        {
            string message = ex.MessageIn(ParameterSpelling.Json);
            string where = file is null ? "" : $"{file}: ";
            throw new QuantShellException($"{where}tensor '{tensor.Name}' (shape {tensor.ShapeText}) matches {rule}: {message}", ex.ErrorId, QuantShellErrorKind.InvalidArgument, rule, ex);
        }
    }

    /// <summary>What to do with one tensor of a model file (or of an .npy file, when there are rules).</summary>
    internal TensorDecision Decide(StoredTensor tensor) => Decide(tensor, null);

    /// <summary><see cref="Decide(StoredTensor, string?)"/> as a function, for the writers that decide tensor by tensor.</summary>
    internal Func<StoredTensor, TensorDecision> DeciderFor(string file) => tensor => Decide(tensor, file);

    /// <summary>The same for a model folder's shard: <see cref="DecideLinearWeight(StoredTensor, string?)"/>.</summary>
    internal Func<StoredTensor, TensorDecision> LinearWeightDeciderFor(string file) => tensor => DecideLinearWeight(tensor, file);

    /// <summary>The same for a tensor of <paramref name="file"/> (its name, for a rule that does not fit the tensor).</summary>
    internal TensorDecision Decide(StoredTensor tensor, string? file)
    {
        if (!tensor.DType.IsFloating)
            return TensorDecision.Skip($"{tensor.DType.Name} is not a floating type (only float16, bfloat16, float32 and float64 tensors are quantized)",
                $"{tensor.DType.Name} values (not floating)");
        if (tensor.ElementCount == 0)
            return TensorDecision.Skip($"it has no elements (shape {tensor.ShapeText}): there is nothing to quantize", "no elements");
        if (Rules is not null)
        {
            if (Rules.Match(tensor) is not { } match)
                return TensorDecision.Skip("no rule matches it", "no rule matches");
            var (rule, index) = match;
            if (rule.Skip) return TensorDecision.Skip($"rule {index} ('{rule.Match}') skips it", $"skipped by rule {index} ('{rule.Match}')");
            var recipe = rule.Recipe();
            CheckFits(recipe, tensor, $"{Rules.Source}: rule {index} ('{rule.Match}')", file);
            return TensorDecision.Quantize(recipe);
        }
        if (tensor.GraphRole is { } role)
        {
            // A graph says which tensors are weights, and the axis of their output channels.
            return role.ChannelAxis is int axis
                ? TensorDecision.Quantize(DefaultFor(axis))
                : TensorDecision.Skip($"{role.Description}: by default only weights are quantized (give rules to choose others)",
                    role.SkipCategory ?? "not a weight");
        }
        if (tensor.Rank < 2)
            return TensorDecision.Skip($"rank {tensor.Rank}: by default only tensors of rank 2 or more are weights (give rules to choose others)",
                "rank below 2 (not a weight by default)");
        return TensorDecision.Quantize(DefaultFor(0));
    }

    /// <summary>
    /// What to do with one tensor of a Hugging Face model folder: rules decide as for any file; without them only the weights
    /// of Linear layers are quantized (2-D floating <c>*.weight</c>, not embeddings, <c>lm_head</c> or norms, as
    /// llm-compressor's default), per channel on axis 0, values not given chosen by
    /// <see cref="SelectionOptions.DefaultFolderErrorMethod"/> unless an error method is given.
    /// </summary>
    private TensorDecision DecideLinearWeight(StoredTensor tensor, string? file)
    {
        if (Rules is not null || !tensor.DType.IsFloating || tensor.ElementCount == 0) return Decide(tensor, file);
        if (!tensor.Name.EndsWith(".weight", StringComparison.Ordinal) || tensor.Rank != 2)
            return TensorDecision.Skip($"by default a model folder's Linear weights are quantized (2-D '*.weight'); this is rank {tensor.Rank} '{tensor.Name}' (give rules to choose others)",
                "not a Linear weight (by default)");
        string module = tensor.Name[..^".weight".Length];
        string last = module[(module.LastIndexOf('.') + 1)..];
        if (last == "lm_head")
            return TensorDecision.Skip("lm_head is left unquantized by default, as llm-compressor does (give rules to quantize it)",
                "lm_head (by default)");
        if (IsEmbedding(module))
            return TensorDecision.Skip("an embedding is not a Linear weight; left unquantized by default (give rules to quantize it)",
                "embedding (by default)");
        if (last.Contains("norm", StringComparison.OrdinalIgnoreCase) || last.StartsWith("ln", StringComparison.Ordinal))
            return TensorDecision.Skip("a norm's weight is left unquantized by default (give rules to quantize it)",
                "norm (by default)");
        return TensorDecision.Quantize(FolderDefault);
    }

    /// <summary>
    /// A model folder's default: the model default, with <see cref="SelectionOptions.DefaultFolderErrorMethod"/> when values
    /// are chosen from the data and no error method is given (built once; jobs decide from several threads).
    /// </summary>
    private QuantizerRecipe FolderDefault => _folderDefault ??=
        _arguments.ErrorMethod is null && _modelDefault!.ChoosesFromData
            ? ModelDefault(_arguments with { ErrorMethod = SelectionOptions.DefaultFolderErrorMethod }, Recipe)
            : _modelDefault!;

    /// <summary>True for the module name of an embedding (<c>embed_tokens</c>, <c>wte</c>, <c>wpe</c>, <c>shared</c>, ...), which is not a Linear layer.</summary>
    internal static bool IsEmbedding(string module)
    {
        string last = module[(module.LastIndexOf('.') + 1)..];
        return last.Contains("embed", StringComparison.OrdinalIgnoreCase) || last is "wte" or "wpe" or "shared";
    }

    /// <summary>The model default with channels on <paramref name="axis"/> (built once per axis; jobs decide from several threads).</summary>
    private QuantizerRecipe DefaultFor(int axis) =>
        axis == 0 ? _modelDefault! : _defaultsByAxis.GetOrAdd(axis, a => ModelDefault(_arguments, Recipe, a));
}
