using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/QuantShell.Benchmarks -- --filter '*'        (BenchmarkDotNet)
// dotnet run -c Release --project tests/QuantShell.Benchmarks -- quick              (one-shot GB/s table)
// dotnet run -c Release --project tests/QuantShell.Benchmarks -- formats DIR MIB    (model-file layer: read and copy GB/s)
// dotnet run -c Release --project tests/QuantShell.Benchmarks -- lut                (LUT kernel vs memcpy and uniform)
// dotnet run -c Release --project tests/QuantShell.Benchmarks -- gridsums           (MCT's error sums, float64 and float32 grids: division vs reciprocal)
if (args.Length > 2 && args[0] == "generate")
{
    QuantShell.Benchmarks.Generator.Run(args[1], args.Skip(2).Select(long.Parse).ToArray());
    return;
}
if (args.Length > 2 && args[0] == "mctq")
{
    QuantShell.Benchmarks.MctqModelGenerator.Run(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
    return;
}
if (args.Length > 1 && args[0] == "smallfiles")
{
    QuantShell.Benchmarks.SmallFilesReport.Run(args[1]);
    return;
}
if (args.Length > 1 && args[0] == "file")
{
    QuantShell.Benchmarks.FileReport.Run(args[1]);
    return;
}
if (args.Length > 2 && args[0] == "formats")
{
    QuantShell.Benchmarks.FormatsReport.Run(args[1], long.Parse(args[2]));
    return;
}
if (args.Length > 0 && args[0] == "tensor")
{
    QuantShell.Benchmarks.TensorReport.Run();
    return;
}
if (args.Length > 0 && args[0] == "lut")
{
    QuantShell.Benchmarks.QuickLutReport.Run();
    return;
}
if (args.Length > 0 && args[0] == "gridsums")
{
    QuantShell.Benchmarks.GridSumsReport.Run();
    return;
}
if (args.Length > 0 && args[0] == "quick")
{
    QuantShell.Benchmarks.QuickKernelReport.Run(args.Length > 1 ? args[1] : null);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
