using Cortex.Saving;

namespace Cortex.Models;

public abstract partial class Model
{
    /// <summary>
    /// Text saved with the model in its <c>.cortex</c> file and loaded back by <see cref="Load"/>: a string-to-string
    /// dictionary for what the weights do not say, such as the names of the classes or the columns a model was
    /// trained on. Keys are compared ordinally and saved sorted. Values are only ever read back as text: nothing in
    /// them is executed or instantiated.
    /// </summary>
    /// <example><code>
    /// model.Metadata["class_names"] = "setosa,versicolor,virginica";
    /// model.Save("iris.cortex");
    /// string names = Model.Load("iris.cortex").Metadata["class_names"];
    /// </code></example>
    public IDictionary<string, string> Metadata { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Saves the architecture, weights, training configuration and optimizer state to one <c>.cortex</c> file
    /// (written to a temporary file, then renamed over <paramref name="path"/>).
    /// </summary>
    /// <remarks>Every state saves and loads back: compiled or not, trained or not, with layers frozen or added since
    /// training. The optimizer's slots are saved with the weights they belong to, and a Dropout layer's random
    /// stream with its position, so the loaded model predicts the same bits and continues training exactly as this one
    /// would. Safe to call from Fit's callbacks (as <see cref="Callbacks.ModelCheckpoint"/> does).</remarks>
    /// <exception cref="InvalidOperationException">The model is not built, or another thread is training or changing it.</exception>
    /// <exception cref="NotSupportedException">A layer, optimizer, schedule, loss, initializer or regularizer is of a class
    /// defined outside Cortex, which <see cref="Load"/> could not rebuild (nothing is written).</exception>
    public void Save(string path)
    {
        using var use = Use("Save", exclusive: false);
        ModelFile.Save(this, path);
    }

    /// <summary>Loads a model saved by <see cref="Save"/>: same predictions, bit for bit, and ready to keep training
    /// from the same optimizer state, with its <see cref="Metadata"/>. Reads format versions 1 and 2; a format-1 file whose optimizer state does not
    /// match the model's trainable weights loads with a fresh optimizer and a warning on standard error.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a Cortex model, is truncated or corrupted, or is from a newer
    /// format version; or it holds a subclassed model, whose class Load never creates (construct it and call
    /// <see cref="LoadWeights"/>).</exception>
    public static Model Load(string path) => ModelFile.Load(path);

    /// <summary>
    /// Loads the weights of a model file written by <see cref="Save"/> into this model, as Keras's
    /// <c>load_weights</c>: the file's weights, in order, must match this model's <see cref="Variables"/> in number and
    /// shape. The way to reload a subclassed model, which <see cref="Load"/> refuses (it never creates a class a file
    /// names): construct the class, then load its weights. An unbuilt model's layers are built for the input shapes the
    /// file records. The optimizer and its state are left as they are.
    /// </summary>
    /// <example><code>model.Save("gan.cortex");
    /// var copy = new MyGan();
    /// copy.LoadWeights("gan.cortex");   // same predictions, bit for bit</code></example>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is damaged, or its weights do not match the model's (count or shape).</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the model.</exception>
    public void LoadWeights(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var use = Use("LoadWeights", exclusive: true);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file not found: '{path}'.", path);
        var unbuilt = layers.Where(l => !l.Built).ToArray();
        try { ModelFile.Load(File.ReadAllBytes(path), path, into: this); }
        catch
        {
            foreach (var l in unbuilt) l.Unbuild(); // a file that does not fit leaves the model as it was
            throw;
        }
    }
}
