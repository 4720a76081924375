namespace Cortex.Cli.Tests;

public class ExitCodeTests
{
    [Fact]
    public void UnexpectedExceptionsAreInternalErrors()
    {
        var stderr = new StringWriter();
        int code = Cli.Guard(() => throw new InvalidOperationException("the tape is\nbroken"), stderr);
        Assert.Equal(Cli.InternalError, code);
        Assert.StartsWith("cortex: internal error: InvalidOperationException: the tape is broken", stderr.ToString());
    }

    [Theory]
    [InlineData(typeof(InvalidDataException))]
    [InlineData(typeof(FileNotFoundException))]
    [InlineData(typeof(ArgumentException))]
    [InlineData(typeof(UsageException))]
    [InlineData(typeof(NotFiniteNumberException))] // Fit: the loss of the first batch is NaN (data that overflows)
    public void InputExceptionsAreBadInput(Type type)
    {
        var stderr = new StringWriter();
        int code = Cli.Guard(() => throw (Exception)Activator.CreateInstance(type, "bad thing")!, stderr);
        Assert.Equal(Cli.BadInput, code);
        Assert.Equal("cortex: bad thing", stderr.ToString().Trim());
    }

    [Fact]
    public void ANullArgumentIsOurBugNotTheUsers()
    {
        var stderr = new StringWriter();
        Assert.Equal(Cli.InternalError, Cli.Guard(() => throw new ArgumentNullException("x"), stderr));
    }

    [Theory]
    [InlineData("--help", "cortex [command] [options]", "train", "evaluate", "predict", "summary")]
    [InlineData("train --help", "cortex train [options]", "--data", "--label", "--layers", "--activation", "--epochs", "--batch-size", "--optimizer", "--lr", "--seed", "--validation-split", "--out")]
    [InlineData("evaluate --help", "--model", "--data", "--label", "--batch-size")]
    [InlineData("predict --help", "--model", "--input", "--label")]
    [InlineData("summary --help", "--model")]
    public void HelpListsTheCommandsAndOptions(string args, params string[] fragments)
    {
        var r = CliHarness.Run(args.Split(' '));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Err);
        foreach (string f in fragments) Assert.Contains(f, r.Out);
    }

    [Fact]
    public void Version()
    {
        var r = CliHarness.Run("--version");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", r.Out);
    }
}
