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
    /// <exception cref="InvalidDataException">The file is not a Cortex model, is truncated or corrupted, or is from a newer format version.</exception>
    public static Model Load(string path) => ModelFile.Load(path);
}
