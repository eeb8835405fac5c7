namespace QuantShell.PowerShell.Completion;

/// <summary>Completes the paths of JSON files: quantizer files (-Quantizer, Import-InferableQuantizer) and rules files (-Rules).</summary>
public sealed class JsonFileCompleter : FilePathCompleter
{
    private static readonly string[] Json = [".json"];

    protected override IReadOnlyList<string> Extensions => Json;
}
