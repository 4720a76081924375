using System.Text.Json;

namespace Cortex.Saving;

/// <summary>
/// Reading and writing the JSON configs that describe layers, losses, optimizers and their parts — one place for
/// every <c>GetConfig</c>/<c>FromConfig</c> pair and for name lookups. A key that is absent (or null) takes the
/// fallback; a key present with the wrong JSON type throws, so a damaged file is reported rather than half-read.
/// </summary>
internal static class ConfigJson
{
    /// <summary>The Keras serialisation shape: <c>{"class_name": …, "config": {…}}</c>.</summary>
    public static Dictionary<string, object?> Describe(string className, Dictionary<string, object?> config) =>
        new() { ["class_name"] = className, ["config"] = config };

    public static string ClassName(JsonElement described) => described.GetProperty("class_name").GetString()!;

    public static JsonElement Config(JsonElement described) => described.GetProperty("config");

    public static bool TryGet(JsonElement config, string key, out JsonElement value)
    {
        value = default;
        return config.ValueKind == JsonValueKind.Object && config.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;
    }

    public static string? String(JsonElement c, string key) => TryGet(c, key, out var v) ? v.GetString() : null;

    public static string String(JsonElement c, string key, string fallback) => String(c, key) ?? fallback;

    public static float Float(JsonElement c, string key, float fallback) => TryGet(c, key, out var v) ? v.GetSingle() : fallback;

    public static float? NullableFloat(JsonElement c, string key, float? fallback = null)
    {
        if (c.ValueKind == JsonValueKind.Object && c.TryGetProperty(key, out var v))
            return v.ValueKind == JsonValueKind.Null ? null : v.GetSingle();
        return fallback;
    }

    public static int Int(JsonElement c, string key, int fallback) => TryGet(c, key, out var v) ? v.GetInt32() : fallback;

    public static int? NullableInt(JsonElement c, string key) => TryGet(c, key, out var v) ? v.GetInt32() : null;

    public static long Long(JsonElement c, string key, long fallback) => TryGet(c, key, out var v) ? v.GetInt64() : fallback;

    public static bool Bool(JsonElement c, string key, bool fallback) => TryGet(c, key, out var v) ? v.GetBoolean() : fallback;

    public static int[] Ints(JsonElement c, string key) => [.. c.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];

    public static JsonElement? Object(JsonElement c, string key) =>
        TryGet(c, key, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    /// <summary>
    /// Looks a Keras name up in <paramref name="table"/>, ignoring case and underscores (so <c>"rmsprop"</c> and
    /// <c>"RMSprop"</c> both work); an unknown name throws with the valid ones listed.
    /// </summary>
    public static T Resolve<T>(string kind, string identifier, IReadOnlyList<(string Name, Func<T> Create)> table)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        string key = Normalize(identifier);
        foreach (var (name, create) in table)
            if (Normalize(name) == key) return create();
        throw new ArgumentException($"Unknown {kind} '{identifier}'. Valid names: {string.Join(", ", table.Select(t => t.Name))}");
    }

    private static string Normalize(string name) => name.Replace("_", "").ToLowerInvariant();

    /// <summary>Validates a constructor argument that must be a finite number ≥ 0, naming the owner and the argument.</summary>
    public static float NonNegative(string owner, string argument, float value)
    {
        if (!(value >= 0) || float.IsInfinity(value))
            throw new ArgumentException($"{owner}: invalid value for argument {argument}: expected a non-negative finite number. Received: {argument}={value}");
        return value;
    }
}
