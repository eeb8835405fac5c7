using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using QuantShell.Core.Diagnostics;

namespace QuantShell.Core.IO;

/// <summary>
/// Hands filled buffers to a stream. The background variant writes on its own thread so that reading and quantizing
/// the next chunk overlaps writing this one (on two cores the file path then runs near copy speed); a few buffers
/// circulate, so memory stays bounded whatever the file size.
/// </summary>
internal abstract class ChunkWriter : IDisposable
{
    public static ChunkWriter Create(Stream output, int bufferBytes, bool background) =>
        background ? new Background(output, bufferBytes) : new Inline(output, bufferBytes);

    /// <summary>A buffer of at least the size given at creation, to fill and pass to <see cref="Submit"/>.</summary>
    public abstract byte[] Rent();

    public abstract void Submit(byte[] buffer, int length);

    /// <summary>Waits until everything submitted is written; rethrows a write failure.</summary>
    public abstract void Complete();

    public abstract void Dispose();

    private sealed class Inline(Stream output, int bufferBytes) : ChunkWriter
    {
        private byte[]? _buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(bufferBytes);
        public override byte[] Rent() => _buffer ?? throw new ObjectDisposedException(nameof(ChunkWriter));
        public override void Submit(byte[] buffer, int length)
        {
            using (Timeline.Time(TimelinePhase.Write, length)) output.Write(buffer, 0, length);
        }
        public override void Complete() { }

        public override void Dispose()
        {
            if (_buffer is not null) System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }

    private sealed class Background : ChunkWriter
    {
        private const int Buffers = 4;
        private readonly Stream _output;
        private readonly BlockingCollection<byte[]> _free = new(Buffers);
        private readonly BlockingCollection<(byte[] Buffer, int Length)> _pending = new(Buffers);
        private readonly Task _writer;
        private volatile ExceptionDispatchInfo? _failure;

        public Background(Stream output, int bufferBytes)
        {
            _output = output;
            // Pooled: fresh memory costs a page fault per page, and the next tensor's writer reuses these.
            for (int i = 0; i < Buffers; i++)
            {
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(bufferBytes);
                LargeArrays.Prefault(buffer);
                _free.Add(buffer);
            }
            _writer = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        private void WriteLoop()
        {
            foreach (var (buffer, length) in _pending.GetConsumingEnumerable())
            {
                if (_failure is null)
                {
                    try { using (Timeline.Time(TimelinePhase.Write, length)) _output.Write(buffer, 0, length); }
                    catch (Exception ex) { _failure = ExceptionDispatchInfo.Capture(ex); }
                }
                _free.Add(buffer);
            }
        }

        public override byte[] Rent()
        {
            _failure?.Throw();
            return _free.Take();
        }

        public override void Submit(byte[] buffer, int length)
        {
            _failure?.Throw();
            _pending.Add((buffer, length));
        }

        public override void Complete()
        {
            if (!_pending.IsAddingCompleted) _pending.CompleteAdding();
            _writer.Wait();
            _failure?.Throw();
        }

        public override void Dispose()
        {
            // Never leave the writer running against a stream the caller is about to close or delete.
            if (!_pending.IsAddingCompleted) _pending.CompleteAdding();
            try { _writer.Wait(); } catch (AggregateException) { }
            // Every buffer is back once the writer is done, but one a caller rented and never submitted (it failed meanwhile).
            while (_free.TryTake(out var buffer)) System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            _pending.Dispose();
            _free.Dispose();
        }
    }
}
