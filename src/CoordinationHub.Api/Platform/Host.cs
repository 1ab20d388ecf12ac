using System.Text.Json.Serialization;
using CoordinationHub.Features.Indicators;
using CoordinationHub.Features.CompetenceMap;
using CoordinationHub.Features.Competences;
using CoordinationHub.Features.Delegations;
using CoordinationHub.Features.Audit;
using CoordinationHub.Features.Conventions;
using CoordinationHub.Features.Directory;
using CoordinationHub.Features.Imports;
using CoordinationHub.Features.Pages;
using CoordinationHub.Features.PersonalData;
using CoordinationHub.Features.Referrals;
using CoordinationHub.Features.Webhooks;
using CoordinationHub.Features.ApiKeys;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.Errors;
using CoordinationHub.Platform.Http;
using CoordinationHub.Platform.OpenApi;
using CoordinationHub.Platform.Pipeline;
using CoordinationHub.Platform.Security;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Json;

namespace CoordinationHub.Platform;

public static class Host
{
    public static void AddCoordinationHub(this WebApplicationBuilder builder, bool runningAsServer)
    {
        var services = builder.Services;
        TypeHandlers.Register();
        builder.AddTelemetry();
        services.Configure<DatabaseOptions>(builder.Configuration.GetSection("Database"));
        services.AddSingleton<Db>();
        services.AddSingleton<Migrator>();
        services.AddScoped<ChangeLog>();
        services.AddSingleton(sp => new KeyRing(builder.Configuration["PersonalData:KeyRingPath"] is { Length: > 0 } path
            ? path : Path.Combine(sp.GetRequiredService<Db>().DataDirectory, "keyring.json")));
        services.AddSingleton<PersonCipher>();
        services.AddSingleton<DataKeys>();
        services.AddSingleton<KeyRingCheck>();
        services.AddSingleton<ReferralPersonData>();
        services.AddSingleton<ReferralPersonKeys>();
        services.AddSingleton<Features.Indicators.IndicatorBackfill>();
        services.AddScoped<AccessContext>();
        services.AddScoped<PersonAccess>();
        services.AddSingleton<AccessLogWriter>();
        services.AddScoped<PersonDataPurge>();
        services.AddScoped<AuditRetention>();
        services.AddScoped<ReferralWorkflow>();
        services.AddScoped<ReferralRouter>();
        services.AddScoped<AssignmentLog>();
        services.AddScoped<ConventionDelegations>();
        services.AddScoped<DelegationRules>();
        services.AddScoped<DelegationWrites>();
        services.AddSingleton<ImportProgress>();
        services.AddSingleton<ImportSafety>();
        services.Configure<ImportOptions>(builder.Configuration.GetSection("Imports"));
        services.AddSingleton<ImportWorker>();
        services.AddScoped<MapChanges>();
        services.AddScoped<CompetenceMapWriter>();
        services.AddSingleton<CompetenceMapCache>();
        services.Configure<Features.Indicators.IndicatorOptions>(builder.Configuration.GetSection("Indicators"));
        services.AddScoped<Features.Indicators.IndicatorScope>();
        services.AddSingleton(TimeProvider.System);

        services.AddMediator((Mediator.MediatorOptions o) =>
        {
            o.ServiceLifetime = ServiceLifetime.Scoped;
            o.PipelineBehaviors = [typeof(TracingBehavior<,>), typeof(LoggingBehavior<,>), typeof(ValidationBehavior<,>), typeof(NirGuardBehavior<,>),
                typeof(MapRefreshBehavior<,>)];
        });
        services.AddValidatorsFromAssemblyContaining<Db>(ServiceLifetime.Singleton, includeInternalTypes: true);
        ValidatorOptions.Global.DefaultRuleLevelCascadeMode = CascadeMode.Stop;

        services.AddApiKeyAuth(builder.Configuration);
        services.AddApiKeyManagement(runningAsServer);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            c.ProblemDetails.Extensions["traceId"] = c.HttpContext.TraceIdentifier;
            // Statuses written by the framework itself (unknown route, wrong method, wrong content type).
            if (c.ProblemDetails.Type is null || c.ProblemDetails.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
            {
                (c.ProblemDetails.Type, c.ProblemDetails.Detail) = c.ProblemDetails.Status switch
                {
                    404 => (ProblemExceptionHandler.TypeBase + "not-found", c.ProblemDetails.Detail ?? "No such route; the API lives under /v1/ (see /openapi/v1.json)."),
                    405 => (ProblemExceptionHandler.TypeBase + "method-not-allowed", c.ProblemDetails.Detail ?? $"{c.HttpContext.Request.Method} is not allowed on this route."),
                    // A chunked body over the limit fails while binding, without the exception the handler maps.
                    413 => (ProblemExceptionHandler.TypeBase + "payload-too-large", c.ProblemDetails.Detail ?? "The request body is too large."),
                    415 => (ProblemExceptionHandler.TypeBase + "unsupported-media-type", c.ProblemDetails.Detail ?? ProblemExceptionHandler.Unsupported(c.HttpContext)),
                    _ => (ProblemExceptionHandler.TypeBase + "http-" + c.ProblemDetails.Status, c.ProblemDetails.Detail),
                };
            }
            // The contract requires type, title, status and detail on every problem.
            c.ProblemDetails.Status ??= c.HttpContext.Response.StatusCode;
            c.ProblemDetails.Title ??= Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(c.ProblemDetails.Status.Value);
            c.ProblemDetails.Detail ??= c.ProblemDetails.Title;
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(allowIntegerValues: false));
            o.SerializerOptions.Converters.Add(new FreeText.Converter());
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = builder.Configuration.GetValue<long?>("Http:MaxRequestBodyBytes") ?? 1_048_576;
            // Header bytes beyond ASCII (fetch sends ISO-8859-1) are read, not refused with a bare 400 (HeaderText).
            k.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
            // Kestrel answers its own limits without a body: its limits sit above the API's, which RequestLimits
            // enforces with a problem document (414, 431).
            k.Limits.MaxRequestLineSize = 4 * RequestLimits.MaxTargetLength;
            k.Limits.MaxRequestHeadersTotalSize = 4 * RequestLimits.MaxHeaderBytes;
            // What Kestrel refuses before any middleware (a NUL in the path, a broken request line…) is answered
            // with a problem document too (TransportRefusals).
            k.ConfigureEndpointDefaults(listen => listen.UseTransportRefusals(k.Limits));
        });

        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<CompetenceMapHealthCheck>("competence-map", tags: ["ready"]);
        services.AddContractDocument();
        services.AddRateLimits(builder.Configuration);
        services.AddCorsAllowlist();
        if (runningAsServer)
        {
            services.AddHostedService<StartupTasks>();
            services.AddHostedService(sp => sp.GetRequiredService<CompetenceMapCache>());
            services.AddHostedService(sp => sp.GetRequiredService<ImportWorker>());
            if (builder.Configuration.GetValue("PersonalData:PurgeOnSchedule", true)) services.AddHostedService<PurgeJob>();
        }
        // After StartupTasks: hosted services start in order, and the dispatcher needs the migrated schema.
        services.AddWebhooks(builder.Configuration, runningAsServer);
    }

    public static void UseCoordinationHub(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.Use(TransportRefusals.Middleware);
        app.UseRateLimitHeaders();
        app.UseCors(); // an empty allowlist (the default) lets no browser origin in
        app.UseStatusCodePages();
        app.UseMiddleware<RequestLimits>();
        app.UseContractDocument();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.Use(NirGuard.Middleware);
        app.UseMiddleware<QueryEnums>();
        app.Use(AccessContext.Middleware);
        app.UseMiddleware<Idempotency>();
        app.UseMiddleware<MapConsistency>();

        app.MapTelemetry();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        app.MapDirectory();
        app.MapCompetences();
        app.MapCompetenceMap();
        app.MapIndicators();
        app.MapDelegations();
        app.MapConventions();
        app.MapAudit();
        app.MapImports();
        app.MapReferrals();
        app.MapPersonalData();
        app.MapWebhooks();
        app.MapApiKeys();
        app.MapOrganisationAccess();
        app.MapPages();
        app.MapGuides();
    }
}
