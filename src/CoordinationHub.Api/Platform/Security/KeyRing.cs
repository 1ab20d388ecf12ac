using System.Security.Cryptography;
using System.Text.Json;

namespace CoordinationHub.Platform.Security;

/// <summary>
/// The keys that encrypt the person's data at rest, in one JSON file outside the database
/// (<c>PersonalData:KeyRingPath</c>, default <c>keyring.json</c> beside the SQLite file or in
/// <c>data/</c>). Created with a first key on first start. Every instance of the API must read the
/// same file; back it up apart from the database: a database copy without it reveals nothing, and
/// without it the data cannot be read back.
/// </summary>
public sealed class KeyRing
{
    public sealed record Key(string Id, DateTimeOffset CreatedAt, byte[] Material);

    private sealed record Stored(string ActiveKeyId, string IndexKey, List<StoredKey> Keys);
    private sealed record StoredKey(string Id, DateTimeOffset CreatedAt, string Material);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly object gate = new();
    private State state;

    private sealed record State(Key Active, IReadOnlyDictionary<string, Key> Keys, byte[] IndexKey);

    public KeyRing(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        state = LoadOrCreate();
    }

    public string Path { get; }
    public Key Active => state.Active;
    public byte[] IndexKey => state.IndexKey;
    public IReadOnlyCollection<Key> Keys => state.Keys.Values.ToList();

    /// <summary>The key of that id; the file is read again once when it is unknown (another instance rotated).</summary>
    public Key Find(string id)
    {
        if (state.Keys.TryGetValue(id, out var key)) return key;
        lock (gate) state = Read() ?? state;
        return state.Keys.TryGetValue(id, out key) ? key
            : throw new CryptographicException($"Key '{id}' is not in the key ring {Path}: restore the key ring from its backup.");
    }

    /// <summary>Adds a new key and makes it the active one; the others stay, to read older data.</summary>
    public Key Rotate(DateTimeOffset now)
    {
        lock (gate)
        {
            var current = Read() ?? state;
            var next = new Key($"k{current.Keys.Count + 1}", now, RandomNumberGenerator.GetBytes(32));
            state = new State(next, new Dictionary<string, Key>(current.Keys) { [next.Id] = next }, current.IndexKey);
            Write(state);
            return next;
        }
    }

    private State LoadOrCreate()
    {
        lock (gate)
        {
            if (Read() is { } existing) return existing;
            var first = new Key("k1", DateTimeOffset.UtcNow, RandomNumberGenerator.GetBytes(32));
            var created = new State(first, new Dictionary<string, Key> { [first.Id] = first }, RandomNumberGenerator.GetBytes(32));
            Write(created);
            return created;
        }
    }

    private State? Read()
    {
        if (!File.Exists(Path)) return null;
        var stored = JsonSerializer.Deserialize<Stored>(File.ReadAllText(Path), Json)
            ?? throw new InvalidDataException($"The key ring {Path} is empty.");
        var keys = stored.Keys.ToDictionary(k => k.Id, k => new Key(k.Id, k.CreatedAt, Convert.FromBase64String(k.Material)));
        return new State(keys[stored.ActiveKeyId], keys, Convert.FromBase64String(stored.IndexKey));
    }

    private void Write(State s)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var stored = new Stored(s.Active.Id, Convert.ToBase64String(s.IndexKey),
            s.Keys.Values.OrderBy(k => k.CreatedAt).Select(k => new StoredKey(k.Id, k.CreatedAt, Convert.ToBase64String(k.Material))).ToList());
        // Written beside, then moved: a reader never sees half a file.
        var temp = Path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(stored, Json));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, Path, overwrite: true);
    }
}
