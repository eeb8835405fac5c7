using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Pickle;
using QuantShell.Core.Formats.Zip;

namespace QuantShell.Core.Tests.Formats;

/// <summary>Builds model files byte by byte, hostile ones included: safetensors, zips with any entries, checkpoints, pickles.</summary>
public static class ModelFileBuilder
{
    public static byte[] Safetensors(string headerJson, byte[] data, ulong? declaredLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>One entry of a hand-made zip: its data as stored (deflated when <see cref="Deflate"/>), and what the index claims.</summary>
    public sealed record ZipItem(string Name, byte[] Content, bool Deflate = false)
    {
        public long? DeclaredSize { get; init; }
        public long? DeclaredCompressedSize { get; init; }
        public uint? DeclaredCrc { get; init; }
        /// <summary>Point the central directory at another entry's local header (by index) instead of this one's.</summary>
        public int? LocalHeaderOf { get; init; }
    }

    /// <summary>A zip whose central directory says whatever the items declare (no data descriptors, no zip64).</summary>
    public static byte[] Zip(params ZipItem[] items)
    {
        var output = new MemoryStream();
        var offsets = new List<long>();
        var stored = new List<(byte[] Name, byte[] Data, uint Crc)>();
        foreach (var item in items)
        {
            byte[] name = Encoding.UTF8.GetBytes(item.Name);
            byte[] data = item.Deflate ? DeflateBytes(item.Content) : item.Content;
            uint crc = System.IO.Hashing.Crc32.HashToUInt32(item.Content);
            offsets.Add(output.Position);
            var local = new byte[30];
            BinaryPrimitives.WriteUInt32LittleEndian(local, 0x04034b50);
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(4), 20);
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(8), (ushort)(item.Deflate ? 8 : 0));
            BinaryPrimitives.WriteUInt32LittleEndian(local.AsSpan(14), crc);
            BinaryPrimitives.WriteUInt32LittleEndian(local.AsSpan(18), (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(local.AsSpan(22), (uint)item.Content.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(26), (ushort)name.Length);
            output.Write(local);
            output.Write(name);
            output.Write(data);
            stored.Add((name, data, crc));
        }
        long directory = output.Position;
        for (int i = 0; i < items.Length; i++)
        {
            var item = items[i];
            var (name, data, crc) = stored[i];
            var central = new byte[46];
            BinaryPrimitives.WriteUInt32LittleEndian(central, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(central.AsSpan(4), 20);
            BinaryPrimitives.WriteUInt16LittleEndian(central.AsSpan(6), 20);
            BinaryPrimitives.WriteUInt16LittleEndian(central.AsSpan(10), (ushort)(item.Deflate ? 8 : 0));
            BinaryPrimitives.WriteUInt32LittleEndian(central.AsSpan(16), item.DeclaredCrc ?? crc);
            BinaryPrimitives.WriteUInt32LittleEndian(central.AsSpan(20), (uint)(item.DeclaredCompressedSize ?? data.Length));
            BinaryPrimitives.WriteUInt32LittleEndian(central.AsSpan(24), (uint)(item.DeclaredSize ?? item.Content.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(central.AsSpan(28), (ushort)name.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(central.AsSpan(42), (uint)offsets[item.LocalHeaderOf ?? i]);
            output.Write(central);
            output.Write(name);
        }
        long directorySize = output.Position - directory;
        var end = new byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(8), (ushort)items.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(10), (ushort)items.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(12), (uint)directorySize);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(16), (uint)directory);
        output.Write(end);
        return output.ToArray();
    }

    public static byte[] DeflateBytes(byte[] content)
    {
        var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
            deflate.Write(content);
        return output.ToArray();
    }

    /// <summary>An .npy file's bytes for a float32 vector.</summary>
    public static byte[] Npy(params float[] values)
    {
        var stream = new MemoryStream();
        NpyHeader.Write(stream, DType.Float32, [values.Length]);
        foreach (float value in values) stream.Write(BitConverter.GetBytes(value));
        return stream.ToArray();
    }

    /// <summary>A torch.save-style checkpoint (written by QuantShell's zip writer) with the given pickle and records.</summary>
    public static byte[] Checkpoint(byte[] pickle, IEnumerable<(string Key, byte[] Data)> storages, string? version = "3\n",
                                    string? byteOrder = null, IEnumerable<(string Name, byte[] Data)>? extra = null)
    {
        var output = new MemoryStream();
        var writer = new ZipWriter(output);
        writer.AddEntry("archive/data.pkl", false, pickle.Length, s => s.Write(pickle), 64);
        if (byteOrder is not null) writer.AddEntry("archive/byteorder", false, byteOrder.Length, s => s.Write(Encoding.ASCII.GetBytes(byteOrder)), 64);
        foreach (var (key, data) in storages) writer.AddEntry("archive/data/" + key, false, data.Length, s => s.Write(data), 64);
        if (version is not null) writer.AddEntry("archive/version", false, version.Length, s => s.Write(Encoding.ASCII.GetBytes(version)), 64);
        foreach (var (name, data) in extra ?? []) writer.AddEntry(name, false, data.Length, s => s.Write(data), 64);
        writer.Finish();
        return output.ToArray();
    }

    /// <summary>The pickle torch.save writes for a flat state dict of contiguous tensors, one storage each (keys "0", "1", ...).</summary>
    public static byte[] StateDictPickle(params (string Name, string StorageType, long ElementCount, long[] Shape)[] tensors) =>
        PickleWriter.StateDict(tensors.Select((t, i) => (t.Name, t.StorageType, i.ToString(), t.ElementCount, t.Shape)).ToList());

    /// <summary>Assembles pickle opcodes by hand.</summary>
    public sealed class Pickle
    {
        private readonly MemoryStream _bytes = new();

        public Pickle Op(char opcode) => Raw((byte)opcode);
        public Pickle Raw(params byte[] bytes) { _bytes.Write(bytes); return this; }
        public Pickle Proto() => Raw(0x80, 2);
        public Pickle Global(string module, string name) => Op('c').Raw(Encoding.UTF8.GetBytes($"{module}\n{name}\n"));
        public Pickle Text(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            Op('X');
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
            _bytes.Write(length);
            _bytes.Write(bytes);
            return this;
        }
        public Pickle Int(byte value) => Op('K').Raw(value);
        public Pickle Stop() => Op('.');
        public byte[] Bytes => _bytes.ToArray();
    }

    public static string Write(TempDirectory temp, string name, byte[] bytes)
    {
        string path = temp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public static uint Crc(byte[] bytes) => Crc32.HashToUInt32(bytes);
}
