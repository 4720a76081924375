using Cortex.Data;

namespace Cortex.Tests.Data;

public class CsvTests
{
    private static InvalidDataException Invalid(string path, string label = "y", bool stringLabels = false) =>
        Assert.Throws<InvalidDataException>(() => Csv.Load(path, label, stringLabels));

    [Fact]
    public void LoadsFeaturesLabelsAndNames()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("good.csv", "a, y ,b\n1,0,2.5\n\n-3e-1,1,\"4\"\n 5 ,2, 6\n");
        var (x, y, names) = Csv.Load(path, "y");
        Assert.Equal([3, 2], x.Shape);
        Assert.Equal([1f, 2.5f, -0.3f, 4f, 5f, 6f], x.ToArray());
        Assert.Equal([3], y.Shape);
        Assert.Equal([0f, 1f, 2f], y.ToArray());
        Assert.Equal(["a", "b"], names);
        Assert.Null(Csv.Load(path, "y").ClassNames);
    }

    [Fact]
    public void ReadsOtherSeparators()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("semi.csv", "a;b;label\n1.5;2;1\n");
        var d = Csv.Load(path, "label", separator: ';');
        Assert.Equal([1.5f, 2f], d.Features.ToArray());
    }

    [Fact]
    public void MapsStringLabelsToSortedClassIndices()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("iris.csv", "sepal,species\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n");
        var d = Csv.Load(path, "species", stringLabels: true);
        Assert.Equal(["setosa", "versicolor", "virginica"], d.ClassNames);
        Assert.Equal([2f, 0f, 1f, 0f], d.Labels.ToArray());
        Assert.Equal([4, 1], d.Features.Shape);
    }

    [Fact]
    public void EmptyStringLabelIsAnError()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("iris.csv", "sepal,species\n1,setosa\n2, \n");
        var e = Invalid(path, "species", stringLabels: true);
        Assert.Contains("line 3, column 'species': expected a class name, found an empty cell.", e.Message);
    }

    [Fact]
    public void NonNumericCellNamesLineColumnAndText()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("bad.csv", "a,b,y\n1,2,0\n3,abc,1\n");
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("line 3, column 'b': expected a finite number, found 'abc'.", e.Message);
    }

    [Fact]
    public void EmptyCellIsAnError()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("hole.csv", "a,b,y\n1,2,0\n\n3,,1\n");
        var e = Invalid(path);
        Assert.Contains("line 4, column 'b': expected a finite number, found an empty cell.", e.Message);
    }

    [Fact]
    public void NonFiniteNumbersAreRejected()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("nan.csv", "a,y\nNaN,0\n");
        Assert.Contains("line 2, column 'a': expected a finite number, found 'NaN' (NaN and infinities are not accepted", Invalid(path).Message);
    }

    [Fact]
    public void TextLabelWithoutStringLabelsSuggestsTheOption()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("iris.csv", "sepal,species\n1,setosa\n");
        var e = Invalid(path, "species");
        Assert.Contains("line 2, column 'species': expected a finite number, found 'setosa' (pass stringLabels: true", e.Message);
    }

    [Fact]
    public void MissingLabelColumnListsTheColumnsFound()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("cols.csv", "sepal_length,petal_width,Species\n1,2,0\n");
        var e = Invalid(path, "species");
        Assert.Contains("has no column 'species'", e.Message);
        Assert.Contains("Columns found (3): 'sepal_length', 'petal_width', 'Species'", e.Message);
        Assert.Contains("Did you mean 'Species'?", e.Message);
    }

    [Fact]
    public void RaggedRowIsAnError()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("ragged.csv", "a,b,y\n1,2,0\n3,4\n");
        var e = Invalid(path);
        Assert.Contains("line 3 has 2 field(s) but the header has 3 columns", e.Message);

        path = dir.WriteText("long.csv", "a,b,y\n1,2,0,9\n");
        Assert.Contains("line 2 has 4 field(s) but the header has 3 columns", Invalid(path).Message);
    }

    [Fact]
    public void EmptyFileIsAnError()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("empty.csv", "");
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("is empty; expected a header line", e.Message);
    }

    [Fact]
    public void HeaderWithoutRowsIsAnError()
    {
        using var dir = new TempDir();
        string path = dir.WriteText("header.csv", "a,b,y\n");
        Assert.Contains("has a header (3 columns) but no data rows", Invalid(path).Message);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => Csv.Load(dir.File("nope.csv"), "y"));
    }

    [Fact]
    public void AHugeBadCellIsQuotedInPartOnly()
    {
        using var dir = new TempDir();
        string cell = "x" + new string('9', 20 << 20);
        string path = dir.WriteText("huge.csv", $"a,y\n{cell},1\n");
        var e = Invalid(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("line 2, column 'a': expected a finite number, found 'x999", e.Message);
        Assert.Contains("20,971,521 characters", e.Message);
        Assert.True(e.Message.Length < 400, $"The message is {e.Message.Length:N0} characters long.");
    }

    [Fact]
    public void AHugeHeaderIsListedInPartOnly()
    {
        using var dir = new TempDir();
        string header = string.Join(",", Enumerable.Range(0, 100_000).Select(i => $"column{i}"));
        string path = dir.WriteText("wide.csv", header + "\n");
        var e = Invalid(path);
        Assert.Contains("has no column 'y'", e.Message);
        Assert.Contains("Columns found (100000)", e.Message);
        Assert.True(e.Message.Length < 1000, $"The message is {e.Message.Length:N0} characters long.");
    }
}
