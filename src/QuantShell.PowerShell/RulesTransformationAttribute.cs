using System.Collections;
using System.Management.Automation;
using System.Text.Json;
using QuantShell.Core.Errors;
using QuantShell.Core.Rules;

namespace QuantShell.PowerShell;

/// <summary>
/// Lets -Rules take the path of a rules file, or the rules themselves as a hashtable
/// (<c>@{ rules = @(@{ match = '*.weight'; quantizer = @{ ... } }) }</c>) — the same object as the file. The hashtable is
/// written as JSON and parsed by the core, which checks it exactly as it checks a file.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class RulesTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object? value = Unwrap(inputData);
        try
        {
            return value switch
            {
                QuantizationRules rules => rules,
                string path => QuantizationRules.Read(engineIntrinsics.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path), path),
                IDictionary or PSObject => QuantizationRules.Parse(JsonSerializer.Serialize(Plain(value)), "Rules"),
                _ => throw new ArgumentTransformationMetadataException($"-Rules takes a rules file's path or a hashtable, not {value?.GetType().Name ?? "null"}."),
            };
        }
        catch (QuantShellException ex)
        {
            throw new ArgumentTransformationMetadataException(ErrorRecords.MessageOf(ex), ex);
        }
    }

    private static object? Unwrap(object? value) => value is PSObject wrapped && wrapped.BaseObject is not PSCustomObject ? wrapped.BaseObject : value;

    // Hashtables, arrays and [pscustomobject]s as plain dictionaries and lists, for the serializer.
    private static object? Plain(object? value)
    {
        value = Unwrap(value);
        switch (value)
        {
            case null or string or bool: return value;
            case IDictionary dictionary:
                return dictionary.Keys.Cast<object>().ToDictionary(key => key.ToString()!, key => Plain(dictionary[key]));
            case PSObject custom:
                return custom.Properties.ToDictionary(property => property.Name, property => Plain(property.Value));
            case IEnumerable list:
                return list.Cast<object?>().Select(Plain).ToList();
            default:
                return value;
        }
    }
}
