using System;
using System.IO;
using System.Text;

// MSBuild inline task (see NativeCompat.targets). Sets VER_FLG_WEAK on one version requirement of an ELF64
// little-endian shared object when the system's libstdc++ does not define that version.
public class QuantShellWeakenGlibcxxRequirement : Microsoft.Build.Utilities.Task
{
    [Microsoft.Build.Framework.Required] public Microsoft.Build.Framework.ITaskItem[] Files { get; set; }
    [Microsoft.Build.Framework.Required] public string VersionName { get; set; }

    private const ushort VerFlagWeak = 0x2;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    private static readonly string[] LibstdcxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
    };

    public override bool Execute()
    {
        string systemLib = null;
        foreach (var candidate in LibstdcxxCandidates)
        {
            if (File.Exists(candidate)) { systemLib = candidate; break; }
        }
        if (systemLib == null)
        {
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "No system libstdc++ found; leaving TorchSharp natives untouched.");
            return true;
        }
        if (ContainsAscii(File.ReadAllBytes(systemLib), VersionName + "\0"))
        {
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, systemLib + " defines " + VersionName + "; no patch needed.");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                byte[] image = File.ReadAllBytes(path);
                string outcome = MarkWeak(image, VersionName);
                if (outcome == "patched")
                {
                    string temp = path + ".weak-" + Guid.NewGuid().ToString("N") + ".tmp";
                    File.WriteAllBytes(temp, image);
                    // Delete and rename (not an in-place write): if the output is a hard link into the NuGet cache,
                    // the cache's copy keeps its original bytes.
                    File.Delete(path);
                    File.Move(temp, path);
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        "QuantShell: marked " + VersionName + " weak in " + path + " (system libstdc++ lacks it).");
                }
                else
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, path + ": " + outcome);
                }
            }
            catch (Exception ex)
            {
                Log.LogError("QuantShell: could not patch " + path + ": " + ex.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    private static bool ContainsAscii(byte[] haystack, string needle)
    {
        byte[] pattern = Encoding.ASCII.GetBytes(needle);
        for (int i = 0; i <= haystack.Length - pattern.Length; i++)
        {
            int j = 0;
            while (j < pattern.Length && haystack[i + j] == pattern[j]) j++;
            if (j == pattern.Length) return true;
        }
        return false;
    }

    // Returns "patched", "already weak" or "not required"; throws on a file that is not ELF64 little-endian.
    private static string MarkWeak(byte[] image, string versionName)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (image[4] != 2 || image[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long sectionTable = (long)BitConverter.ToUInt64(image, 0x28);
        int sectionSize = BitConverter.ToUInt16(image, 0x3A);
        int sectionCount = BitConverter.ToUInt16(image, 0x3C);
        for (int i = 0; i < sectionCount; i++)
        {
            long header = sectionTable + (long)i * sectionSize;
            if (BitConverter.ToUInt32(image, (int)header + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(image, (int)header + 0x18);
            uint link = BitConverter.ToUInt32(image, (int)header + 0x28);
            uint entries = BitConverter.ToUInt32(image, (int)header + 0x2C); // sh_info: number of Verneed entries
            long strtab = (long)BitConverter.ToUInt64(image, (int)(sectionTable + (long)link * sectionSize) + 0x18);
            long need = offset;
            for (uint n = 0; n < entries; n++)
            {
                int count = BitConverter.ToUInt16(image, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(image, (int)need + 8);
                for (int a = 0; a < count; a++)
                {
                    long name = strtab + BitConverter.ToUInt32(image, (int)aux + 8);
                    if (ReadCString(image, name) == versionName)
                    {
                        int flagsAt = (int)aux + 4;
                        ushort flags = BitConverter.ToUInt16(image, flagsAt);
                        if ((flags & VerFlagWeak) != 0) return "already weak";
                        flags |= VerFlagWeak;
                        image[flagsAt] = (byte)(flags & 0xff);
                        image[flagsAt + 1] = (byte)(flags >> 8);
                        return "patched";
                    }
                    aux += BitConverter.ToUInt32(image, (int)aux + 12);
                }
                uint next = BitConverter.ToUInt32(image, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return "not required";
    }

    private static string ReadCString(byte[] image, long offset)
    {
        int end = (int)offset;
        while (end < image.Length && image[end] != 0) end++;
        return Encoding.ASCII.GetString(image, (int)offset, end - (int)offset);
    }
}
