using QuantShell.Cli;
using QuantShell.Core.Diagnostics;

Timeline.Mark("main");
int exitCode = Cli.RunConsole(args);
Timeline.Mark("command done");
Timeline.Report(Console.Error);
return exitCode;
