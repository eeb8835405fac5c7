using System.Globalization;

namespace QuantShell.Core.Jobs;

/// <summary>
/// How far a job is: inputs done out of those known so far and, while a large input is being worked on, the bytes of its
/// tensors done out of its total (<see cref="ItemBytesDone"/>, <see cref="ItemBytesTotal"/>).
/// </summary>
public sealed record JobProgress(string Activity, int Done, int Known, string? Current, bool Completed)
{
    /// <summary>The input whose tensors <see cref="ItemBytesDone"/> counts.</summary>
    public string? Item { get; init; }

    public long? ItemBytesDone { get; init; }

    public long? ItemBytesTotal { get; init; }

    public int PercentComplete => Known == 0 ? 0 : (int)(100L * Done / Known);

    public int ItemPercentComplete => ItemBytesTotal is > 0 ? (int)(100 * ItemBytesDone!.Value / ItemBytesTotal.Value) : 0;

    public string Status => Completed ? "Done" : Current is null ? $"{Done} of {Known}" : $"{Done + 1} of {Known}: {Path.GetFileName(Current)}";

    public string ItemStatus => string.Create(CultureInfo.InvariantCulture,
        $"{Path.GetFileName(Item)}: {ItemBytesDone / 1048576.0:F1} of {ItemBytesTotal / 1048576.0:F1} MiB of tensors");
}
