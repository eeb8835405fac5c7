using System.Buffers;

namespace QuantShell.Core.Formats;

/// <summary>Copies between streams with one pooled 1 MiB buffer, checking for cancellation between blocks.</summary>
internal static class StreamCopy
{
    public const int BufferBytes = 1 << 20;

    /// <summary>Copies everything <paramref name="source"/> yields; returns the byte count.</summary>
    public static long Copy(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            long total = 0;
            int got;
            while ((got = source.Read(buffer, 0, BufferBytes)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                destination.Write(buffer, 0, got);
                total += got;
            }
            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Copies exactly <paramref name="count"/> bytes (the source must hold them: its own checks say otherwise).</summary>
    public static void CopyExactly(Stream source, Stream destination, long count, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            while (count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int got = source.Read(buffer, 0, (int)Math.Min(BufferBytes, count));
                if (got == 0) throw new EndOfStreamException();
                destination.Write(buffer, 0, got);
                count -= got;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads and discards <paramref name="count"/> bytes (seeks when the stream can).</summary>
    public static void Skip(Stream source, long count)
    {
        if (count == 0) return;
        if (source.CanSeek)
        {
            source.Seek(count, SeekOrigin.Current);
            return;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 << 10);
        try
        {
            while (count > 0)
            {
                int got = source.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
                if (got == 0) throw new EndOfStreamException();
                count -= got;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
