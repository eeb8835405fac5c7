namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// One block of channels' run of MCT's per-channel interval search (<see cref="SymmetricIntervalSearch"/>,
/// <see cref="UniformRangeSearch"/>), every iteration run and kept, so that blocks of a tensor's channels can be searched
/// one after the other and their records joined into the search of all channels at once (<see cref="Join"/>). Each
/// channel's path is its own except where MCT's NumPy code looks across channels: the early stop (the mean improvement
/// over all channels), whether the errors are float32 (NumPy's array of all channels' errors is float32 only when every
/// one is) and, for thresholds, a zero linspace step in any channel. Records that disagree on those are not joined.
/// </summary>
internal sealed class SearchRecord<TParam>
{
    private readonly List<Step> _steps = [];

    private readonly record struct Step(bool CurrentSingle, MctLoss[] Previous, MctLoss[] Winner, TParam[] Best);

    /// <summary>Whether the starting errors were all float32.</summary>
    public bool StartSingle { get; private set; }

    /// <summary>The starting values (the result when the search has no iteration).</summary>
    public TParam[] Start { get; private set; } = [];

    /// <summary>Set when some iteration's linspace of some channel had a zero step (MCT then builds every channel's differently).</summary>
    public bool ZeroStep { get; set; }

    public void Begin(TParam[] start, bool startSingle)
    {
        Start = (TParam[])start.Clone();
        StartSingle = startSingle;
    }

    /// <summary>One iteration: the errors before it, its winners' (float32 flag as the block's), and the best values after it.</summary>
    public void Add(bool currentSingle, MctLoss[] previous, MctLoss[] winner, TParam[] best) =>
        _steps.Add(new Step(currentSingle, (MctLoss[])previous.Clone(), (MctLoss[])winner.Clone(), (TParam[])best.Clone()));

    /// <summary>
    /// The values the search of all the blocks' channels at once returns (the blocks in channel order), stopping where the
    /// mean improvement over all channels is positive and below <see cref="SymmetricIntervalSearch.Tolerance"/>; null when
    /// the blocks disagree on what MCT decides across channels (then the channels must be searched together).
    /// </summary>
    public static TParam[]? Join(IReadOnlyList<SearchRecord<TParam>> blocks)
    {
        if (blocks.Count == 0) return null;
        var first = blocks[0];
        foreach (var block in blocks)
        {
            if (block.ZeroStep || block.StartSingle != first.StartSingle || block._steps.Count != first._steps.Count) return null;
            for (int n = 0; n < first._steps.Count; n++)
                if (block._steps[n].CurrentSingle != first._steps[n].CurrentSingle) return null;
        }
        if (first._steps.Count == 0) return Concat(blocks, b => b.Start);
        bool bestSingle = first.StartSingle;
        for (int n = 0; n < first._steps.Count; n++)
        {
            bool previousSingle = bestSingle, currentSingle = first._steps[n].CurrentSingle;
            bestSingle = currentSingle && previousSingle;
            var previous = Concat(blocks, b => b._steps[n].Previous);
            var winner = Concat(blocks, b => b._steps[n].Winner);
            double improvement = MctLosses.MeanImprovement(previous, winner, currentSingle && previousSingle);
            if (0 < improvement && improvement < SymmetricIntervalSearch.Tolerance) return Concat(blocks, b => b._steps[n].Best);
        }
        return Concat(blocks, b => b._steps[^1].Best);
    }

    private static T[] Concat<T>(IReadOnlyList<SearchRecord<TParam>> blocks, Func<SearchRecord<TParam>, T[]> part)
    {
        var all = new List<T>();
        foreach (var block in blocks) all.AddRange(part(block));
        return all.ToArray();
    }
}
