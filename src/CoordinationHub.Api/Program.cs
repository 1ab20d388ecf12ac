using CoordinationHub.Platform;
using CoordinationHub.Platform.Cli;

var builder = WebApplication.CreateBuilder(args);
var verb = CommandLine.Verb(args);
builder.AddCoordinationHub(runningAsServer: verb is null);
var app = builder.Build();
app.UseCoordinationHub();

if (verb is not null) return await CommandLine.RunAsync(app, args);
await app.RunAsync();
return 0;

public partial class Program;
