using System.Text.Json.Nodes;

namespace CoordinationHub.Tests.Platform;

/// <summary>
/// What a client of an earlier contract would break on in a later one, within /v1: an operation, parameter, status or
/// field removed; a type or format changed; a request made stricter (newly required field or parameter, lower limit,
/// narrower enum, new pattern); a response made looser (a field no longer required, newly nullable, a new enum value).
/// Schemas are compared by structure through their $refs: renaming a schema breaks nothing on the wire.
/// </summary>
public static class ContractCompatibility
{
    public static List<string> BreakingChanges(JsonNode before, JsonNode after)
    {
        var found = new List<string>();
        var oldPaths = before["paths"]!.AsObject();
        var newPaths = after["paths"]!.AsObject();
        foreach (var (path, oldItem) in oldPaths)
        foreach (var (method, oldOp) in oldItem!.AsObject())
        {
            var where = $"{method.ToUpperInvariant()} {path}";
            if (newPaths[path]?[method] is not JsonObject newOp) { found.Add($"{where}: operation removed"); continue; }
            Parameters(before, after, oldOp!, newOp, where, found);
            if (oldOp!["requestBody"] is { } oldBody)
                foreach (var (media, content) in oldBody["content"]!.AsObject())
                {
                    var newContent = newOp["requestBody"]?["content"]?[media];
                    if (newContent is null) { found.Add($"{where}: request body {media} no longer accepted"); continue; }
                    Schema(before, after, content!["schema"], newContent["schema"], $"{where} request", request: true, found, 0);
                }
            if (newOp["requestBody"]?["required"]?.GetValue<bool>() == true && oldOp["requestBody"]?["required"]?.GetValue<bool>() != true)
                found.Add($"{where}: request body became required");
            foreach (var (status, oldResponse) in oldOp["responses"]!.AsObject())
            {
                var newResponse = newOp["responses"]?[status];
                if (newResponse is null) { found.Add($"{where}: response {status} removed"); continue; }
                foreach (var (media, content) in oldResponse!["content"]?.AsObject() ?? [])
                {
                    var newContent = newResponse["content"]?[media];
                    if (newContent is null) { found.Add($"{where}: response {status} {media} removed"); continue; }
                    Schema(before, after, content!["schema"], newContent["schema"], $"{where} {status}", request: false, found, 0);
                }
            }
        }
        return found;
    }

    private static void Parameters(JsonNode before, JsonNode after, JsonNode oldOp, JsonNode newOp, string where, List<string> found)
    {
        static string Key(JsonNode p) => $"{p["in"]}:{p["name"]}";
        var oldParameters = (oldOp["parameters"]?.AsArray() ?? []).ToDictionary(p => Key(p!), p => p!);
        var newParameters = (newOp["parameters"]?.AsArray() ?? []).ToDictionary(p => Key(p!), p => p!);
        foreach (var (key, parameter) in newParameters)
            if (parameter["required"]?.GetValue<bool>() == true && oldParameters.GetValueOrDefault(key)?["required"]?.GetValue<bool>() != true)
                found.Add($"{where}: parameter {key} is newly required");
        foreach (var (key, parameter) in oldParameters)
        {
            if (!newParameters.TryGetValue(key, out var now)) { found.Add($"{where}: parameter {key} removed"); continue; }
            Schema(before, after, parameter["schema"], now["schema"], $"{where} parameter {key}", request: true, found, 0);
        }
    }

    private static JsonNode? Resolve(JsonNode document, JsonNode? schema)
    {
        for (var i = 0; i < 10 && schema?["$ref"] is { } reference; i++)
            schema = document["components"]!["schemas"]![reference.GetValue<string>().Split('/')[^1]];
        if (schema?["allOf"] is JsonArray { Count: 1 } all && schema["properties"] is null) return Resolve(document, all[0]);
        return schema;
    }

    private static bool Nullable(JsonNode? schema) => schema?["nullable"]?.GetValue<bool>() == true;

    private static void Schema(JsonNode before, JsonNode after, JsonNode? oldRaw, JsonNode? newRaw, string where, bool request,
        List<string> found, int depth)
    {
        if (depth > 12) return;
        var (oldNullable, newNullable) = (Nullable(oldRaw), Nullable(newRaw));
        var (old, now) = (Resolve(before, oldRaw), Resolve(after, newRaw));
        if (old is null || now is null) return;
        oldNullable |= Nullable(old);
        newNullable |= Nullable(now);
        if (old["type"]?.ToString() != now["type"]?.ToString() || old["format"]?.ToString() != now["format"]?.ToString())
        {
            found.Add($"{where}: retyped from {old["type"]}/{old["format"]} to {now["type"]}/{now["format"]}");
            return;
        }
        if (request && oldNullable && !newNullable) found.Add($"{where}: no longer accepts null");
        if (!request && newNullable && !oldNullable) found.Add($"{where}: may now be null");
        Limit(old, now, "maxLength", where, request, found);
        Limit(old, now, "maxItems", where, request, found);
        Limit(old, now, "maximum", where, request, found);
        if (request && now["minimum"] is { } min && (old["minimum"] is null || min.GetValue<decimal>() > old["minimum"]!.GetValue<decimal>()))
            found.Add($"{where}: minimum raised to {min}");
        // Free text refusing control characters (1.3.0) narrows nothing a client could mean: not reported on a string
        // that had no pattern.
        if (request && now["pattern"] is { } pattern && pattern.ToString() != old["pattern"]?.ToString()
            && !(pattern.ToString() == CoordinationHub.Platform.Http.FreeText.Pattern && old["pattern"] is null))
            found.Add($"{where}: pattern now {pattern}");
        if (old["enum"] is JsonArray oldEnum && now["enum"] is JsonArray newEnum)
        {
            var (o, n) = (oldEnum.Select(v => v?.ToString()).ToHashSet(), newEnum.Select(v => v?.ToString()).ToHashSet());
            if (request && o.Except(n).Any()) found.Add($"{where}: enum no longer accepts {string.Join(", ", o.Except(n))}");
            if (!request && n.Except(o).Any()) found.Add($"{where}: enum may now answer {string.Join(", ", n.Except(o))}");
        }
        if (old["items"] is { } oldItems) Schema(before, after, oldItems, now["items"], where + "[]", request, found, depth + 1);
        var oldRequired = (old["required"]?.AsArray() ?? []).Select(r => r!.GetValue<string>()).ToHashSet();
        var newRequired = (now["required"]?.AsArray() ?? []).Select(r => r!.GetValue<string>()).ToHashSet();
        if (request)
            foreach (var name in newRequired.Except(oldRequired)) found.Add($"{where}: {name} is newly required");
        else
            foreach (var name in oldRequired.Except(newRequired)) found.Add($"{where}: {name} is no longer always sent");
        foreach (var (name, property) in old["properties"]?.AsObject() ?? [])
        {
            if (now["properties"]?[name] is not { } newProperty) { found.Add($"{where}: {name} removed"); continue; }
            Schema(before, after, property, newProperty, $"{where}.{name}", request, found, depth + 1);
        }
    }

    private static void Limit(JsonNode old, JsonNode now, string keyword, string where, bool request, List<string> found)
    {
        if (!request || now[keyword] is not { } limit) return;
        if (old[keyword] is null || limit.GetValue<decimal>() < old[keyword]!.GetValue<decimal>())
            found.Add($"{where}: {keyword} lowered to {limit}");
    }
}
