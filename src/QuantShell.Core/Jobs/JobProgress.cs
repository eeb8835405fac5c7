namespace QuantShell.Core.Jobs;

/// <summary>How far a job is: inputs done out of those known so far.</summary>
public sealed record JobProgress(string Activity, int Done, int Known, string? Current, bool Completed)
{
    public int PercentComplete => Known == 0 ? 0 : (int)(100L * Done / Known);

    public string Status => Completed ? "Done" : Current is null ? $"{Done} of {Known}" : $"{Done + 1} of {Known}: {Path.GetFileName(Current)}";
}
