using Cortex.Saving;

namespace Cortex.Models;

public abstract partial class Model
{
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
    /// from the same optimizer state. Reads format versions 1 and 2; a format-1 file whose optimizer state does not
    /// match the model's trainable weights loads with a fresh optimizer and a warning on standard error.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a Cortex model, is truncated or corrupted, or is from a newer format version.</exception>
    public static Model Load(string path) => ModelFile.Load(path);
}
