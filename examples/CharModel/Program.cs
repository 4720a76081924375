// A character-level language model on the American English word list that Debian's wamerican package installs
// (/usr/share/dict/words): each word becomes "^word$", and from the (up to) 12 characters before each position an
// Embedding → GRU(64) → Dense network learns which character comes next. It then invents words, one character at a
// time, at a temperature (lower: safer, more common-looking words; higher: stranger ones).
// Needs: sudo apt-get install wamerican
// Run: dotnet run --project examples/CharModel -c Release [-- EPOCHS [TEMPERATURE]]
using System.Diagnostics;
using System.Globalization;
using Cortex;
using Cortex.Data;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

int epochs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
float temperature = args.Length > 1 ? float.Parse(args[1], CultureInfo.InvariantCulture) : 0.8f;
const int Window = 12;
CortexRandom.SetGlobalSeed(7);

// Lower-case words of 3 to 12 letters (no names, no possessives): about 58,000 of the list's 104,000 lines.
string[] words = [.. File.ReadLines("/usr/share/dict/words").Where(w => w.Length is >= 3 and <= 12 && w.All(char.IsAsciiLetterLower))];
var vectorizer = new TextVectorizer(standardize: null, split: "character");
vectorizer.Adapt(words.Select(w => $"^{w}$"));                  // index 0: padding, 1: unknown, then ^, $ and the letters
int vocabulary = vectorizer.Vocabulary.Count;
var (x, y) = Sequences.NextTokenWindows(words.Select(w => vectorizer.Encode($"^{w}$")), Window);
Console.WriteLine($"{words.Length:N0} words, {vocabulary} tokens, {y.Shape[0]:N0} (context, next character) pairs.");

var model = Zoo.CharRnn(vocabulary, Window);
model.Compile(new Adam(0.005f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
model.Summary();
var clock = Stopwatch.StartNew();
model.Fit(x, y, epochs: epochs, batchSize: 256);
Console.WriteLine($"Trained {epochs} epoch(s) in {clock.Elapsed.TotalSeconds:0.0} s ({model.TrainingPath}).");

var random = new Random(1);
var known = words.ToHashSet();
Console.WriteLine($"New words at temperature {temperature.ToString(CultureInfo.InvariantCulture)}:");
for (int i = 0; i < 12; i++)
{
    string word = CharSampler.Sample(model, vectorizer, Window, temperature, random);
    Console.WriteLine($"  {word}{(known.Contains(word) ? "   (in the list)" : "")}");
}

/// <summary>Draws a word from the model one character at a time.</summary>
internal static class CharSampler
{
    /// <summary>From "^", appends characters drawn from softmax(logits / temperature) until "$" or 20 letters.</summary>
    public static string Sample(Model model, TextVectorizer vectorizer, int window, float temperature, Random random)
    {
        var vocabulary = vectorizer.Vocabulary;
        int start = vectorizer.Encode("^")[0], end = vectorizer.Encode("$")[0];
        var tokens = new List<int> { start };
        while (tokens.Count <= 20)
        {
            var context = new float[window];
            for (int k = 0; k < window; k++)
            {
                int t = tokens.Count - window + k;
                context[k] = t < 0 ? 0 : tokens[t];
            }
            var logits = model.Predict(Tensor.FromArray(context, [1, window])).ToArray();
            // Never padding, unknown or the start marker; softmax of logits / temperature, then one draw.
            double[] p = [.. logits.Select((l, i) => i < 2 || i == start ? 0 : Math.Exp((l - logits.Max()) / temperature))];
            double u = random.NextDouble() * p.Sum(), acc = 0;
            int next = p.Length - 1;
            for (int i = 0; i < p.Length; i++)
                if ((acc += p[i]) >= u && p[i] > 0) { next = i; break; }
            if (next == end) break;
            tokens.Add(next);
        }
        return string.Concat(tokens.Skip(1).Select(t => vocabulary[t]));
    }
}
