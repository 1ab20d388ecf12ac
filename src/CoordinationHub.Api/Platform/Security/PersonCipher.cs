using System.Security.Cryptography;
using System.Text;

namespace CoordinationHub.Platform.Security;

/// <summary>
/// AES-256-GCM for the data at rest, by envelope: a value is sealed with a data key (<c>chv2:&lt;base64
/// nonce|tag|ciphertext&gt;</c>), and the data key is stored wrapped by a key of the ring
/// (<c>chk1:&lt;ring key id&gt;:&lt;base64&gt;</c>, <see cref="DataKeys"/>). Destroying the wrapped data key
/// destroys every copy of what it sealed. The context (e.g. <c>person:&lt;referral id&gt;:&lt;version&gt;</c>) is
/// authenticated, so a value copied to another row does not open. Values of the first scheme
/// (<c>chv1:&lt;ring key id&gt;:…</c>, sealed with the ring key itself) still open; start-up moves them under
/// data keys. Searchable values go through <see cref="BlindIndex"/>, a keyed hash.
/// </summary>
public sealed class PersonCipher(KeyRing ring)
{
    private const string LegacyPrefix = "chv1:", Prefix = "chv2:", WrappedPrefix = "chk1:";
    private const int NonceSize = 12, TagSize = 16;

    public KeyRing Ring => ring;

    public static bool IsSealed(string? value) =>
        value?.StartsWith(Prefix, StringComparison.Ordinal) == true || IsLegacy(value);

    /// <summary>Sealed with a ring key directly (the first scheme): start-up moves it under a data key.</summary>
    public static bool IsLegacy(string? value) => value?.StartsWith(LegacyPrefix, StringComparison.Ordinal) == true;

    /// <summary>The ring key id a wrapped data key or a first-scheme value names.</summary>
    public static string RingKeyIdOf(string value)
    {
        var colon = value.IndexOf(':', WrappedPrefix.Length);
        return value[WrappedPrefix.Length..colon];
    }

    /// <summary>A new data key, and its wrapped form under the active ring key, bound to <paramref name="owner"/>.</summary>
    public (byte[] Key, string Wrapped) NewDataKey(Guid owner)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        return (key, Wrap(key, owner));
    }

    public string Wrap(byte[] dataKey, Guid owner)
    {
        var active = ring.Active;
        return $"{WrappedPrefix}{active.Id}:{Encrypt(active.Material, dataKey, WrapContext(owner))}";
    }

    public byte[] Unwrap(string wrapped, Guid owner)
    {
        if (!wrapped.StartsWith(WrappedPrefix, StringComparison.Ordinal)) throw new CryptographicException("The value is not a wrapped key.");
        var colon = wrapped.IndexOf(':', WrappedPrefix.Length);
        var ringKey = ring.Find(wrapped[WrappedPrefix.Length..colon]).Material;
        // A ring key opens every data key a page reads: its cipher is kept per thread, not made once per person.
        return Decrypt(Kept(ref RingCipher, ringKey), wrapped[(colon + 1)..], WrapContext(owner));
    }

    [ThreadStatic] private static (byte[] Key, AesGcm Aes)? RingCipher;
    [ThreadStatic] private static (byte[] Key, AesGcm Aes)? PlatformCipher;

    /// <summary>The cipher of a long-lived key, kept in <paramref name="slot"/> for the last key only (a retired key does not linger).</summary>
    private static AesGcm Kept(ref (byte[] Key, AesGcm Aes)? slot, byte[] key)
    {
        if (slot is { } last && ReferenceEquals(last.Key, key)) return last.Aes;
        slot?.Aes.Dispose();
        slot = (key, new AesGcm(key, TagSize));
        return slot.Value.Aes;
    }

    /// <summary>
    /// <see cref="Seal"/> with the platform's key, whose cipher is kept per thread: a logged page seals its reader's X-Agent
    /// and X-Purpose once per person it lists.
    /// </summary>
    public static string SealWithPlatformKey(byte[] platformKey, string plaintext, string context) =>
        Prefix + Encrypt(Kept(ref PlatformCipher, platformKey), Encoding.UTF8.GetBytes(plaintext), context);

    public static string Seal(byte[] dataKey, string plaintext, string context) =>
        Prefix + Encrypt(dataKey, Encoding.UTF8.GetBytes(plaintext), context);

    /// <summary>Opens a value sealed with <paramref name="dataKey"/>, or a first-scheme value with the ring.</summary>
    public string Open(byte[]? dataKey, string sealedValue, string context)
    {
        if (IsLegacy(sealedValue))
        {
            var colon = sealedValue.IndexOf(':', LegacyPrefix.Length);
            var key = ring.Find(sealedValue[LegacyPrefix.Length..colon]);
            return Encoding.UTF8.GetString(Decrypt(key.Material, sealedValue[(colon + 1)..], context));
        }
        if (!sealedValue.StartsWith(Prefix, StringComparison.Ordinal)) throw new CryptographicException("The value is not sealed.");
        if (dataKey is null) throw new CryptographicException("The data key of this value was destroyed.");
        return Encoding.UTF8.GetString(Decrypt(dataKey, sealedValue[Prefix.Length..], context));
    }

    private static string Encrypt(AesGcm aes, byte[] input, string context)
    {
        var output = new byte[NonceSize + TagSize + input.Length];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        aes.Encrypt(nonce, input, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(context));
        return Convert.ToBase64String(output);
    }

    private static string Encrypt(byte[] key, byte[] input, string context)
    {
        using var aes = new AesGcm(key, TagSize);
        return Encrypt(aes, input, context);
    }

    private static byte[] Decrypt(AesGcm aes, string base64, string context)
    {
        var input = Convert.FromBase64String(base64);
        var output = new byte[input.Length - NonceSize - TagSize];
        aes.Decrypt(input.AsSpan(0, NonceSize), input.AsSpan(NonceSize + TagSize), input.AsSpan(NonceSize, TagSize), output,
            Encoding.UTF8.GetBytes(context));
        return output;
    }

    private static byte[] Decrypt(byte[] key, string base64, string context)
    {
        using var aes = new AesGcm(key, TagSize);
        return Decrypt(aes, base64, context);
    }

    private static string WrapContext(Guid owner) => $"data-key:{owner}";

    /// <summary>An HMAC-SHA256 under the index key, to fingerprint what may hold a person's data.</summary>
    public IncrementalHash KeyedHash() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, ring.IndexKey);

    /// <summary>HMAC-SHA256 of <paramref name="normalised"/> under the ring's index key, base64.</summary>
    public string BlindIndex(string normalised) =>
        Convert.ToBase64String(HMACSHA256.HashData(ring.IndexKey, Encoding.UTF8.GetBytes(normalised)));
}
