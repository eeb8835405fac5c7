namespace QuantShell.TestSupport;

/// <summary>ONNX files that probe the reader's limits, written as raw protobuf bytes.</summary>
public static class HostileOnnx
{
    /// <summary>
    /// A ModelProto (ir_version 8) holding <paramref name="depth"/> messages nested in each other: its graph, that graph's
    /// node, the node's attribute, the attribute's graph, its node, ... (fields ModelProto.graph 7, GraphProto.node 1,
    /// NodeProto.attribute 5, AttributeProto.g 6).
    /// </summary>
    public static byte[] NestedMessages(int depth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        byte[] content = [];
        for (int level = depth; level >= 1; level--)
        {
            // The tag (field number << 3 | 2, length-delimited) under which the message at this level sits in its parent.
            int field = level == 1 ? 7 : (level % 3) switch
            {
                1 => 6, // a graph, in an attribute
                2 => 1, // a node, in a graph
                _ => 5, // an attribute, in a node
            };
            byte tag = (byte)(field << 3 | 2);
            content = [tag, .. Varint(content.Length), .. content];
        }
        return [1 << 3 | 0, 8, .. content]; // ir_version 8, then the graph
    }

    /// <summary>A file of <paramref name="length"/> zero bytes that takes no space on the disk (a hole).</summary>
    public static void SparseFile(string path, long length)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(length);
    }

    private static byte[] Varint(long value)
    {
        var bytes = new List<byte>();
        do
        {
            byte low = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? low : (byte)(low | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }
}
