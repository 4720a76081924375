using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;
using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Metrics;
using Cortex.Optimizers;
using Cortex.Regularizers;

namespace Cortex.Saving;

/// <summary>
/// Registers one of Cortex's classes with <see cref="ConfigRegistry"/>, in the class's own file:
/// <c>[assembly: Registered(typeof(Cortex.Layers.Dense))]</c>. A registered class's configuration is its public
/// constructor's named arguments, and a saved file may name it. Only Cortex's own assembly is read for these, so a
/// file can never name a type defined anywhere else.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class RegisteredAttribute([DynamicallyAccessedMembers(ConfigClass.Members)] Type type) : Attribute
{
    /// <summary>The registered class.</summary>
    [DynamicallyAccessedMembers(ConfigClass.Members)]
    public Type Type { get; } = type;
}

/// <summary>
/// Says how a property (or a constructor argument) is saved where the convention does not: by default a constructor
/// argument <c>useBias</c> is read back from the property <c>UseBias</c> and saved under the key <c>use_bias</c>.
/// </summary>
/// <example>
/// <code>
/// [Config(Key = "beta_1")] public float Beta1 { get; }                 // Keras's name, not "beta1"
/// [Config(Argument = "activation")] public ActivationFunction Function { get; }   // the argument it reads back
/// [Config] public bool Trainable { get; set; }                       // not an argument: set after construction
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
internal sealed class ConfigAttribute : Attribute
{
    /// <summary>The saved key, when it is not the argument's (or property's) name in snake_case.</summary>
    public string? Key { get; set; }

    /// <summary>On a property: the constructor argument it reads back, when its name is not the argument's.</summary>
    public string? Argument { get; set; }

    /// <summary>On a constructor argument: not part of the configuration (loading passes its default).</summary>
    public bool Skip { get; set; }
}

/// <summary>
/// Every class a configuration may name, by family (layers, initializers, regularizers, constraints, learning-rate schedules,
/// losses, optimizers, metrics), and the one mechanism that writes and reads their configurations: Keras's
/// <c>get_config</c>/<c>from_config</c>, where the configuration is the constructor's named arguments. A class declares
/// it once, by its constructor and the properties of the same names; <see cref="GetConfig"/> reads those properties
/// and <see cref="ConfigFamily{T}.Create"/> calls the constructor with the saved values, converted by type (numbers,
/// flags, names, shapes, <see cref="Size2D"/>, activations, and nested objects as
/// <c>{"class_name": …, "config": {…}}</c>).
/// </summary>
/// <remarks>
/// Loading instantiates only classes registered with <see cref="RegisteredAttribute"/> in Cortex's own assembly: a
/// class name from a file is looked up in its family's table, never resolved as a type. The reflection is light and
/// made once per class (its one public constructor and its public properties, which the attribute's
/// <see cref="DynamicallyAccessedMembersAttribute"/> keeps through trimming and native AOT); a source generator would
/// save that startup cost but add a build-time project for ~40 classes.
/// </remarks>
internal static class ConfigRegistry
{
    /// <summary>Layers (<c>Dense</c>, <c>Conv2D</c>, …).</summary>
    public static readonly ConfigFamily<Layer> Layers = new("layer", l => l.GetConfig());
    /// <summary>Weight initializers.</summary>
    public static readonly ConfigFamily<Initializer> Initializers = new("initializer", i => i.GetConfig());
    /// <summary>Weight penalties.</summary>
    public static readonly ConfigFamily<Regularizer> Regularizers = new("regularizer", r => r.GetConfig());
    /// <summary>Weight constraints.</summary>
    public static readonly ConfigFamily<Constraint> Constraints = new("constraint", c => c.GetConfig());
    /// <summary>Learning-rate schedules.</summary>
    public static readonly ConfigFamily<LearningRateSchedule> Schedules = new("learning rate schedule", s => s.GetConfig());
    /// <summary>Losses.</summary>
    public static readonly ConfigFamily<Loss> Losses = new("loss", l => l.GetConfig());
    /// <summary>Optimizers.</summary>
    public static readonly ConfigFamily<Optimizer> Optimizers = new("optimizer", o => o.GetConfig());
    /// <summary>Metrics.</summary>
    public static readonly ConfigFamily<Metric> Metrics = new("metric", m => m.GetConfig());

    private static readonly ConfigFamily[] Families = [Layers, Initializers, Regularizers, Constraints, Schedules, Losses, Optimizers, Metrics];

    // Every declaration by its type, the families' roots included (they describe subclasses registered nowhere).
    private static readonly Dictionary<Type, ConfigClass> ByType = [];

    static ConfigRegistry()
    {
        // The roots are read here, after the families exist: the optimizer's root declares a schedule, a nested family.
        foreach (var family in Families)
        {
            family.Root = family.DescribeRoot();
            ByType.Add(family.Root.Type, family.Root);
        }
        foreach (var registered in typeof(ConfigRegistry).Assembly.GetCustomAttributes<RegisteredAttribute>())
        {
            var family = FamilyOf(registered.Type)
                ?? throw new InvalidOperationException($"[Registered({registered.Type.Name})]: expected a layer, initializer, regularizer, constraint, schedule, loss, optimizer or metric.");
            var declaration = new ConfigClass(registered.Type, root: false);
            family.Add(declaration);
            ByType.Add(registered.Type, declaration);
        }
    }

    /// <summary>Every registered class (the families' roots not included).</summary>
    public static IEnumerable<ConfigClass> Classes => Families.SelectMany(f => f.Classes);

    /// <summary>The family whose root <paramref name="type"/> derives from, or null.</summary>
    internal static ConfigFamily? FamilyOf(Type type) => Families.FirstOrDefault(f => f.RootType.IsAssignableFrom(type));

    /// <summary>
    /// The configuration of <paramref name="instance"/>: its class's declared arguments, Keras-named, read from its
    /// properties. A subclass registered nowhere is described by its nearest registered ancestor (at least its
    /// family's root: a layer's <c>name</c> and <c>trainable</c>).
    /// </summary>
    public static Dictionary<string, object?> GetConfig(object instance)
    {
        for (Type? t = instance.GetType(); t != null; t = t.BaseType)
            if (ByType.TryGetValue(t, out var declaration)) return declaration.GetConfig(instance);
        throw new ArgumentException($"{instance.GetType().Name} is not a layer, initializer, regularizer, constraint, schedule, loss, optimizer or metric.", nameof(instance));
    }
}

/// <summary>The registered classes of one family, by class name: the only ones a configuration can create.</summary>
internal abstract class ConfigFamily(string kind, Type rootType)
{
    private readonly Dictionary<string, ConfigClass> byName = new(StringComparer.Ordinal);

    /// <summary>What the family's members are called in messages (<c>layer</c>, <c>loss</c>).</summary>
    public string Kind { get; } = kind;

    /// <summary>The family's abstract base.</summary>
    public Type RootType { get; } = rootType;

    /// <summary>The declaration of <see cref="RootType"/>, which describes its subclasses registered nowhere; never created.</summary>
    public ConfigClass Root { get; internal set; } = null!;

    /// <summary>Reads <see cref="RootType"/>'s declaration.</summary>
    internal abstract ConfigClass DescribeRoot();

    /// <summary>The registered classes.</summary>
    public IEnumerable<ConfigClass> Classes => byName.Values;

    internal void Add(ConfigClass declaration) => byName.Add(declaration.Name, declaration);

    /// <summary>The configuration of a member of this family, as its own (virtual) <c>GetConfig</c> gives it.</summary>
    public abstract Dictionary<string, object?> ConfigOf(object instance);

    /// <summary>
    /// A new instance of the registered class <paramref name="className"/>, made from <paramref name="config"/>. An
    /// unknown name throws an <see cref="ArgumentException"/> listing the known ones; a missing key or a value of
    /// the wrong type an <see cref="InvalidDataException"/> naming the key.
    /// </summary>
    public object CreateObject(string className, JsonElement config)
    {
        ArgumentNullException.ThrowIfNull(className);
        if (!byName.TryGetValue(className, out var declaration))
            throw new ArgumentException($"unknown {Kind} class '{Excerpt.Of(className)}'; expected one of {string.Join(", ", byName.Keys.Order(StringComparer.Ordinal))}.");
        return declaration.Create(config);
    }
}

/// <summary>A family whose members derive from <typeparamref name="T"/>.</summary>
internal sealed class ConfigFamily<[DynamicallyAccessedMembers(ConfigClass.Members)] T>(string kind, Func<T, Dictionary<string, object?>> getConfig)
    : ConfigFamily(kind, typeof(T)) where T : class
{
    /// <inheritdoc/>
    internal override ConfigClass DescribeRoot() => new(typeof(T), root: true);

    /// <summary>A new <typeparamref name="T"/> of the registered class <paramref name="className"/>, made from <paramref name="config"/>.</summary>
    /// <exception cref="ArgumentException">The class name is not registered; the message lists those that are.</exception>
    /// <exception cref="InvalidDataException">A key is missing or holds a value of the wrong type; the message names it.</exception>
    public T Create(string className, JsonElement config) => (T)CreateObject(className, config);

    /// <inheritdoc/>
    public override Dictionary<string, object?> ConfigOf(object instance) => getConfig((T)instance);
}

/// <summary>
/// One class's configuration: its constructor's arguments, each with the key it is saved under, the property that
/// reads it back and the conversion its type takes; then the settable properties marked <see cref="ConfigAttribute"/>
/// (a layer's <c>trainable</c>), set after construction.
/// </summary>
internal sealed class ConfigClass
{
    /// <summary>What the reflection needs of a declared class, kept through trimming.</summary>
    internal const DynamicallyAccessedMemberTypes Members =
        DynamicallyAccessedMemberTypes.PublicConstructors | DynamicallyAccessedMemberTypes.NonPublicConstructors | DynamicallyAccessedMemberTypes.PublicProperties;

    private readonly ConstructorInfo constructor;
    private readonly ParameterInfo[] parameters;
    private readonly Member[] arguments;   // one per constructor parameter; null where skipped
    private readonly Member[] settable;
    private readonly Member[] saved;       // what GetConfig writes, name first

    /// <summary>Reads the declaration of <paramref name="type"/>: its one public constructor, or for a family's
    /// abstract <paramref name="root"/> its protected one.</summary>
    /// <exception cref="InvalidOperationException">The declaration is incomplete (e.g. an argument no property reads back).</exception>
    public ConfigClass([DynamicallyAccessedMembers(Members)] Type type, bool root)
    {
        Type = type;
        ConstructorInfo[] constructors = root
            ? [.. type.GetConstructors(BindingFlags.Instance | BindingFlags.NonPublic).Where(c => c.IsFamily || c.IsFamilyOrAssembly)]
            : type.GetConstructors();
        if (constructors.Length != 1 || (!root && type.IsAbstract))
            throw Incomplete($"expected one {(root ? "protected" : "public")} constructor, which declares the configuration. Found {constructors.Length}");
        constructor = constructors[0];
        parameters = constructor.GetParameters();
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var claimed = new HashSet<PropertyInfo>();
        arguments = new Member[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            if (p.GetCustomAttribute<ConfigAttribute>() is { Skip: true })
            {
                if (!p.HasDefaultValue && !root) throw Incomplete($"argument '{p.Name}' is skipped but has no default");
                continue;
            }
            var property = properties.FirstOrDefault(q => q.GetCustomAttribute<ConfigAttribute>()?.Argument == p.Name)
                ?? properties.FirstOrDefault(q => string.Equals(q.Name, p.Name, StringComparison.OrdinalIgnoreCase) && q.GetCustomAttribute<ConfigAttribute>()?.Argument == null)
                ?? throw Incomplete($"argument '{p.Name}' has no property that reads it back (name one with [Config(Argument = \"{p.Name}\")])");
            claimed.Add(property);
            arguments[i] = new Member(property.GetCustomAttribute<ConfigAttribute>()?.Key ?? Layer.ToSnakeCase(p.Name!), p, property, Converter.For(p.ParameterType, Incomplete));
        }
        settable = [.. properties.Where(q => !claimed.Contains(q) && q.GetCustomAttribute<ConfigAttribute>() != null).Select(q =>
            q.SetMethod is { IsPublic: true }
                ? new Member(q.GetCustomAttribute<ConfigAttribute>()!.Key ?? Layer.ToSnakeCase(q.Name), null, q, Converter.For(q.PropertyType, Incomplete))
                : throw Incomplete($"property '{q.Name}' is marked [Config] but is neither a constructor argument nor settable"))];
        saved = [.. arguments.Where(m => m != null).Concat(settable).OrderBy(m => m.Key != "name")];
        foreach (var m in saved)
            m.Shared = saved.Count(o => o.Key == m.Key) > 1;
        if (saved.GroupBy(m => m.Key).FirstOrDefault(g => g.Count() > 1 && (g.Count() > 2 || g.All(m => m.Argument != null) || g.All(m => m.Argument == null))) is { } twice)
            throw Incomplete($"the key '{twice.Key}' is declared twice (a key may be shared only by an argument and a settable property)");
    }

    /// <summary>The class.</summary>
    public Type Type { get; }

    /// <summary>The name files give it (the class's name, as Keras's <c>class_name</c>).</summary>
    public string Name => Type.Name;

    /// <summary>The keys of the arguments a configuration must hold (those without a default).</summary>
    public IEnumerable<string> RequiredKeys => arguments.Where(m => m is { Argument.HasDefaultValue: false }).Select(m => m.Key);

    private InvalidOperationException Incomplete(string what) => new($"{Type.Name}'s configuration: {what}.");

    /// <summary>The configuration of <paramref name="instance"/> (an instance of this class or of a subclass).</summary>
    public Dictionary<string, object?> GetConfig(object instance)
    {
        var config = new Dictionary<string, object?>();
        foreach (var m in saved)
        {
            object? value = m.Property.GetValue(instance);
            if (value != null) m.Converter.Write(config, m.Key, value);
            else if (m.Argument != null) config[m.Key] = null;   // a settable property that is null leaves a shared key to its argument
        }
        return config;
    }

    /// <summary>A new instance made from <paramref name="config"/>: a missing optional key takes the argument's default.</summary>
    public object Create(JsonElement config)
    {
        if (config.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{Name}'s config: expected a JSON object. Received: {ConfigJson.Quote(config)}");
        // Every missing key at once: a hand-edited file then needs one fix, not one per load.
        string[] missing = [.. RequiredKeys.Where(k => !config.TryGetProperty(k, out _)).Select(k => $"'{k}'")];
        if (missing.Length > 0)
            throw new InvalidDataException($"the config has no key{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)}, which {Name} requires. " +
                $"Keys found: {Excerpt.Of(string.Join(", ", config.EnumerateObject().Select(p => $"'{p.Name}'")), 200)}");
        foreach (var shared in saved.Where(m => m.Shared).GroupBy(m => m.Key))
            if (ConfigJson.TryGet(config, shared.Key, out var v) && !shared.Any(m => m.Converter.Kinds.Contains(v.ValueKind)))
                throw new InvalidDataException($"key '{shared.Key}': expected {string.Join(" or ", shared.Select(m => m.Converter.Expected))}. Received: {ConfigJson.Quote(v)}");
        var values = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
            values[i] = arguments[i] is { } m ? Read(m, config) : parameters[i].DefaultValue;
        // DoNotWrapExceptions: a constructor's own ArgumentException (units=0) reaches the caller as it was thrown.
        object instance = constructor.Invoke(BindingFlags.DoNotWrapExceptions, null, values, null);
        foreach (var m in settable)
            if (Holds(m, config))
                m.Property.SetMethod!.Invoke(instance, BindingFlags.DoNotWrapExceptions, null, [m.Converter.Read(config, m.Key)], null);
        return instance;
    }

    // Whether the config holds a value for the member: present, not null, and (where an argument and a settable
    // property share the key, as an optimizer's learning_rate: a number or a schedule) of the member's JSON kind.
    private static bool Holds(Member m, JsonElement config) =>
        ConfigJson.TryGet(config, m.Key, out var v) && (!m.Shared || m.Converter.Kinds.Contains(v.ValueKind));

    private static object? Read(Member m, JsonElement config)
    {
        if (Holds(m, config)) return m.Converter.Read(config, m.Key);
        if (m.Argument!.HasDefaultValue) return m.Argument.DefaultValue;
        // Present (Create checked) but null.
        throw new InvalidDataException($"key '{m.Key}': expected {m.Converter.Expected}. Received: {ConfigJson.Quote(config.GetProperty(m.Key))}");
    }

    /// <summary>One saved value: its key, the constructor argument it fills (null for a settable property), the property that reads it back.</summary>
    private sealed record Member(string Key, ParameterInfo? Argument, PropertyInfo Property, Converter Converter)
    {
        public bool Shared { get; set; }
    }
}

/// <summary>
/// How one type of configuration value is written (to the dictionary that becomes JSON) and read back (from the
/// JSON config, the key known to hold a non-null value). Errors name the key, what was expected and what was found.
/// </summary>
internal sealed class Converter
{
    private Converter(string expected, Func<JsonElement, string, object?> read, Action<Dictionary<string, object?>, string, object> write, params JsonValueKind[] kinds)
        => (Expected, Read, Write, Kinds) = (expected, read, write, kinds);

    /// <summary>What the value must be, for messages (<c>an integer</c>).</summary>
    public string Expected { get; }

    /// <summary>(config, key) → the value.</summary>
    public Func<JsonElement, string, object?> Read { get; }

    /// <summary>(config, key, value): adds the value under the key (an activation adds <c>key_alpha</c> too).</summary>
    public Action<Dictionary<string, object?>, string, object> Write { get; }

    /// <summary>The JSON kinds the value takes.</summary>
    public JsonValueKind[] Kinds { get; }

    private static Converter Plain(string expected, Func<JsonElement, string, object?> read, params JsonValueKind[] kinds) =>
        new(expected, read, (c, k, v) => c[k] = v, kinds);

    /// <summary>The converter for values of <paramref name="type"/>; <paramref name="incomplete"/> makes the error for a type with none.</summary>
    public static Converter For(Type type, Func<string, Exception> incomplete)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(int)) return Plain("an integer", (c, k) => ConfigJson.Int(c, k, 0), JsonValueKind.Number);
        if (t == typeof(long)) return Plain("an integer", (c, k) => ConfigJson.Long(c, k, 0), JsonValueKind.Number);
        if (t == typeof(float)) return Plain("a number", (c, k) => ConfigJson.Float(c, k, 0), JsonValueKind.Number);
        if (t == typeof(bool)) return Plain("true or false", (c, k) => ConfigJson.Bool(c, k, false), JsonValueKind.True, JsonValueKind.False);
        if (t == typeof(string)) return Plain("a string", (c, k) => ConfigJson.String(c, k), JsonValueKind.String);
        if (t == typeof(int[])) return Plain("an array of integers", (c, k) => ConfigJson.Ints(c, k), JsonValueKind.Array);
        if (t == typeof(long[])) return Plain("an array of integers", (c, k) => ConfigJson.Numbers(c, k, "an integer", e => e.GetInt64()), JsonValueKind.Array);
        if (t == typeof(float[])) return Plain("an array of numbers", (c, k) => ConfigJson.Numbers(c, k, "a number", e => e.GetSingle()), JsonValueKind.Array);
        if (t == typeof(Size2D)) return new("2 sizes (height, width)", ReadSize, (c, k, v) => c[k] = ((Size2D)v).ToArray(), JsonValueKind.Array);
        if (t == typeof(Margins2D)) return new("an integer, [height, width] or [[top, bottom], [left, right]]", (c, k) => Margins2D.FromJson(c.GetProperty(k), $"key '{k}'"),
            (c, k, v) => c[k] = ((Margins2D)v).ToArray(), JsonValueKind.Number, JsonValueKind.Array);
        if (t == typeof(ActivationFunction)) return new("an activation's name", ReadActivation, WriteActivation, JsonValueKind.String);
        if (ConfigRegistry.FamilyOf(t) is { } family)
            return new($"a {family.Kind} as {{\"class_name\": …, \"config\": {{…}}}}", (c, k) => ReadDescribed(family, c, k),
                (c, k, v) => c[k] = ConfigJson.Describe(v.GetType().Name, family.ConfigOf(v)), JsonValueKind.Object);
        throw incomplete($"values of type {type.Name} have no conversion to JSON");
    }

    private static object ReadSize(JsonElement c, string key)
    {
        int[] s = ConfigJson.Ints(c, key);
        return s.Length == 2 ? new Size2D(s[0], s[1]) : throw new InvalidDataException($"key '{key}': expected 2 sizes (height, width). Received: {s.Length}");
    }

    // An activation is saved as its name, and its α (leaky ReLU's slope, ELU's scale) under key_alpha.
    private static void WriteActivation(Dictionary<string, object?> c, string key, object value)
    {
        var f = (ActivationFunction)value;
        c[key] = f.Name;
        c[key + "_alpha"] = f.Alpha;
    }

    private static object ReadActivation(JsonElement c, string key)
    {
        var f = ActivationFunction.Get(ConfigJson.String(c, key));
        float alpha = ConfigJson.Float(c, key + "_alpha", f.Alpha);
        return f.Name switch
        {
            "leaky_relu" => ActivationFunction.LeakyRelu(alpha),
            "elu" => ActivationFunction.Elu(alpha),
            _ => f,
        };
    }

    // A nested object — an initializer, a regularizer, a schedule — read through its own family's table; errors inside
    // it are prefixed with the key that holds it.
    private static object ReadDescribed(ConfigFamily family, JsonElement c, string key)
    {
        string where = $"key '{key}'";
        var described = c.GetProperty(key);
        if (described.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: expected a {family.Kind} as {{\"class_name\": …, \"config\": {{…}}}}. Received: {ConfigJson.Quote(described)}");
        string className = ConfigJson.ClassName(described, where);
        var config = ConfigJson.Config(described, where);
        try { return family.CreateObject(className, config); }
        catch (ArgumentException e) { throw new ArgumentException($"{where}: {e.Message}", e); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{where}: {e.Message}", e); }
    }
}
