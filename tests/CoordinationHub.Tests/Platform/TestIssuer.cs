using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// A real OpenID Connect issuer as far as the API sees it: a Kestrel server on a loopback port serving a discovery
/// document and a JWKS of RSA keys the test makes, publishes and rolls over; it mints the tokens the tests send.
/// </summary>
public sealed class TestIssuer : IAsyncDisposable
{
    public const string Audience = "coordinationhub";
    private WebApplication app = null!;
    private volatile RsaSecurityKey[] published = [];
    public string Url { get; private set; } = "";
    public int JwksFetches;

    public static RsaSecurityKey NewKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public void Publish(params RsaSecurityKey[] keys) => published = keys;

    public static async Task<TestIssuer> StartAsync(params RsaSecurityKey[] keys)
    {
        var issuer = new TestIssuer { published = keys };
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        issuer.app = builder.Build();
        issuer.app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = issuer.Url, ["jwks_uri"] = issuer.Url + "/jwks", ["token_endpoint"] = issuer.Url + "/token",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        issuer.app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref issuer.JwksFetches);
            return Results.Json(new
            {
                keys = issuer.published.Select(k =>
                {
                    var p = k.Rsa.ExportParameters(false);
                    return new { kty = "RSA", use = "sig", alg = "RS256", kid = k.KeyId, n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent) };
                }),
            });
        });
        await issuer.app.StartAsync();
        issuer.Url = issuer.app.Urls.First();
        return issuer;
    }

    /// <summary>A token signed by <paramref name="key"/>: valid for 5 minutes from now unless told otherwise.</summary>
    public string Token(RsaSecurityKey key, IDictionary<string, object> claims, DateTime? notBefore = null, DateTime? expires = null,
        string audience = Audience, string? issuer = null)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Url, Audience = audience, Claims = claims,
            IssuedAt = (notBefore ?? now).AddSeconds(-1), NotBefore = notBefore ?? now.AddSeconds(-1), Expires = expires ?? now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>An unsigned token (<c>alg: none</c>) with the same claims.</summary>
    public string Unsigned(IDictionary<string, object> claims) =>
        Encode(new { alg = "none", typ = "JWT" }) + "." + Encode(Payload(claims)) + ".";

    /// <summary>The HS256 confusion: an HMAC "signed" with the issuer's RSA public key as the secret.</summary>
    public string HmacWithPublicKey(RsaSecurityKey key, IDictionary<string, object> claims)
    {
        var signingInput = Encode(new { alg = "HS256", typ = "JWT", kid = key.KeyId }) + "." + Encode(Payload(claims));
        var secret = Encoding.UTF8.GetBytes(key.Rsa.ExportSubjectPublicKeyInfoPem());
        return signingInput + "." + Base64UrlEncoder.Encode(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(signingInput)));
    }

    private Dictionary<string, object> Payload(IDictionary<string, object> claims)
    {
        var now = DateTimeOffset.UtcNow;
        return new Dictionary<string, object>(claims)
        {
            ["iss"] = Url, ["aud"] = Audience, ["nbf"] = now.AddSeconds(-1).ToUnixTimeSeconds(), ["iat"] = now.ToUnixTimeSeconds(),
            ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        };
    }

    private static string Encode(object value) => Base64UrlEncoder.Encode(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(value));

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await app.StopAsync(stop.Token);
        await app.DisposeAsync();
    }
}
