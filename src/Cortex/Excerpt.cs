namespace Cortex;

/// <summary>
/// Bounds the text an error message quotes from a file: a damaged cell or name can be megabytes long, and a message
/// that echoes it whole floods logs and terminals.
/// </summary>
internal static class Excerpt
{
    /// <summary>The most characters of quoted text a message shows.</summary>
    public const int MaxQuoted = 80;

    /// <summary><paramref name="text"/> itself when short, else its first <see cref="MaxQuoted"/> characters, an
    /// ellipsis and its full length: <c>x999…(20,971,521 characters)</c>.</summary>
    public static string Of(string text, int max = MaxQuoted) =>
        text.Length <= max ? text : $"{text[..max]}…({text.Length:N0} characters)";

    /// <summary>A whole message capped at <paramref name="max"/> characters, for details that come from code this
    /// library does not control and may quote a file.</summary>
    public static string Message(string message, int max = 600) =>
        message.Length <= max ? message : $"{message[..max]}…({message.Length:N0} characters)";
}
