using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Fuzz;

/// <summary>
/// Writes the seed corpus: small valid files of each format (fuzz/corpus/TARGET/), made with Cortex itself so that
/// no third-party file is copied in. Run <c>Cortex.Fuzz seeds fuzz/corpus</c> to regenerate.
/// </summary>
public static class Seeds
{
    /// <summary>Writes the seeds of every target under <paramref name="root"/>.</summary>
    public static void Write(string root)
    {
        var models = new (string Name, Model Model)[]
        {
            ("mlp-adam", Trained(new Sequential(new Dense(3, "relu"), new Dense(2)), new Adam(0.01f), [4, 2])),
            ("cnn-sgd", Trained(new Sequential(new Conv2D(2, new Size2D(2, 2), activation: "relu"), new MaxPooling2D(new Size2D(2, 2)), new Flatten(), new Dense(2)),
                new SGD(0.01f, momentum: 0.9f), [4, 5, 5, 1])),
            ("norm-bn-rmsprop", Trained(new Sequential(new Normalization(), new Dense(4, "leaky_relu"), new BatchNormalization(), new Dropout(0.2f, seed: 1), new Dense(2)),
                new RMSprop(0.01f), [4, 3])),
            // Format 2's other optimizer states: slots for some weights only (a frozen layer), none yet (compiled,
            // not trained; a schedule in the config), and no compile section at all.
            ("frozen-sgd-nesterov", Trained(new Sequential(new Dense(3, "tanh") { Trainable = false }, new Dense(2)),
                new SGD(0.1f, momentum: 0.5f, nesterov: true), [4, 2])),
            ("untrained-adamw-amsgrad", Compiled(new Sequential(new Dense(2, "sigmoid")),
                new AdamW(amsgrad: true) { Schedule = new ExponentialDecay(0.1f, 10, 0.5f) }, [-1, 3])),
            ("uncompiled", Built(new Sequential(new Dense(2), new Dropout(0.5f, seed: 3)), [-1, 2])),
            // A graph: Keras's inbound nodes, a shared layer, merges, a residual connection.
            ("graph-adam", Trained(Graph(), new Adam(0.01f), [4, 3])),
        };
        string dir = Folder(root, "cortex");
        foreach (var (name, model) in models)
        {
            string path = Path.Combine(dir, name + ".cortex");
            model.Save(path);
            byte[] file = File.ReadAllBytes(path);
            // The same model as "JSON, 0 byte, floats", the form the target wraps in a container for it.
            int jsonLength = (int)BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(8));
            byte[] structured = [.. file.AsSpan(16, jsonLength), 0, .. file.AsSpan(16 + jsonLength + 8, file.Length - 16 - jsonLength - 8 - 32)];
            File.WriteAllBytes(Path.Combine(dir, name + ".json0"), structured);
        }

        byte[] labels = Idx([5], [3, 1, 4, 1, 5]), images = Idx([2, 3, 3], [.. Enumerable.Range(0, 18).Select(i => (byte)(i * 14))]);
        dir = Folder(root, "idx");
        File.WriteAllBytes(Path.Combine(dir, "labels.idx1"), labels);
        File.WriteAllBytes(Path.Combine(dir, "images.idx3"), images);
        File.WriteAllBytes(Path.Combine(dir, "labels.idx1.gz"), Gzip(labels));
        dir = Folder(root, "idx-gzip");
        File.WriteAllBytes(Path.Combine(dir, "labels.idx1"), labels);
        File.WriteAllBytes(Path.Combine(dir, "images.idx3"), images);

        dir = Folder(root, "csv");
        File.WriteAllText(Path.Combine(dir, "numeric.csv"), "a,b,y\n1,2.5,0\n-3e-1,4,1\n5,6,2\n");
        File.WriteAllText(Path.Combine(dir, "classes.csv"), "sepal, petal ,y\n5.1,1.4,setosa\n7.0,4.7,versicolor\n\n6.3,\"6.0\",virginica\n");
        File.WriteAllText(Path.Combine(dir, "label-first.csv"), "y,x\r\n0,1\r\n1,2\r\n");
    }

    private static Functional Graph()
    {
        var x = new Input([3]);
        var shared = new Dense(3, "tanh");
        var h = shared.Call(shared.Call(x));
        var joined = new Concatenate().Call(new Add().Call(h, x), new Dropout(0.2f, seed: 2).Call(h));
        return new Functional(x, new Dense(2).Call(joined));
    }

    private static Model Trained(Model model, Optimizer optimizer, int[] xShape)
    {
        CortexRandom.SetGlobalSeed(1);
        var x = Tensor.RandomNormal(xShape, seed: 2);
        if (model.Layers[0] is Normalization norm) norm.Adapt(x);
        model.Compile(optimizer, new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        model.Fit(x, Tensor.FromArray(Enumerable.Range(0, xShape[0]).Select(i => (float)(i % 2)).ToArray(), [xShape[0]]), epochs: 1, verbose: 0);
        return model;
    }

    private static Model Compiled(Sequential model, Optimizer optimizer, int[] inputShape)
    {
        Built(model, inputShape).Compile(optimizer, new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        return model;
    }

    private static Model Built(Sequential model, int[] inputShape)
    {
        CortexRandom.SetGlobalSeed(1);
        model.Build(inputShape);
        return model;
    }

    private static string Folder(string root, string target)
    {
        string dir = Path.Combine(root, target);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static byte[] Idx(int[] shape, byte[] data)
    {
        var b = new byte[4 + 4 * shape.Length + data.Length];
        b[2] = Data.Idx.UnsignedByte;
        b[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), shape[i]);
        data.CopyTo(b, 4 + 4 * shape.Length);
        return b;
    }

    private static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }
}
