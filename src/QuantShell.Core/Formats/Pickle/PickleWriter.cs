using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace QuantShell.Core.Formats.Pickle;

/// <summary>
/// Writes the protocol-2 pickle of a flat state dict, as torch.save writes one: an <c>OrderedDict</c> of name →
/// <c>torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())</c>, each storage a persistent id
/// <c>('storage', torch.XStorage, key, 'cpu', numel)</c>. Only globals on torch.load's weights_only allowlist appear.
/// </summary>
internal static class PickleWriter
{
    public static byte[] StateDict(IReadOnlyList<(string Name, string StorageType, string Key, long ElementCount, long[] Shape)> tensors)
    {
        var pickle = new MemoryStream();
        pickle.Write([0x80, 2]); // PROTO 2
        OrderedDict(pickle);
        if (tensors.Count > 0)
        {
            pickle.WriteByte((byte)'('); // MARK
            foreach (var (name, storageType, key, elementCount, shape) in tensors)
            {
                Unicode(pickle, name);
                Global(pickle, "torch._utils", "_rebuild_tensor_v2");
                pickle.WriteByte((byte)'(');
                pickle.WriteByte((byte)'(');
                Unicode(pickle, "storage");
                Global(pickle, "torch", storageType);
                Unicode(pickle, key);
                Unicode(pickle, "cpu");
                Integer(pickle, elementCount);
                pickle.WriteByte((byte)'t'); // TUPLE: the persistent id
                pickle.WriteByte((byte)'Q'); // BINPERSID
                Integer(pickle, 0);
                Tuple(pickle, shape);
                Tuple(pickle, ContiguousStride(shape));
                pickle.WriteByte(0x89); // NEWFALSE: requires_grad
                OrderedDict(pickle); // backward_hooks
                pickle.WriteByte((byte)'t');
                pickle.WriteByte((byte)'R'); // REDUCE
            }
            pickle.WriteByte((byte)'u'); // SETITEMS
        }
        pickle.WriteByte((byte)'.'); // STOP
        return pickle.ToArray();
    }

    /// <summary>torch's contiguous strides: each the product of the later sizes, a size of 0 counting as 1.</summary>
    public static long[] ContiguousStride(long[] shape)
    {
        var stride = new long[shape.Length];
        long step = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            stride[d] = step;
            step *= Math.Max(shape[d], 1);
        }
        return stride;
    }

    private static void OrderedDict(Stream pickle)
    {
        Global(pickle, "collections", "OrderedDict");
        pickle.WriteByte((byte)')'); // EMPTY_TUPLE
        pickle.WriteByte((byte)'R');
    }

    private static void Global(Stream pickle, string module, string name)
    {
        pickle.WriteByte((byte)'c');
        pickle.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    private static void Unicode(Stream pickle, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
        pickle.WriteByte((byte)'X');
        pickle.Write(length);
        pickle.Write(bytes);
    }

    private static void Tuple(Stream pickle, long[] values)
    {
        if (values.Length == 0)
        {
            pickle.WriteByte((byte)')');
            return;
        }
        pickle.WriteByte((byte)'(');
        foreach (long value in values) Integer(pickle, value);
        pickle.WriteByte((byte)'t');
    }

    private static void Integer(Stream pickle, long value)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (value is >= 0 and < 256)
        {
            pickle.WriteByte((byte)'K');
            pickle.WriteByte((byte)value);
        }
        else if (value is >= 0 and < 65536)
        {
            pickle.WriteByte((byte)'M');
            BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value);
            pickle.Write(bytes[..2]);
        }
        else if (value is >= int.MinValue and <= int.MaxValue)
        {
            pickle.WriteByte((byte)'J');
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            pickle.Write(bytes);
        }
        else
        {
            byte[] encoded = new BigInteger(value).ToByteArray(); // little-endian two's complement, as LONG1 wants
            pickle.WriteByte(0x8a);
            pickle.WriteByte((byte)encoded.Length);
            pickle.Write(encoded);
        }
    }
}
