using System.Text.Json;
using Cortex.Layers;
using Cortex.Models;

namespace Cortex.Saving;

internal static partial class ModelFile
{
    /// <summary>
    /// Rebuilds a <see cref="Functional"/> model from its layers and the graph the file states (see
    /// <see cref="ModelConfig"/>): every name and index is checked first, then the calls are replayed on symbolic
    /// tensors, each once the calls it reads have been made (so a layer's calls keep their order), which builds every
    /// layer. A graph whose calls wait for each other (a cycle) is refused, naming them.
    /// </summary>
    private static Functional BuildGraph(JsonElement config, List<JsonElement> items, List<Layer> layers)
    {
        var byName = new Dictionary<string, int>();
        for (int i = 0; i < layers.Count; i++)
            if (!byName.TryAdd(layers[i].Name, i))
                throw new InvalidDataException($"layers {byName[layers[i].Name]} and {i} are both named '{Excerpt.Of(layers[i].Name)}'; the layers of a graph have unique names.");
        string Where(int i) => $"layer {i} ('{Excerpt.Of(layers[i].Name)}')";

        // Each layer's calls, as the (layer, node) pairs each reads; an Input has one call, reading nothing.
        var inbound = new List<(int Layer, int Node)[]>[layers.Count];
        var refs = new List<(int Layer, int Node, string What)>();
        (int, int) Ref(JsonElement e, string what)
        {
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 3)
                throw new InvalidDataException($"{what}: expected [layer name, node index, tensor index]. Received: {ConfigJson.Quote(e)}");
            string name = ConfigJson.Text(e[0], what);
            if (!byName.TryGetValue(name, out int layer))
                throw new InvalidDataException($"{what}: names the unknown layer '{Excerpt.Of(name)}'; the file's layers are {Excerpt.Of(string.Join(", ", byName.Keys), 200)}.");
            int node = ConfigJson.Int(e[1], what), tensor = ConfigJson.Int(e[2], what);
            if (tensor != 0) throw new InvalidDataException($"{what}: tensor index {tensor} is out of range; every layer has one output (index 0).");
            refs.Add((layer, node, what));
            return (layer, node);
        }
        for (int i = 0; i < layers.Count; i++)
        {
            string at = Where(i);
            bool hasCalls = ConfigJson.TryGet(items[i], "inbound_nodes", out _);
            var calls = hasCalls ? ConfigJson.Items(items[i], "inbound_nodes", at).ToList() : [];
            if (layers[i] is Input)
            {
                if (calls.Count > 0) throw new InvalidDataException($"{at} is an Input but has inbound nodes; an Input reads nothing.");
                inbound[i] = [[]];
                continue;
            }
            if (calls.Count == 0) throw new InvalidDataException($"{at}: key 'inbound_nodes': expected at least one call of the layer; a layer of a graph is called.");
            inbound[i] = [.. calls.Select((call, k) =>
            {
                string what = $"{at}: inbound_nodes[{k}]";
                if (call.ValueKind != JsonValueKind.Array || call.GetArrayLength() == 0)
                    throw new InvalidDataException($"{what}: expected a non-empty array of [layer name, node index, tensor index]. Received: {ConfigJson.Quote(call)}");
                return call.EnumerateArray().Select((e, j) => Ref(e, $"{what}[{j}]")).ToArray();
            })];
        }
        var inputs = ConfigJson.Items(config, "input_layers", "model.config").Select((e, k) => Ref(e, $"model.config: input_layers[{k}]")).ToList();
        var outputs = ConfigJson.Items(config, "output_layers", "model.config").Select((e, k) => Ref(e, $"model.config: output_layers[{k}]")).ToList();
        foreach (var (layer, node, what) in refs)
            if (node < 0 || node >= inbound[layer].Count)
                throw new InvalidDataException($"{what}: node index {node} is out of range; layer '{Excerpt.Of(layers[layer].Name)}' has {inbound[layer].Count} call(s) (0 to {inbound[layer].Count - 1}).");

        // Replay: sweep the layers until no call can be made; a layer's k-th call waits for its (k-1)-th.
        var made = new List<SymbolicTensor>[layers.Count];
        int remaining = 0;
        for (int i = 0; i < layers.Count; i++)
        {
            made[i] = layers[i] is Input input ? [input.Output] : [];
            remaining += inbound[i].Count - made[i].Count;
        }
        for (bool progress = true; remaining > 0 && progress;)
        {
            progress = false;
            for (int i = 0; i < layers.Count; i++)
                while (made[i].Count < inbound[i].Count)
                {
                    var reads = inbound[i][made[i].Count];
                    if (reads.Any(r => made[r.Layer].Count <= r.Node)) break;
                    var args = reads.Select(r => made[r.Layer][r.Node]).ToArray();
                    int layer = i;
                    made[i].Add(In($"{Where(i)} call {made[i].Count}", () => layers[layer].Call(args)));
                    remaining--;
                    progress = true;
                }
        }
        if (remaining > 0)
        {
            var stuck = Enumerable.Range(0, layers.Count).Where(i => made[i].Count < inbound[i].Count)
                .Select(i => $"'{Excerpt.Of(layers[i].Name)}' call {made[i].Count}").ToList();
            throw new InvalidDataException($"the graph has a cycle: these calls each wait, directly or not, for another of them: {Excerpt.Of(string.Join(", ", stuck), 300)}.");
        }
        return In("model.config", () => new Functional(
            [.. inputs.Select(r => made[r.Item1][r.Item2])], [.. outputs.Select(r => made[r.Item1][r.Item2])], ConfigJson.String(config, "name")));
    }
}
