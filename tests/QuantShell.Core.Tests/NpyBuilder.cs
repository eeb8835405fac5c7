using System.Text;

namespace QuantShell.Core.Tests;

/// <summary>Builds .npy bytes by hand (any header text, version and raw data) so tests control every byte.</summary>
public static class NpyBuilder
{
    public static byte[] Build(string headerDict, byte[] data, int major = 1, bool pad = true)
    {
        int preamble = major == 1 ? 10 : 12;
        string text = headerDict;
        if (pad)
        {
            int total = (preamble + text.Length + 1 + 63) / 64 * 64;
            text = text.PadRight(total - preamble - 1) + "\n";
        }
        byte[] header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(text);
        using var ms = new MemoryStream();
        ms.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 });
        if (major == 1) ms.Write(BitConverter.GetBytes((ushort)header.Length));
        else ms.Write(BitConverter.GetBytes((uint)header.Length));
        ms.Write(header);
        ms.Write(data);
        return ms.ToArray();
    }

    public static string Dict(string descr, string shape, bool fortran = false) =>
        $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";

    public static string WriteTemp(string directory, string name, byte[] bytes)
    {
        string path = Path.Combine(directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
