using System.Globalization;

namespace QuantShell.Core.Jobs;

/// <summary>
/// How far a job is: inputs done out of those known so far and, while a model file is being worked on, its tensors done
/// (<see cref="ItemTensorsDone"/> of <see cref="ItemTensorsTotal"/>) and their bytes (<see cref="ItemBytesDone"/> of
/// <see cref="ItemBytesTotal"/>, which the percentage follows: a large tensor takes longer).
/// </summary>
public sealed record JobProgress(string Activity, int Done, int Known, string? Current, bool Completed)
{
    /// <summary>The input whose tensors <see cref="ItemBytesDone"/> counts.</summary>
    public string? Item { get; init; }

    public long? ItemBytesDone { get; init; }

    public long? ItemBytesTotal { get; init; }

    public int? ItemTensorsDone { get; init; }

    public int? ItemTensorsTotal { get; init; }

    public int PercentComplete => Known == 0 ? 0 : (int)(100L * Done / Known);

    public int ItemPercentComplete => ItemBytesTotal is > 0 ? (int)(100 * ItemBytesDone!.Value / ItemBytesTotal.Value) : 0;

    public string Status => Completed ? "Done" : Current is null ? $"{Done} of {Known}" : $"{Done + 1} of {Known}: {Path.GetFileName(Current)}";

    /// <summary>"model.onnx: tensor 12 of 238, 10.5 of 88.0 MiB".</summary>
    public string ItemStatus => string.Create(CultureInfo.InvariantCulture,
        $"{Path.GetFileName(Item)}: tensor {Math.Min(ItemTensorsDone.GetValueOrDefault() + 1, ItemTensorsTotal.GetValueOrDefault())} of {ItemTensorsTotal}, " +
        $"{ItemBytesDone / 1048576.0:F1} of {ItemBytesTotal / 1048576.0:F1} MiB");
}
