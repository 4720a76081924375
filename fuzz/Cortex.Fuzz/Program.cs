using System.Diagnostics;
using Cortex.Fuzz;
using SharpFuzz;

// The loaders' fuzzing driver. fuzz/run-long.sh runs it under AFL++ on a SharpFuzz-instrumented Cortex.dll.
//   Cortex.Fuzz afl TARGET                    AFL++ persistent mode (input from afl-fuzz)
//   Cortex.Fuzz libfuzzer TARGET              libFuzzer (needs the libfuzzer-dotnet driver)
//   Cortex.Fuzz mutate TARGET CORPUS N [SEED] in-process mutational fuzzing, N executions, no native fuzzer
//   Cortex.Fuzz run TARGET [--show] FILE…     replay inputs (a crash found by a fuzzer), reporting each outcome;
//                                             --show prints each refusal's message
//   Cortex.Fuzz seeds DIR                     write the seed corpus
// TARGET is one of: cortex, idx, idx-gzip, csv.

if (args is ["seeds", var root])
{
    Seeds.Write(root);
    return 0;
}
if (args.Length < 2 || !Targets.All.TryGetValue(args[1], out var target))
{
    Console.Error.WriteLine($"usage: Cortex.Fuzz afl|libfuzzer|mutate|run TARGET …   (targets: {string.Join(", ", Targets.All.Keys)})");
    return 2;
}
switch (args[0])
{
    case "afl":
        Fuzzer.Run(stream =>
        {
            var ms = new MemoryStream();
            stream.CopyTo(ms);
            target(ms.ToArray());
        });
        return 0;
    case "libfuzzer":
        Fuzzer.LibFuzzer.Run(span => target(span.ToArray()));
        return 0;
    case "mutate" when args.Length >= 4:
    {
        var seeds = Campaign.ReadCorpus(args[2]);
        long n = long.Parse(args[3]);
        int seed = args.Length > 4 ? int.Parse(args[4]) : 1;
        var r = Campaign.Run(target, seeds, n, TimeSpan.MaxValue, seed);
        Console.WriteLine($"{args[1]}: {r.Executions:N0} executions in {r.Elapsed.TotalSeconds:F0} s ({r.Executions / r.Elapsed.TotalSeconds:N0}/s), slowest {r.Slowest.TotalMilliseconds:F0} ms, {(r.Failure == null ? "no failure" : "FAILURE")}");
        if (r.Failure is var (input, error))
        {
            string file = $"crash-{args[1]}-{Convert.ToHexString(System.Security.Cryptography.SHA1.HashData(input))[..12]}";
            File.WriteAllBytes(file, input);
            Console.WriteLine($"{file}: {error}");
            return 1;
        }
        return 0;
    }
    case "run":
    {
        int failures = 0;
        Targets.Show = args.Contains("--show");
        foreach (string file in args[2..].Where(a => a != "--show"))
        {
            var clock = Stopwatch.StartNew();
            try
            {
                target(File.ReadAllBytes(file));
                Console.WriteLine($"{file}: ok ({clock.ElapsedMilliseconds} ms)");
            }
            catch (Exception e)
            {
                failures++;
                Console.WriteLine($"{file}: {e.GetType().Name} ({clock.ElapsedMilliseconds} ms): {e}");
            }
        }
        return failures == 0 ? 0 : 1;
    }
    default:
        Console.Error.WriteLine($"unknown mode '{args[0]}'");
        return 2;
}
