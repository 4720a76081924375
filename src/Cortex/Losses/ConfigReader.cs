using System.Text.Json;

namespace Cortex;

/// <summary>
/// Reads constructor arguments back from a <c>GetConfig</c> dictionary after a JSON round trip, and resolves the
/// Keras string names that <c>Get</c> accepts. Shared by losses, optimizers, metrics, initializers and regularizers.
/// </summary>
internal static class ConfigReader
{
    public static float Float(JsonElement config, string key, float fallback) =>
        TryGet(config, key, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetSingle() : fallback;

    public static float? NullableFloat(JsonElement config, string key, float? fallback = null) =>
        TryGet(config, key, out var v) ? (v.ValueKind == JsonValueKind.Null ? null : v.GetSingle()) : fallback;

    public static int? NullableInt(JsonElement config, string key) =>
        TryGet(config, key, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetInt32() : null;

    public static long Long(JsonElement config, string key, long fallback) =>
        TryGet(config, key, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetInt64() : fallback;

    public static bool Bool(JsonElement config, string key, bool fallback) =>
        TryGet(config, key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    public static string String(JsonElement config, string key, string fallback) =>
        TryGet(config, key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;

    public static bool TryGet(JsonElement config, string key, out JsonElement value)
    {
        value = default;
        return config.ValueKind == JsonValueKind.Object && config.TryGetProperty(key, out value);
    }

    /// <summary>
    /// Looks <paramref name="identifier"/> up among Keras names, ignoring case and underscores so that both the
    /// snake_case name (<c>binary_crossentropy</c>) and the class name (<c>BinaryCrossentropy</c>) resolve.
    /// </summary>
    /// <exception cref="ArgumentException">No name matches; the message lists the valid names.</exception>
    public static T Resolve<T>(string kind, string identifier, IReadOnlyList<(string Name, Func<T> Create)> table)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        string key = Normalize(identifier);
        foreach (var (name, create) in table)
            if (Normalize(name) == key) return create();
        throw new ArgumentException($"Unknown {kind} '{identifier}'. Valid names: {string.Join(", ", table.Select(t => t.Name))}");
    }

    private static string Normalize(string name) => name.Replace("_", "").ToLowerInvariant();

    /// <summary>Rejects a negative, infinite or NaN hyperparameter with the Keras-style message.</summary>
    public static float NonNegative(string owner, string argument, float value)
    {
        if (!(value >= 0) || float.IsInfinity(value))
            throw new ArgumentException($"{owner}: invalid value for argument {argument}: expected a non-negative finite number. Received: {argument}={value}");
        return value;
    }
}
