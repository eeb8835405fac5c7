using QuantShell.Core.Errors;
using QuantShell.Core.IO;

namespace QuantShell.Core.Tests;

/// <summary>
/// Writers racing for one output name, many rounds, on threads released together: without Force exactly one wins and
/// the file is the winner's, whole; with Force every rename replaces the file atomically, so a reader reading all the
/// while only ever sees one complete file. Processes racing the same way: QuantShell.Cli.Tests' ConcurrentWriterTests.
/// </summary>
public sealed class WriterRaceTests : IDisposable
{
    private const int Rounds = 100, Writers = 4, Bytes = 64 << 10;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] Content(int round, int writer) =>
        Enumerable.Range(0, Bytes).Select(i => (byte)(i * 31 + round * Writers + writer + 1)).ToArray();

    [SkippableTheory]
    [InlineData(nameof(RenameIntoPlace.Strategy.RenameNoReplace))]
    [InlineData(nameof(RenameIntoPlace.Strategy.LinkThenUnlink))]
    public void RenameWithoutReplacing_RacingWriters_ExactlyOneWinsEveryRound(string strategyName)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the no-replace strategies are Linux calls; elsewhere File.Move is used");
        var strategy = Enum.Parse<RenameIntoPlace.Strategy>(strategyName);
        string target = _temp.File("out.npy");
        int rounds = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var sources = Enumerable.Range(0, Writers).Select(w => _temp.File($"src{w}")).ToArray();
            for (int w = 0; w < Writers; w++) File.WriteAllBytes(sources[w], Content(round, w));
            var won = new bool[Writers];
            RunTogether(w => won[w] = RenameIntoPlace.WithoutReplacing(sources[w], target, strategy));
            int winner = Assert.Single(Enumerable.Range(0, Writers), w => won[w]);
            Assert.Equal(Content(round, winner), File.ReadAllBytes(target));
            // The losers' files are untouched, for their writer to remove.
            for (int w = 0; w < Writers; w++)
            {
                Assert.Equal(w != winner, File.Exists(sources[w]));
                if (w != winner) File.Delete(sources[w]);
            }
            File.Delete(target);
            rounds++;
        }
        Assert.Equal(Rounds, rounds);
    }

    [Fact]
    public void AtomicWrite_RacingWithoutForce_OneWritesTheOthersReportOutputExists()
    {
        string target = _temp.File("out.npy");
        for (int round = 0; round < Rounds; round++)
        {
            var errors = new QuantShellException?[Writers];
            RunTogether(w =>
            {
                try { AtomicFile.Write(target, WriteOptions.Default, stream => stream.Write(Content(round, w))); }
                catch (QuantShellException ex) { errors[w] = ex; }
            });
            int winner = Assert.Single(Enumerable.Range(0, Writers), w => errors[w] is null);
            Assert.All(errors.Where(e => e is not null), e => Assert.Equal(ErrorIds.OutputExists, e!.ErrorId));
            Assert.Equal(Content(round, winner), File.ReadAllBytes(target));
            Assert.Equal(new[] { "out.npy" }, Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
            File.Delete(target);
        }
    }

    [Fact]
    public void AtomicWrite_RacingWithForce_ReadersOnlyEverSeeOneCompleteFile()
    {
        string target = _temp.File("out.npy");
        byte[] initial = Content(-1, 0);
        File.WriteAllBytes(target, initial);
        var complete = new List<byte[]> { initial };
        for (int round = 0; round < Rounds; round++)
            for (int w = 0; w < Writers; w++) complete.Add(Content(round, w));
        var valid = complete.Select(Convert.ToBase64String).ToHashSet();

        using var stop = new CancellationTokenSource();
        int reads = 0;
        string? bad = null;
        var reader = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                byte[] seen = File.ReadAllBytes(target); // the name always exists: renames replace it atomically
                if (!valid.Contains(Convert.ToBase64String(seen))) bad ??= $"a read of {seen.Length} bytes that is no complete file";
                reads++;
            }
        });
        reader.Start();
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                RunTogether(w => AtomicFile.Write(target, new WriteOptions { Force = true }, stream => stream.Write(Content(round, w))));
                byte[] final = File.ReadAllBytes(target);
                Assert.Contains(Enumerable.Range(0, Writers), w => Content(round, w).AsSpan().SequenceEqual(final));
            }
        }
        finally
        {
            stop.Cancel();
            reader.Join();
        }
        Assert.Null(bad);
        Assert.True(reads > Rounds, $"the reader read only {reads} times");
        Assert.Equal(new[] { "out.npy" }, Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
    }

    /// <summary>Runs <paramref name="work"/> for every writer on its own thread, released at the same moment.</summary>
    private static void RunTogether(Action<int> work)
    {
        using var start = new Barrier(Writers);
        Exception? failure = null;
        var threads = Enumerable.Range(0, Writers).Select(w => new Thread(() =>
        {
            start.SignalAndWait();
            try { work(w); } catch (Exception ex) { failure ??= ex; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (failure is not null) throw new AggregateException(failure);
    }
}
