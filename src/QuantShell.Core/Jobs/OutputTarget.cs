namespace QuantShell.Core.Jobs;

/// <summary>Where one input's output goes: a file (full path, and the name messages use) or a stream.</summary>
internal readonly record struct OutputTarget(string? Path, string Name, Stream? Stream);
