using Cortex.Saving;

namespace Cortex.Models;

public abstract partial class Model
{
    /// <summary>
    /// Saves the architecture, weights, training configuration and optimizer state to one <c>.cortex</c> file
    /// (written to a temporary file, then renamed over <paramref name="path"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is not built.</exception>
    public void Save(string path) => ModelFile.Save(this, path);

    /// <summary>Loads a model saved by <see cref="Save"/>: same predictions, bit for bit, and ready to keep training.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a Cortex model, is truncated or corrupted, or is from a newer format version.</exception>
    public static Model Load(string path) => ModelFile.Load(path);
}
