using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Cortex.Saving;

/// <summary>
/// Reading and writing the JSON configs that describe layers, losses, optimizers and their parts — the checked readers
/// that <see cref="ConfigRegistry"/> and the model file use, and name lookups. A key that is absent (or null) takes the
/// fallback; a key present with the wrong JSON type throws, so a damaged file is reported rather than half-read.
/// </summary>
internal static class ConfigJson
{
    /// <summary>The Keras serialisation shape: <c>{"class_name": …, "config": {…}}</c>.</summary>
    public static Dictionary<string, object?> Describe(string className, Dictionary<string, object?> config) =>
        new() { ["class_name"] = className, ["config"] = config };

    /// <summary>The class name of a <c>{"class_name": …, "config": {…}}</c> object; <paramref name="where"/> names it in errors.</summary>
    public static string ClassName(JsonElement described, string where = "the object") =>
        Text(Required(described, "class_name", where), $"{where}: key 'class_name'");

    /// <summary>The config of a <c>{"class_name": …, "config": {…}}</c> object; <paramref name="where"/> names it in errors.</summary>
    public static JsonElement Config(JsonElement described, string where = "the object") => Required(described, "config", where);

    /// <summary>
    /// The value of a key the format requires. A missing key, or an element that is not an object, throws an
    /// <see cref="InvalidDataException"/> naming the key and <paramref name="where"/> (the object, e.g. "layer 2's config").
    /// </summary>
    public static JsonElement Required(JsonElement obj, string key, string where)
    {
        if (obj.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: expected a JSON object with the key '{key}'. Received: {Quote(obj)}");
        if (!obj.TryGetProperty(key, out var value))
            throw new InvalidDataException($"{where} has no key '{key}'; expected one. Keys found: {Excerpt.Of(string.Join(", ", obj.EnumerateObject().Select(p => $"'{Lenient(JsonMarshal.GetRawUtf8PropertyName(p))}'")), 200)}");
        return value;
    }

    /// <summary>The elements of a required array, with errors naming the key and <paramref name="where"/>.</summary>
    public static JsonElement.ArrayEnumerator Items(JsonElement obj, string key, string where)
    {
        var v = Required(obj, key, where);
        if (v.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: key '{key}': expected an array. Received: {Quote(v)}");
        return v.EnumerateArray();
    }

    public static bool TryGet(JsonElement config, string key, out JsonElement value)
    {
        value = default;
        return config.ValueKind == JsonValueKind.Object && config.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;
    }

    public static string? String(JsonElement c, string key) => TryGet(c, key, out var v) ? As(v, $"key '{key}'", "a string", e => e.GetString()) : null;

    public static float Float(JsonElement c, string key, float fallback) => TryGet(c, key, out var v) ? As(v, $"key '{key}'", "a number", e => e.GetSingle()) : fallback;

    public static int Int(JsonElement c, string key, int fallback) => TryGet(c, key, out var v) ? Int(v, $"key '{key}'") : fallback;

    public static long Long(JsonElement c, string key, long fallback) => TryGet(c, key, out var v) ? As(v, $"key '{key}'", "an integer", e => e.GetInt64()) : fallback;

    public static bool Bool(JsonElement c, string key, bool fallback) => TryGet(c, key, out var v) ? As(v, $"key '{key}'", "true or false", e => e.GetBoolean()) : fallback;

    /// <summary>A required array of numbers (a schedule's boundaries or values), each read by <paramref name="read"/>,
    /// with errors naming the key and <paramref name="expected"/>.</summary>
    public static T[] Numbers<T>(JsonElement c, string key, string expected, Func<JsonElement, T> read) =>
        [.. Items(c, key, "the config").Select(e => As(e, $"the config: key '{key}'", expected, read))];

    /// <summary>A required array of integers, e.g. a shape; <paramref name="where"/> names the object in errors.</summary>
    public static int[] Ints(JsonElement c, string key, string where = "the config") => IntArray(Required(c, key, where), $"{where}: key '{key}'");

    /// <summary>An element read as an array of integers; <paramref name="what"/> names it in errors.</summary>
    public static int[] IntArray(JsonElement v, string what)
    {
        if (v.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{what}: expected an array of integers. Received: {Quote(v)}");
        return [.. v.EnumerateArray().Select(e => Int(e, what))];
    }

    /// <summary>An element read as a 32-bit integer; anything else throws naming <paramref name="what"/> and the value.</summary>
    public static int Int(JsonElement v, string what) => As(v, what, "an integer", e => e.GetInt32());

    /// <summary>An element read as an unsigned 32-bit integer; anything else throws naming <paramref name="what"/> and the value.</summary>
    public static uint UInt(JsonElement v, string what) => As(v, what, "an unsigned 32-bit integer", e => e.GetUInt32());

    /// <summary>An element read as a string (not null); anything else throws naming <paramref name="what"/> and the value.</summary>
    public static string Text(JsonElement v, string what) =>
        As(v, what, "a string", e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new InvalidOperationException());

    // System.Text.Json reports a wrong type or an out-of-range number without the key; this names the key, what
    // was expected and (an excerpt of) what was found.
    private static T As<T>(JsonElement v, string what, string expected, Func<JsonElement, T> get)
    {
        try { return get(v); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            string invalid = v.ValueKind == JsonValueKind.String && !Utf8.IsValid(JsonMarshal.GetRawUtf8Value(v)) ? " (not valid UTF-8)" : "";
            throw new InvalidDataException($"{what}: expected {expected}. Received: {Quote(v)}{invalid}");
        }
    }

    /// <summary>An element's JSON text, cut to a readable length.</summary>
    public static string Quote(JsonElement v) =>
        Excerpt.Of(v.ValueKind == JsonValueKind.Undefined ? "nothing" : Lenient(JsonMarshal.GetRawUtf8Value(v)));

    // System.Text.Json accepts invalid UTF-8 inside strings and property names when it parses, and throws only when
    // one is transcoded (GetString, GetRawText, JsonProperty.Name), without saying which key. Messages decode them
    // leniently (U+FFFD for each bad sequence), so that they still name the key and show what was found.
    private static string Lenient(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);

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
        throw new ArgumentException($"Unknown {kind} '{Excerpt.Of(identifier)}'. Valid names: {string.Join(", ", table.Select(t => t.Name))}");
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
