using System.Security.Cryptography;
using System.Text.Json;

namespace CoordinationHub.Platform.Security;

/// <summary>
/// The keys that wrap the data keys (<see cref="DataKeys"/>), in one JSON file outside the database
/// (<c>PersonalData:KeyRingPath</c>, default <c>keyring.json</c> beside the SQLite file or in <c>data/</c>).
/// Every instance of the API must read the same file; back it up apart from the database: a database copy
/// without it reveals nothing, and without it the data cannot be read back. The file is created only by
/// <see cref="CreateIfMissing"/>, which start-up calls when the database holds nothing sealed: a lost ring
/// is never replaced silently (<see cref="KeyRingCheck"/>).
/// </summary>
public sealed class KeyRing
{
    public sealed record Key(string Id, DateTimeOffset CreatedAt, byte[] Material);

    private sealed record Stored(string ActiveKeyId, string IndexKey, List<StoredKey> Keys, List<string>? RetiredKeyIds);
    private sealed record StoredKey(string Id, DateTimeOffset CreatedAt, string Material);

    /// <summary>How often a running instance looks at the file for a rotation made elsewhere (its stated bound).</summary>
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(2);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly object gate = new();
    private State? state;
    private DateTime seenWrite;
    private long checkedAt;

    private sealed record State(Key Active, IReadOnlyDictionary<string, Key> Keys, byte[] IndexKey, IReadOnlySet<string> Retired);

    public KeyRing(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        state = Read();
    }

    public string Path { get; }
    public bool Exists => Current is not null;
    public Key Active => Loaded.Active;
    public byte[] IndexKey => Loaded.IndexKey;
    public IReadOnlyCollection<Key> Keys => Loaded.Keys.Values.ToList();
    public IReadOnlySet<string> Retired => Loaded.Retired;

    private State Loaded => Current ?? throw new CryptographicException(
        $"There is no key ring at {Path}: restore keyring.json from its backup (see openapi/guides/referrals-and-personal-data.md, 'The key ring').");

    /// <summary>The state, read again when the file changed since the last look (at most every <see cref="RefreshEvery"/>).</summary>
    private State? Current
    {
        get
        {
            var now = Environment.TickCount64;
            if (now - Interlocked.Read(ref checkedAt) < RefreshEvery.TotalMilliseconds) return state;
            lock (gate)
            {
                if (now - checkedAt < RefreshEvery.TotalMilliseconds) return state;
                checkedAt = now;
                var written = File.Exists(Path) ? File.GetLastWriteTimeUtc(Path) : default;
                if (written != seenWrite) state = Read() ?? state;
                return state;
            }
        }
    }

    /// <summary>The key of that id; the file is read again once when it is unknown (another instance rotated).</summary>
    public Key Find(string id)
    {
        if (Loaded.Keys.TryGetValue(id, out var key)) return key;
        lock (gate) state = Read() ?? state;
        return Loaded.Keys.TryGetValue(id, out key) ? key
            : throw new CryptographicException($"Key '{id}' is not in the key ring {Path}: restore the key ring from its backup.");
    }

    /// <summary>Writes a ring with a first key, unless the file exists. Returns true when it created it.</summary>
    public bool CreateIfMissing(DateTimeOffset now)
    {
        lock (gate)
        {
            if ((state = Read()) is not null) return false;
            var first = new Key(NewId(now, new HashSet<string>()), now, RandomNumberGenerator.GetBytes(32));
            var created = new State(first, new Dictionary<string, Key> { [first.Id] = first }, RandomNumberGenerator.GetBytes(32),
                new HashSet<string>());
            // Two instances starting at once over an empty database: the second finds the first's ring and uses it.
            if (!Write(created, overwrite: false))
            {
                state = Read();
                return false;
            }
            state = created;
            return true;
        }
    }

    /// <summary>
    /// Adds a new key and makes it the active one; the others stay, to unwrap what they wrapped until the
    /// rotation's re-wrap pass moves it. <paramref name="inUse"/>: key ids the database holds, never reused either.
    /// </summary>
    public Key Rotate(DateTimeOffset now, IEnumerable<string>? inUse = null)
    {
        lock (gate)
        {
            var current = Read() ?? Loaded;
            var taken = current.Keys.Keys.Concat(current.Retired).Concat(inUse ?? []).ToHashSet();
            var next = new Key(NewId(now, taken), now, RandomNumberGenerator.GetBytes(32));
            Write(state = current with { Active = next, Keys = new Dictionary<string, Key>(current.Keys) { [next.Id] = next } });
            return next;
        }
    }

    /// <summary>Removes a key for good (the caller checked that nothing is wrapped by it); its id is remembered, never reused.</summary>
    public void Retire(string id)
    {
        lock (gate)
        {
            var current = Read() ?? Loaded;
            if (!current.Keys.ContainsKey(id)) throw new InvalidOperationException($"No key '{id}' in the key ring {Path}.");
            if (current.Active.Id == id) throw new InvalidOperationException($"Key '{id}' is the active key: rotate first.");
            var keys = current.Keys.Where(k => k.Key != id).ToDictionary();
            Write(state = current with { Keys = keys, Retired = new HashSet<string>(current.Retired) { id } });
        }
    }

    // Time-based, with a random tail: ids never repeat, even across rings restored from different backups.
    private static string NewId(DateTimeOffset now, IReadOnlySet<string> taken)
    {
        while (true)
        {
            var id = $"k{now.UtcDateTime:yyyyMMddHHmmss}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
            if (!taken.Contains(id)) return id;
        }
    }

    private State? Read()
    {
        if (!File.Exists(Path)) return null;
        seenWrite = File.GetLastWriteTimeUtc(Path);
        var stored = JsonSerializer.Deserialize<Stored>(File.ReadAllText(Path), Json)
            ?? throw new InvalidDataException($"The key ring {Path} is empty.");
        var keys = stored.Keys.ToDictionary(k => k.Id, k => new Key(k.Id, k.CreatedAt, Convert.FromBase64String(k.Material)));
        return new State(keys[stored.ActiveKeyId], keys, Convert.FromBase64String(stored.IndexKey),
            (stored.RetiredKeyIds ?? []).ToHashSet());
    }

    /// <summary>Writes the ring; false when <paramref name="overwrite"/> is off and a ring is already there.</summary>
    private bool Write(State s, bool overwrite = true)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var stored = new Stored(s.Active.Id, Convert.ToBase64String(s.IndexKey),
            s.Keys.Values.OrderBy(k => k.CreatedAt).Select(k => new StoredKey(k.Id, k.CreatedAt, Convert.ToBase64String(k.Material))).ToList(),
            s.Retired.Order(StringComparer.Ordinal).ToList());
        // Written beside, then moved: a reader never sees half a file.
        var temp = $"{Path}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(stored, Json));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try { File.Move(temp, Path, overwrite); }
        catch (IOException) when (!overwrite && File.Exists(Path))
        {
            File.Delete(temp);
            return false;
        }
        seenWrite = File.GetLastWriteTimeUtc(Path);
        return true;
    }
}
