using System.CommandLine;
using System.CommandLine.Help;

namespace Cortex.Cli;

/// <summary>
/// The <c>cortex</c> command: <c>train</c>, <c>evaluate</c>, <c>predict</c> and <c>summary</c>. Exit codes: 0 success,
/// 1 bad usage or bad input, including a training run that diverged or a model that outputs NaN (one line on stderr),
/// 2 an unexpected internal error.
/// </summary>
public static class Cli
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>Bad usage or bad input: an unknown option value, a missing or malformed file, a shape mismatch, a
    /// learning rate or data that made training diverge, a model whose outputs are not finite.</summary>
    public const int BadInput = 1;
    /// <summary>An unexpected exception: a bug in Cortex or the CLI.</summary>
    public const int InternalError = 2;

    // Model.Fit prints Keras's progress lines to Console.Out, so Run points Console.Out at its stdout for the duration;
    // the lock keeps concurrent in-process runs (tests) from interleaving that and the global random seed.
    private static readonly Lock ConsoleLock = new();

    /// <summary>
    /// Runs the command line <paramref name="args"/>, writing results to <paramref name="stdout"/> and errors to
    /// <paramref name="stderr"/>, and returns the exit code. Calls are serialised: while one runs, Console.Out is
    /// <paramref name="stdout"/>.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        lock (ConsoleLock)
        {
            TextWriter previous = Console.Out;
            if (!ReferenceEquals(stdout, previous)) Console.SetOut(stdout);
            try
            {
                return RunCore(args, stdout, stderr);
            }
            finally
            {
                Console.Out.Flush();
                if (!ReferenceEquals(stdout, previous)) Console.SetOut(previous);
            }
        }
    }

    private static int RunCore(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = BuildCommand(stdout);
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // System.CommandLine would print every error and the whole help; one line says what to fix.
            string command = parsed.CommandResult.Parent == null ? "cortex" : "cortex " + parsed.CommandResult.Command.Name;
            // An unknown word explains the other errors ("Required command was not provided" for `cortex fit`).
            string message = parsed.UnmatchedTokens.Count > 0
                ? $"unrecognized command or argument '{parsed.UnmatchedTokens[0]}'."
                : parsed.Errors[0].Message;
            stderr.WriteLine($"cortex: {OneLine(message)} (see '{command} --help')");
            return BadInput;
        }
        return Guard(() => parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }), stderr);
    }

    /// <summary>Runs a command's action and turns its exceptions into an exit code and one line on stderr.</summary>
    internal static int Guard(Func<int> action, TextWriter stderr)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsBadInput(e))
        {
            stderr.WriteLine($"cortex: {OneLine(Message(e))}");
            return BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"cortex: internal error: {e.GetType().Name}: {OneLine(Message(e))}");
            if (Environment.GetEnvironmentVariable("CORTEX_DEBUG") is { Length: > 0 }) stderr.WriteLine(e);
            else stderr.WriteLine("cortex: set CORTEX_DEBUG=1 to print the stack trace.");
            return InternalError;
        }
    }

    // A named Command rather than RootCommand, whose name would be the executable's (Cortex.Cli, or dotnet's host);
    // help and usage lines then read `cortex train [options]` however the program was started.
    internal static Command BuildCommand(TextWriter stdout) =>
        new("cortex", "Cortex: train, evaluate and use neural networks with the Keras programming model.")
        {
            new HelpOption(),
            new VersionOption(),
            TrainCommand.Create(stdout),
            EvaluateCommand.Create(stdout),
            PredictCommand.Create(stdout),
            SummaryCommand.Create(stdout),
            OnnxCommands.Export(stdout),
            OnnxCommands.Import(stdout),
            PlotCommand.Create(stdout),
        };

    // Everything the library throws for data, files and shapes it was given is the user's input here: the CLI passes
    // nothing else. ArgumentNullException is the exception: that would be our bug. NotFiniteNumberException is Fit
    // finding the first batch's loss already NaN or infinite, which finite data does only by overflowing.
    private static bool IsBadInput(Exception e) => e is UsageException or IOException or UnauthorizedAccessException
        or InvalidDataException or NotFiniteNumberException or NotSupportedException || (e is ArgumentException && e is not ArgumentNullException);

    private static string Message(Exception e) =>
        e is ArgumentException { ParamName: { } p } a ? a.Message.Replace($" (Parameter '{p}')", "") : e.Message;

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>Bad usage or input that the CLI itself detects; its message is printed as is and the exit code is 1.</summary>
public sealed class UsageException(string message) : Exception(message);
