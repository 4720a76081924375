using System.Text.Json;

namespace Cortex.Saving;

/// <summary>Helpers for the JSON configs that describe layers, losses, optimizers and their parts.</summary>
internal static class ConfigJson
{
    /// <summary>The Keras serialisation shape: <c>{"class_name": …, "config": {…}}</c>.</summary>
    public static Dictionary<string, object?> Describe(string className, Dictionary<string, object?> config) =>
        new() { ["class_name"] = className, ["config"] = config };

    public static string ClassName(JsonElement described) => described.GetProperty("class_name").GetString()!;

    public static JsonElement Config(JsonElement described) => described.GetProperty("config");

    public static string? String(JsonElement c, string key) =>
        c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static float Float(JsonElement c, string key, float fallback) =>
        c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : fallback;

    public static int Int(JsonElement c, string key, int fallback) =>
        c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    public static int? NullableInt(JsonElement c, string key) =>
        c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;

    public static bool Bool(JsonElement c, string key, bool fallback) =>
        c.TryGetProperty(key, out var v) && (v.ValueKind == JsonValueKind.True || v.ValueKind == JsonValueKind.False) ? v.GetBoolean() : fallback;

    public static int[] Ints(JsonElement c, string key) => [.. c.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];

    public static JsonElement? Object(JsonElement c, string key) =>
        c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;
}
