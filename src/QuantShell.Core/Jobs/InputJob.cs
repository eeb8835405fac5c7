using System.Collections.Concurrent;
using System.Diagnostics;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Jobs;

/// <summary>
/// The shape every job over inputs shares. A face adds inputs as they come (<see cref="Add"/>; a PowerShell pipeline
/// hands them one by one) and then calls <see cref="Complete"/>. Each input is prepared on the caller's thread (checks,
/// ShouldProcess), worked on by up to <see cref="MaxParallelism"/> workers, and its results or its one error are handed
/// to the host on the caller's thread, in input order. Jobs that need all inputs before starting (calibration, an
/// output path that allows one input) collect them until <see cref="Complete"/>. A job that names its outputs beside its
/// inputs (<see cref="OwnOutputTags"/>) skips, with a warning, an input that is the default output of another of its
/// inputs (<see cref="OutputPlanner.SourcesBeside"/>): a wildcard run twice never feeds the first run's outputs back in.
/// </summary>
public abstract class InputJob<TResult> : IDisposable
{
    private const int ProgressIntervalMs = 250;

    private readonly Queue<(JobInput Input, Task<IReadOnlyList<TResult>> Work)> _pending = new();
    private readonly ConcurrentDictionary<JobInput, ConcurrentQueue<string>> _warnings = new(ReferenceEqualityComparer.Instance);
    private readonly List<JobInput> _collected = [];
    private readonly Stopwatch _progressClock = new();
    private readonly CancellationTokenSource _cancellation;
    private readonly Dictionary<string, string> _addedFiles = new(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
    private readonly HashSet<string> _given = new(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
    private readonly List<(JobInput Input, IReadOnlyList<string> Sources)> _heldBack = [];
    private int _added, _declined, _done;
    private bool _sawStream, _completed, _progressShown;
    private string? _starting;
    private volatile ItemBytes? _itemBytes;

    private sealed record ItemBytes(string Item, long Done, long Total, int TensorsDone, int TensorsTotal);

    private protected InputJob(JobHost<TResult> host, CancellationToken cancellationToken, int maxParallelism)
    {
        Host = host ?? throw new ArgumentNullException(nameof(host));
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        MaxParallelism = Math.Max(1, maxParallelism);
    }

    protected JobHost<TResult> Host { get; }

    protected CancellationToken Cancellation => _cancellation.Token;

    /// <summary>Inputs worked on at once (results are still delivered in input order).</summary>
    public int MaxParallelism { get; }

    /// <summary>Inputs that gave results.</summary>
    public int Succeeded { get; private set; }

    /// <summary>Inputs that failed (each reported once through <see cref="JobHost{TResult}.WriteError"/>).</summary>
    public int Failed { get; private set; }

    /// <summary>Inputs added so far.</summary>
    public int InputCount => _added;

    /// <summary>The progress activity's name.</summary>
    protected abstract string Activity { get; }

    /// <summary>True when the job must see every input before it starts any.</summary>
    protected abstract bool CollectsInputs { get; }

    /// <summary>
    /// The tags of the default output names this job's kind of work writes beside its inputs (<c>q</c> for
    /// <c>x.q.npy</c>); an input so named beside another input of the job is skipped. Empty: every input is taken.
    /// </summary>
    protected virtual IReadOnlyCollection<string> OwnOutputTags => [];

    /// <summary>
    /// Adds an input; finished results are delivered before it returns. A file given again (a wildcard and its own name;
    /// one object per tensor of a model from Get-QuantTensor) is read once: the later ones are dropped. An input named
    /// as a default output of a file beside it waits until that file is added too (then it is skipped with a warning)
    /// or the job completes (then it is taken), so the order in which a listing or a pipeline gives them does not matter.
    /// </summary>
    public void Add(JobInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (_completed) throw new InvalidOperationException("The job is complete.");
        Cancellation.ThrowIfCancellationRequested();
        if (input.FullPath is not null && !_given.Add(input.FullPath)) return;
        if (input.FullPath is not null && OwnOutputTags.Count > 0)
        {
            var sources = OutputPlanner.SourcesBeside(input.FullPath, OwnOutputTags);
            if (sources.FirstOrDefault(_addedFiles.ContainsKey) is { } added)
            {
                SkipOwnOutput(input, _addedFiles[added]);
                return;
            }
            if (sources.Count > 0)
            {
                _heldBack.Add((input, sources));
                return;
            }
        }
        Take(input);
    }

    private void Take(JobInput input)
    {
        if ((_sawStream || input.IsStream) && _added > 0) throw StreamNotAlone(input);
        _added++;
        _sawStream |= input.IsStream;
        if (input.FullPath is not null && OwnOutputTags.Count > 0)
        {
            _addedFiles.TryAdd(input.FullPath, input.Name);
            foreach (var held in _heldBack.Where(h => h.Sources.Contains(input.FullPath, _addedFiles.Comparer)).ToList())
            {
                _heldBack.Remove(held);
                SkipOwnOutput(held.Input, input.Name);
            }
        }
        if (CollectsInputs)
        {
            _collected.Add(input);
            return;
        }
        Start(input);
        Deliver(wait: false);
    }

    private void SkipOwnOutput(JobInput input, string source) =>
        Host.WriteWarning($"{input.Name}: skipped: it is named as the default output of {source}, which is also an input; " +
                          $"name it without {source} to {Activity.ToLowerInvariant()} it anyway.", input);

    /// <summary>No more inputs: runs what was collected, waits for every input and delivers the rest.</summary>
    public void Complete()
    {
        if (_completed) return;
        try
        {
            // Inputs named as outputs of files that never came are taken after all.
            while (_heldBack.Count > 0)
            {
                var input = _heldBack[0].Input;
                _heldBack.RemoveAt(0);
                Take(input);
            }
            _completed = true;
            if (CollectsInputs) StartCollected(_collected);
            Deliver(wait: true);
        }
        finally
        {
            _completed = true;
            // A progress bar shown is closed, whatever ended the job (a stopped pipeline takes its bars away itself).
            if (_progressShown && !Cancellation.IsCancellationRequested)
                Host.WriteProgress(new JobProgress(Activity, _done, Known, null, Completed: true));
        }
        Cancellation.ThrowIfCancellationRequested();
    }

    /// <summary>Inputs known so far that the job works on (not those the host declined).</summary>
    private int Known => Math.Max(_added - _declined, _done);

    /// <summary>Runs a whole job: adds every input, completes, disposes it, and returns it for its counts.</summary>
    protected static TJob RunToCompletion<TJob>(TJob job, IEnumerable<JobInput> inputs) where TJob : InputJob<TResult>
    {
        try
        {
            // Inputs known up front are checked before the first starts: a stream among several is one error, not its
            // own failure followed by this one.
            if (inputs is IReadOnlyCollection<JobInput> { Count: > 1 } all && all.FirstOrDefault(input => input.IsStream) is { } stream)
                throw StreamNotAlone(stream);
            foreach (var input in inputs) job.Add(input);
            job.Complete();
            return job;
        }
        finally
        {
            job.Dispose();
        }
    }

    private static QuantShellException StreamNotAlone(JobInput input) =>
        new($"{JobInput.StandardInputName} ('-') must be the only input.", ErrorIds.StdinWithSeveralInputs, QuantShellErrorKind.InvalidArgument, input.Name);

    /// <summary>Cancels the work in flight (PowerShell's StopProcessing; the command line's Ctrl+C).</summary>
    public void Cancel() => _cancellation.Cancel();

    /// <summary>Prepares one input on the caller's thread, then hands its work to <see cref="Enqueue"/>, or reports its error.</summary>
    protected abstract void Start(JobInput input);

    /// <summary>Runs the inputs collected until <see cref="Complete"/> (their checks first, then <see cref="Start"/> or shared work).</summary>
    protected virtual void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        foreach (var input in inputs)
        {
            if (Cancellation.IsCancellationRequested) break;
            Start(input);
        }
    }

    /// <summary>Queues an input's work; it runs on a worker, unless only one may run at a time.</summary>
    protected void Enqueue(JobInput input, Func<CancellationToken, IReadOnlyList<TResult>> work)
    {
        while (_pending.Count >= 2 * MaxParallelism) DeliverOne();
        var token = Cancellation;
        if (MaxParallelism > 1)
        {
            _pending.Enqueue((input, Task.Run(() => work(token), CancellationToken.None)));
            ReportProgress();
            return;
        }
        // Worked on right here: shown before it starts.
        _starting = input.Name;
        ReportProgress();
        var task = RunInline(work, token);
        _starting = null;
        _pending.Enqueue((input, task));
    }

    /// <summary>
    /// Names and checks an input's output (<see cref="OutputPlanner.For"/>), asks the host whether to <paramref name="action"/>
    /// into it, then queues the work; a failed check is the input's one error.
    /// </summary>
    private protected void StartWithOutput(JobInput input, OutputPlanner outputs, string action,
                                           Func<OutputTarget, CancellationToken, IReadOnlyList<TResult>> work)
    {
        OutputTarget output;
        try
        {
            output = outputs.For(input);
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        if (!Host.ShouldProcess(input.Name, $"{action} into '{output.Name}'"))
        {
            _declined++;
            return;
        }
        try
        {
            outputs.EnsureDirectory();
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        Enqueue(input, token => work(output, token));
    }

    /// <summary>Reports one input's error (in order: after the results of the inputs before it).</summary>
    protected void Fail(JobInput? input, QuantShellException error)
    {
        if (input is not null)
        {
            // Keep input order: everything queued before this input is delivered first.
            while (_pending.Count > 0) DeliverOne();
        }
        Failed++;
        _done++;
        Host.WriteError(error, input);
    }

    private static Task<IReadOnlyList<TResult>> RunInline(Func<CancellationToken, IReadOnlyList<TResult>> work, CancellationToken token)
    {
        try
        {
            return Task.FromResult(work(token));
        }
        catch (Exception ex)
        {
            return Task.FromException<IReadOnlyList<TResult>>(ex);
        }
    }

    private void Deliver(bool wait)
    {
        while (_pending.Count > 0 && (wait || _pending.Peek().Work.IsCompleted)) DeliverOne();
        ReportProgress();
    }

    /// <summary>A worker's progress through one model file (its tensors, and their bytes); shown while the caller waits for it.</summary>
    protected void ReportItemProgress(JobInput input, long bytesDone, long bytesTotal, int tensorsDone, int tensorsTotal) =>
        _itemBytes = new ItemBytes(input.Name, bytesDone, bytesTotal, tensorsDone, tensorsTotal);

    /// <summary>
    /// A worker's warning about an input (any thread): handed to the host on the caller's thread, right before the input's
    /// results.
    /// </summary>
    protected void Warn(JobInput input, string message) => _warnings.GetOrAdd(input, _ => new ConcurrentQueue<string>()).Enqueue(message);

    private void DeliverOne()
    {
        var (input, work) = _pending.Peek();
        // Wait in slices so that progress through a large input is drawn while it runs (it is the one shown: the first pending).
        while (!((IAsyncResult)work).AsyncWaitHandle.WaitOne(ProgressIntervalMs)) ReportProgress();
        _pending.Dequeue();
        _done++;
        if (_itemBytes?.Item == input.Name) _itemBytes = null;
        _warnings.TryRemove(input, out var warnings);
        IReadOnlyList<TResult> results;
        try
        {
            results = work.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
        {
            return; // the core left no partial output; the job is being stopped
        }
        catch (QuantShellException ex)
        {
            Failed++;
            Host.WriteError(ex, input);
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Writes are wrapped by AtomicFile; what is left is a failure to read the input.
            Failed++;
            Host.WriteError(new QuantShellException($"{input.Name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, input.Name, ex), input);
            return;
        }
        Succeeded++;
        foreach (string warning in warnings ?? []) Host.WriteWarning(warning, input);
        Delivered(input, results);
        Host.WriteResults(results);
    }

    /// <summary>Runs on the caller's thread when an input's results are about to be delivered.</summary>
    protected virtual void Delivered(JobInput input, IReadOnlyList<TResult> results) { }

    // Progress is drawn by the host and costs far more than a small file: at most 4 times a second, for several inputs.
    // The input shown is the one the job waits for, the (done + 1)th: the first pending, or the one starting.
    private void ReportProgress()
    {
        var item = _itemBytes;
        if (_added < 2 && !CollectsInputs && item is null) return;
        if (_progressClock.IsRunning && _progressClock.ElapsedMilliseconds < ProgressIntervalMs) return;
        _progressClock.Restart();
        _progressShown = true;
        string? current = _pending.Count > 0 ? _pending.Peek().Input.Name : _starting;
        Host.WriteProgress(new JobProgress(Activity, _done, Known, current, Completed: false)
        {
            Item = item?.Item,
            ItemBytesDone = item?.Done,
            ItemBytesTotal = item?.Total,
            ItemTensorsDone = item?.TensorsDone,
            ItemTensorsTotal = item?.TensorsTotal,
        });
    }

    public void Dispose()
    {
        // A stopped pipeline may leave inputs in flight: cancel them and let them clean up (no partial files).
        _cancellation.Cancel();
        foreach (var (_, work) in _pending)
        {
            try { work.Wait(); } catch (AggregateException) { }
        }
        _pending.Clear();
        _cancellation.Dispose();
        GC.SuppressFinalize(this);
    }
}
