using System.Security.Cryptography;
using System.Text;

namespace CoordinationHub.Platform.Security;

/// <summary>
/// AES-256-GCM for the person's data at rest. A sealed value reads <c>chv1:&lt;key id&gt;:&lt;base64
/// nonce|tag|ciphertext&gt;</c>; the context (e.g. <c>person:&lt;referral id&gt;:&lt;version&gt;</c>) is
/// authenticated, so a value copied to another row does not open. Searchable values go through
/// <see cref="BlindIndex"/>, a keyed hash: equal inputs match, nothing is readable.
/// </summary>
public sealed class PersonCipher(KeyRing ring)
{
    private const string Prefix = "chv1:";
    private const int NonceSize = 12, TagSize = 16;

    public string ActiveKeyId => ring.Active.Id;

    public static bool IsSealed(string? value) => value?.StartsWith(Prefix, StringComparison.Ordinal) == true;

    /// <summary>The prefix of values sealed with <paramref name="keyId"/>, for finding what a re-encryption pass must redo.</summary>
    public static string PrefixOf(string keyId) => $"{Prefix}{keyId}:";

    public string Seal(string plaintext, string context)
    {
        var key = ring.Active;
        var input = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[NonceSize + TagSize + input.Length];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(key.Material, TagSize))
            aes.Encrypt(nonce, input, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(context));
        return PrefixOf(key.Id) + Convert.ToBase64String(output);
    }

    public string Open(string sealedValue, string context)
    {
        if (!IsSealed(sealedValue)) throw new CryptographicException("The value is not sealed.");
        var colon = sealedValue.IndexOf(':', Prefix.Length);
        var key = ring.Find(sealedValue[Prefix.Length..colon]);
        var input = Convert.FromBase64String(sealedValue[(colon + 1)..]);
        var output = new byte[input.Length - NonceSize - TagSize];
        using (var aes = new AesGcm(key.Material, TagSize))
            aes.Decrypt(input.AsSpan(0, NonceSize), input.AsSpan(NonceSize + TagSize), input.AsSpan(NonceSize, TagSize), output,
                Encoding.UTF8.GetBytes(context));
        return Encoding.UTF8.GetString(output);
    }

    /// <summary>An HMAC-SHA256 under the index key, to fingerprint what may hold a person's data.</summary>
    public IncrementalHash KeyedHash() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, ring.IndexKey);

    /// <summary>HMAC-SHA256 of <paramref name="normalised"/> under the ring's index key, base64.</summary>
    public string BlindIndex(string normalised) =>
        Convert.ToBase64String(HMACSHA256.HashData(ring.IndexKey, Encoding.UTF8.GetBytes(normalised)));
}
