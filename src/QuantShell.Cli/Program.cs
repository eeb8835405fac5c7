using QuantShell.Cli;
using QuantShell.Core.Diagnostics;
using QuantShell.Core.Kernels;

Timeline.Mark("main");
// Framework-dependent builds only (nothing under Native AOT): the kernel compiles on another core while the arguments are parsed.
KernelWarmUp.Start();
int exitCode = Cli.RunConsole(args);
Timeline.Mark("command done");
Timeline.Report(Console.Error);
return exitCode;
