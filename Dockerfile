# CoordinationHub API container image.
#
#   docker build -t coordinationhub .
#   docker run -p 8080:8080 -v coordinationhub-data:/app/data coordinationhub
#
# The build stage runs exactly the restore/publish that was run and checked on a
# plain machine with the .NET 10 SDK (see tests/run.sh for the test suite).

# ---- build stage ------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore inputs first, so the restore layer is cached until a package changes.
# nuget.config is optional: a wildcard that matches nothing is allowed here.
COPY ["Directory.Build.props", "Directory.Packages.props", "global.json", "nuget.config*", "./"]
COPY ["src/CoordinationHub.Api/CoordinationHub.Api.csproj", "src/CoordinationHub.Api/"]
RUN dotnet restore src/CoordinationHub.Api/CoordinationHub.Api.csproj

COPY src/ src/
# The guides served at /guides/ are embedded from here at build.
COPY openapi/guides/ openapi/guides/
RUN dotnet publish src/CoordinationHub.Api/CoordinationHub.Api.csproj -c Release -o /app --no-restore

# ---- runtime stage ----------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime

LABEL maintainer="CoordinationHub maintainers" \
      description="CoordinationHub REST API (ASP.NET Core, .NET 10)" \
      org.opencontainers.image.title="CoordinationHub" \
      org.opencontainers.image.description="CoordinationHub REST API (ASP.NET Core, .NET 10)"

WORKDIR /app

# Application files stay owned by root (read-only for the app user); only the
# data directory (SQLite database by default: Data Source=data/coordinationhub.db)
# is writable by the non-root user. `app` (UID/GID 1654) is built into the image.
COPY --from=build /app /app
RUN mkdir -p /app/data && chown app:app /app/data && chmod 750 /app/data

# ASPNETCORE_HTTP_PORTS is cleared so that it does not compete with ASPNETCORE_URLS.
ENV ASPNETCORE_URLS=http://+:8080 \
    ASPNETCORE_HTTP_PORTS= \
    ASPNETCORE_ENVIRONMENT=Production \
    DOTNET_NOLOGO=1 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1

VOLUME ["/app/data"]
EXPOSE 8080

USER app

# The aspnet image has no curl/wget. The app itself implements a `healthcheck`
# command-line verb: `dotnet CoordinationHub.Api.dll healthcheck` does a GET on
# http://localhost:8080/health/live and exits 0 when it answers 2xx, else 1,
# without starting the web host.
# (No --start-period: dockerfilelint rejects hyphenated HEALTHCHECK options; the
# first probe only runs after one --interval anyway.)
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["dotnet", "/app/CoordinationHub.Api.dll", "healthcheck"]

ENTRYPOINT ["dotnet", "CoordinationHub.Api.dll"]
