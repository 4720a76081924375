// ScottPlot's default font (Fonts.Default) is process-wide, and every figure sets it for a moment while it styles its
// panels (under Figure's lock, then restores it). A test that checks the default is left alone would read it while
// another class's figure holds it, so the classes run one after another (19 tests, about a second); tests that draw
// in parallel do so inside themselves (Parallel.For).
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
