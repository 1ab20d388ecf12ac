using CoordinationHub.Platform;
using CoordinationHub.Platform.Cli;

// Settings ship beside the binary; relative paths (data/, CLI files) follow the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var verb = CommandLine.Verb(args);
builder.AddCoordinationHub(runningAsServer: verb is null);
var app = builder.Build();
app.UseCoordinationHub();

if (verb is not null) return await CommandLine.RunAsync(app, args);
await app.RunAsync();
return 0;

public partial class Program;
