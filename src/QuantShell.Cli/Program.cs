using QuantShell.Cli;

return Cli.RunConsole(args);
