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
        var inbound = new List<(int Layer, int Node, int Tensor)[]>[layers.Count];
        var refs = new List<(int Layer, int Node, string What)>();
        (int Layer, int Node, int Tensor) Ref(JsonElement e, string what)
        {
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 3)
                throw new InvalidDataException($"{what}: expected [layer name, node index, tensor index]. Received: {ConfigJson.Quote(e)}");
            string name = ConfigJson.Text(e[0], what);
            if (!byName.TryGetValue(name, out int layer))
                throw new InvalidDataException($"{what}: names the unknown layer '{Excerpt.Of(name)}'; the file's layers are {Excerpt.Of(string.Join(", ", byName.Keys), 200)}.");
            int node = ConfigJson.Int(e[1], what), tensor = ConfigJson.Int(e[2], what);
            if (tensor < 0) throw new InvalidDataException($"{what}: tensor index {tensor} is negative; it counts a call's outputs from 0.");
            refs.Add((layer, node, what));
            return (layer, node, tensor);
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

        // Replay the calls in a dependency order (Kahn's algorithm, linear in the references): call k of a layer waits
        // for the calls it reads and for the layer's call k - 1, so every layer's calls keep their indices.
        var first = new int[layers.Count + 1]; // the id of each layer's call 0; calls are numbered layer by layer
        for (int i = 0; i < layers.Count; i++) first[i + 1] = first[i] + inbound[i].Count;
        int total = first[^1];
        var waits = new int[total];
        var dependents = new List<int>[total];
        var layerOf = new int[total];
        for (int i = 0; i < layers.Count; i++)
            for (int k = 0; k < inbound[i].Count; k++)
            {
                int id = first[i] + k;
                layerOf[id] = i;
                dependents[id] ??= [];
                foreach (int before in inbound[i][k].Select(r => first[r.Layer] + r.Node).Append(k > 0 ? id - 1 : -1))
                {
                    if (before < 0) continue;
                    (dependents[before] ??= []).Add(id);
                    waits[id]++;
                }
            }
        var made = new Node?[total];
        SymbolicTensor Made((int Layer, int Node, int Tensor) r, string what)
        {
            var outs = made[first[r.Layer] + r.Node]!.Outputs;
            return r.Tensor < outs.Count ? outs[r.Tensor]
                : throw new InvalidDataException($"{what}: tensor index {r.Tensor} is out of range; call {r.Node} of layer '{Excerpt.Of(layers[r.Layer].Name)}' has {outs.Count} output(s) (0 to {outs.Count - 1}).");
        }
        var ready = new Queue<int>(Enumerable.Range(0, total).Where(id => waits[id] == 0));
        int done = 0;
        while (ready.TryDequeue(out int id))
        {
            int i = layerOf[id], k = id - first[i];
            if (layers[i] is Input input) made[id] = input.Output.Node;
            else
            {
                var args = inbound[i][k].Select((r, j) => Made(r, $"{Where(i)}: inbound_nodes[{k}][{j}]")).ToArray();
                int layer = i;
                // A recurrent layer's call reads its sequence, then its initial states.
                made[id] = In($"{Where(i)} call {k}", () => layers[layer].Call(args)).Node;
            }
            done++;
            foreach (int next in dependents[id])
                if (--waits[next] == 0) ready.Enqueue(next);
        }
        if (done < total)
        {
            var stuck = Enumerable.Range(0, layers.Count).SelectMany(i => Enumerable.Range(0, inbound[i].Count)
                .Where(k => made[first[i] + k] == null).Select(k => $"'{Excerpt.Of(layers[i].Name)}' call {k}")).Take(20);
            throw new InvalidDataException($"the graph has a cycle: these calls each wait, directly or not, for another of them: {Excerpt.Of(string.Join(", ", stuck), 300)}.");
        }
        return In("model.config", () => new Functional(
            [.. inputs.Select((r, k) => Made(r, $"model.config: input_layers[{k}]"))], [.. outputs.Select((r, k) => Made(r, $"model.config: output_layers[{k}]"))],
            ConfigJson.String(config, "name")));
    }
}
