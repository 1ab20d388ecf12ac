using System.Security.Cryptography;
using System.Text;

namespace CoordinationHub.Features.Webhooks;

/// <summary>
/// Standard Webhooks signatures: <c>v1,base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))</c>, one per
/// valid secret, space-separated (both secrets during a rotation's overlap). Secrets are
/// <c>whsec_</c> + base64 of 32 random bytes; the key is the decoded bytes.
/// </summary>
public static class WebhookSigner
{
    public const string Prefix = "whsec_";

    /// <summary>What a secret is sealed under (both columns: a rotation moves the current secret to the previous one).</summary>
    public static string SecretContext(Guid subscriptionId) => $"webhook-secret:{subscriptionId}";

    public static string NewSecret() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string Sign(string id, long timestamp, string body, IEnumerable<string> secrets) =>
        string.Join(' ', secrets.Select(secret =>
        {
            var key = Convert.FromBase64String(secret[Prefix.Length..]);
            var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
            return "v1," + Convert.ToBase64String(mac);
        }));
}
