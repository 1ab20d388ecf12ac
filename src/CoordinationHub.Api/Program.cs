using CoordinationHub.Platform;
using CoordinationHub.Platform.Cli;

// Settings ship beside the binary; relative paths (data/, CLI files) follow the working directory.
var verb = CommandLine.Verb(args);
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = verb is null ? args : CommandLine.SettingsOf(args), ContentRootPath = AppContext.BaseDirectory,
});
builder.AddCoordinationHub(runningAsServer: verb is null);
var app = builder.Build();
app.UseCoordinationHub();

if (verb is not null) return await CommandLine.RunAsync(app, args);
await app.RunAsync();
return 0;

public partial class Program;
