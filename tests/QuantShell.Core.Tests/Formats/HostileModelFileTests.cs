using System.Text;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using static QuantShell.Core.Tests.Formats.ModelFileBuilder;

namespace QuantShell.Core.Tests.Formats;

/// <summary>
/// Malformed and malicious model files: each is refused with its error id and a message that starts with the file and
/// names the tensor or entry at fault, before anything it describes is allocated, inflated or called.
/// </summary>
public sealed class HostileModelFileTests
{
    private static readonly byte[] EightFloats = new byte[32];

    /// <summary>Opens the file and reads every tensor; returns the error it must end in.</summary>
    private static QuantShellException Refused(string name, byte[] bytes)
    {
        using var temp = new TempDirectory();
        string path = Write(temp, name, bytes);
        var error = Assert.ThrowsAny<QuantShellException>(() =>
        {
            using var file = TensorFiles.Open(path, name);
            foreach (var tensor in file.Tensors)
            {
                using var stream = file.OpenTensor(tensor);
                stream.CopyTo(Stream.Null);
            }
        });
        Assert.StartsWith(name + ":", error.Message);
        return error;
    }

    private static void AssertRefused(string name, byte[] bytes, string errorId, params string[] mentions)
    {
        var error = Refused(name, bytes);
        Assert.True(errorId == error.ErrorId, $"expected {errorId}, got {error.ErrorId}: {error.Message}");
        foreach (string mention in mentions) Assert.Contains(mention, error.Message);
    }

    // ---- safetensors ----

    public static TheoryData<string, string, int, string, string> SafetensorsCases() => new()
    {
        { "overlapping offsets", """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 24, ErrorIds.TensorLayoutInvalid, "'b'" },
        { "a hole between tensors", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}""", 32, ErrorIds.TensorLayoutInvalid, "'b'" },
        { "offsets past the data", """{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}""", 16, ErrorIds.TensorDataTruncated, "'a'" },
        { "data left over", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 32, ErrorIds.TensorLayoutInvalid, "32" },
        { "not starting at 0", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16, ErrorIds.TensorLayoutInvalid, "'a'" },
        { "end before begin", """{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 8, ErrorIds.TensorLayoutInvalid, "'a'" },
        { "duplicate names", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16, ErrorIds.SafetensorsHeaderInvalid, "'a'" },
        { "a key twice in a tensor", """{"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}""", 8, ErrorIds.SafetensorsHeaderInvalid, "'dtype'" },
        { "shape and size disagree", """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, ErrorIds.TensorLayoutInvalid, "'a'" },
        { "dtype and size disagree", """{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}""", 8, ErrorIds.TensorLayoutInvalid, "'a'" },
        { "unknown dtype", """{"a":{"dtype":"F128","shape":[2],"data_offsets":[0,32]}}""", 32, ErrorIds.DTypeNotSupported, "'a'" },
        { "negative dimension", """{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, ErrorIds.SafetensorsHeaderInvalid, "'a'" },
        { "huge shape", """{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8, ErrorIds.TensorLayoutInvalid, "'a'" },
        { "missing data_offsets", """{"a":{"dtype":"F32","shape":[2]}}""", 8, ErrorIds.SafetensorsHeaderInvalid, "'a'" },
        { "not JSON", """{"a": nope}""", 0, ErrorIds.SafetensorsHeaderInvalid, "JSON" },
        { "two JSON values", """{} {}""", 0, ErrorIds.SafetensorsHeaderInvalid, "JSON" },
        { "metadata not strings", """{"__metadata__":{"x":1}}""", 0, ErrorIds.SafetensorsHeaderInvalid, "'x'" },
        { "metadata twice", """{"__metadata__":{},"__metadata__":{}}""", 0, ErrorIds.SafetensorsHeaderInvalid, "__metadata__" },
    };

    [Theory]
    [MemberData(nameof(SafetensorsCases))]
    public void Safetensors_Malformed_IsRefused(string what, string header, int dataBytes, string errorId, string mention)
    {
        Assert.NotEmpty(what);
        AssertRefused("bad.safetensors", Safetensors(header, new byte[dataBytes]), errorId, mention);
    }

    [Fact]
    public void Safetensors_Cases_AreAllRun() => Assert.Equal(18, SafetensorsCases().Count);

    [Fact]
    public void Safetensors_HeaderOverTheLimit_IsRefusedBeforeReadingIt()
    {
        // The length says 200 MB; the file is a few bytes: nothing of that size may be allocated.
        AssertRefused("big.safetensors", Safetensors("{}", [], declaredLength: 200_000_000), ErrorIds.SafetensorsHeaderInvalid, "100000000");
        AssertRefused("long.safetensors", Safetensors("{}", [], declaredLength: 90_000_000), ErrorIds.SafetensorsHeaderInvalid, "past the end");
    }

    [Fact]
    public void Safetensors_HeaderNotUtf8_IsRefused()
    {
        byte[] bytes = Safetensors("{\"a\":{}}", []);
        bytes[10] = 0xFF;
        AssertRefused("latin.safetensors", bytes, ErrorIds.SafetensorsHeaderInvalid, "UTF-8");
    }

    [Fact]
    public void Safetensors_FileShorterThanItsLength_IsRefused()
    {
        AssertRefused("tiny.safetensors", [1, 0, 0], ErrorIds.TensorFileNotRecognized);
        AssertRefused("empty.safetensors", Safetensors("{", [], declaredLength: 9), ErrorIds.SafetensorsHeaderInvalid, "past the end");
    }

    // ---- zips (.npz and PyTorch share the reader) ----

    [Fact]
    public void Zip_StoredEntryWhoseSizesDisagree_IsRefused() =>
        AssertRefused("lie.npz", Zip(new ZipItem("a.npy", Npy(1, 2)) { DeclaredSize = 1000 }), ErrorIds.ArchiveInvalid, "'a.npy'");

    [Fact]
    public void Zip_EntrySizeDisagreeingWithItsNpyHeader_IsRefused()
    {
        byte[] npy = Npy(1, 2, 3);
        AssertRefused("short.npz", Zip(new ZipItem("a.npy", npy[..^4])), ErrorIds.NpyDataTruncated, "'a.npy'");
        AssertRefused("short.npz", Zip(new ZipItem("a.npy", npy[..^4], Deflate: true)), ErrorIds.NpzEntryInvalid, "'a'");
    }

    [Fact]
    public void Zip_DeflatedEntryClaimingMoreThanDeflateCanProduce_IsRefusedBeforeInflating() =>
        AssertRefused("bomb.npz", Zip(new ZipItem("a.npy", Npy(1, 2), Deflate: true) { DeclaredSize = 1L << 31 }), ErrorIds.ArchiveInvalid, "zip bomb");

    [Fact]
    public void Zip_DeflatedEntryInflatingToMoreThanDeclared_IsRefused()
    {
        // A real 1000:1 entry: 4 MB of zeros whose index says 4 MB minus one float.
        byte[] npy = Npy(new float[1 << 20]);
        byte[] bytes = Zip(new ZipItem("a.npy", npy, Deflate: true) { DeclaredSize = npy.Length - 4 });
        AssertRefused("longer.npz", bytes, ErrorIds.NpzEntryInvalid, "'a'");
    }

    [Fact]
    public void Zip_DeflatedEntryInflatingToLessOrMoreThanDeclared_IsRefusedWhenRead()
    {
        byte[] record = Encoding.UTF8.GetBytes("{\"tensors\": {}}");
        AssertRefused("shorter.npz", Zip(new ZipItem("quantshell.json", record, Deflate: true) { DeclaredSize = record.Length + 5 }), ErrorIds.ArchiveInvalid, "ends after");
        AssertRefused("longer.npz", Zip(new ZipItem("quantshell.json", record, Deflate: true) { DeclaredSize = record.Length - 5 }), ErrorIds.ArchiveInvalid, "more than");
    }

    [Fact]
    public void Zip_CorruptData_FailsItsCrc()
    {
        byte[] bytes = Zip(new ZipItem("a.npy", Npy(1, 2, 3)) { DeclaredCrc = 12345 });
        AssertRefused("crc.npz", bytes, ErrorIds.ArchiveInvalid, "CRC-32");
    }

    [Theory]
    [InlineData("../evil.npy")]
    [InlineData("a/../../evil.npy")]
    [InlineData("/etc/evil.npy")]
    [InlineData("\\evil.npy")]
    [InlineData("C:evil.npy")]
    public void Zip_NamesThatEscapeTheArchive_AreRefused(string name) =>
        AssertRefused("escape.npz", Zip(new ZipItem(name, Npy(1))), ErrorIds.ArchiveInvalid, "climbs out");

    [Fact]
    public void Zip_DuplicateEntries_AreRefused() =>
        AssertRefused("twice.npz", Zip(new ZipItem("a.npy", Npy(1)), new ZipItem("a.npy", Npy(2))), ErrorIds.ArchiveInvalid, "two entries named 'a.npy'");

    [Fact]
    public void Zip_EntriesSharingBytes_AreRefused()
    {
        // b's central record points at a's local header: the same bytes twice (how overlapping zip bombs multiply).
        byte[] bytes = Zip(new ZipItem("a.npy", Npy(1)), new ZipItem("a.npy", Npy(1)) { LocalHeaderOf = 0 });
        Assert.Equal(ErrorIds.ArchiveInvalid, Refused("shared.npz", bytes).ErrorId);
        byte[] inner = Zip(new ZipItem("b.npy", Npy(1)));
        byte[] nested = Zip(new ZipItem("a.bin", inner), new ZipItem("b.npy", Npy(1)) { LocalHeaderOf = 0 });
        Assert.Equal(ErrorIds.ArchiveInvalid, Refused("nested.npz", nested).ErrorId);
    }

    [Fact]
    public void Zip_Truncated_IsRefused()
    {
        byte[] bytes = Zip(new ZipItem("a.npy", Npy(1, 2, 3)));
        AssertRefused("cut.npz", bytes[..^10], ErrorIds.ArchiveInvalid);
        AssertRefused("cut.npz", bytes[..40], ErrorIds.ArchiveInvalid);
    }

    // ---- PyTorch checkpoints: the pickle ----

    private static byte[] CheckpointWith(byte[] pickle) => Checkpoint(pickle, []);

    [Theory]
    [InlineData("os", "system")]
    [InlineData("posix", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("builtins", "exec")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]
    [InlineData("collections", "defaultdict")]
    public void Pickle_GlobalOutsideTheAllowlist_IsRefusedBeforeAnythingIsCalled(string module, string name)
    {
        using var temp = new TempDirectory();
        string marker = temp.File("pwned");
        byte[] pickle = new Pickle().Proto().Global(module, name).Text($"touch {marker}").Raw(0x85).Op('R').Stop().Bytes;
        AssertRefused("evil.pt", CheckpointWith(pickle), ErrorIds.PickleGlobalRefused, $"'{module}.{name}'", "nothing was called");
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Pickle_ReduceOnSomethingNotAFunction_IsRefused()
    {
        byte[] onString = new Pickle().Proto().Text("os.system").Text("true").Raw(0x85).Op('R').Stop().Bytes;
        AssertRefused("call.pt", CheckpointWith(onString), ErrorIds.PickleGlobalRefused, "not an allowed function");
        // Allowlisted, but a class rather than one of the functions that build tensors.
        byte[] onStorage = new Pickle().Proto().Global("torch", "FloatStorage").Op(')').Op('R').Stop().Bytes;
        AssertRefused("storage.pt", CheckpointWith(onStorage), ErrorIds.PickleInvalid, "torch.FloatStorage");
        byte[] newObject = new Pickle().Proto().Global("torch", "Tensor").Op(')').Raw(0x81).Stop().Bytes;
        AssertRefused("newobj.pt", CheckpointWith(newObject), ErrorIds.PickleGlobalRefused, "torch.Tensor");
    }

    [Theory]
    [InlineData((byte)'i')] // INST: protocol 0's call of a class
    [InlineData((byte)'o')] // OBJ
    [InlineData(0x93)] // STACK_GLOBAL
    [InlineData((byte)'R')] // REDUCE on an empty stack
    public void Pickle_OpcodesThatCouldCallOrBreakTheStack_AreRefused(byte opcode)
    {
        byte[] pickle = new Pickle().Proto().Raw(opcode).Text("x").Stop().Bytes;
        AssertRefused("opcode.pt", CheckpointWith(pickle), ErrorIds.PickleInvalid, "data.pkl");
    }

    [Fact]
    public void Pickle_Malformed_IsRefused()
    {
        AssertRefused("nostop.pt", CheckpointWith(new Pickle().Proto().Op('N').Bytes), ErrorIds.PickleInvalid, "STOP");
        AssertRefused("memo.pt", CheckpointWith(new Pickle().Proto().Raw((byte)'h', 7).Stop().Bytes), ErrorIds.PickleInvalid, "memo");
        // A string that claims 2 GB in a 30-byte pickle: refused by the bytes left, not allocated.
        AssertRefused("string.pt", CheckpointWith(new Pickle().Proto().Op('X').Raw(0, 0, 0, 0x7f).Stop().Bytes), ErrorIds.PickleInvalid, "left");
        AssertRefused("marks.pt", CheckpointWith(new Pickle().Proto().Raw(Enumerable.Repeat((byte)'(', 5000).ToArray()).Stop().Bytes), ErrorIds.PickleInvalid, "marks");
        AssertRefused("trailing.pt", CheckpointWith(new Pickle().Proto().Op('N').Stop().Raw(0).Bytes), ErrorIds.PickleInvalid, "follow");
    }

    [Fact]
    public void Pickle_ThatRefersToItself_IsRefused()
    {
        // l = []; l.append(l)
        byte[] pickle = new Pickle().Proto().Op(']').Raw((byte)'q', 0).Raw((byte)'h', 0).Op('a').Stop().Bytes;
        AssertRefused("cycle.pt", CheckpointWith(pickle), ErrorIds.PickleInvalid, "data.pkl");
    }

    [Fact]
    public void Pickle_SharedValuesThatExplode_AreRefused()
    {
        // Each list holds the previous one twice: 2^60 paths from a few hundred bytes.
        var pickle = new Pickle().Proto().Op(']');
        for (byte i = 0; i < 60; i++) pickle.Raw((byte)'q', i).Op(']').Raw((byte)'h', i).Op('a').Raw((byte)'h', i).Op('a');
        AssertRefused("explode.pt", CheckpointWith(pickle.Stop().Bytes), ErrorIds.PickleInvalid, "data.pkl");
    }

    // ---- PyTorch checkpoints: storages and records ----

    [Fact]
    public void Checkpoint_StorageShorterThanItsElements_IsRefused()
    {
        byte[] pickle = StateDictPickle(("w", "FloatStorage", 8, [8]));
        AssertRefused("short.pt", Checkpoint(pickle, [("0", new byte[28])]), ErrorIds.TensorLayoutInvalid, "'w'", "28");
    }

    [Fact]
    public void Checkpoint_ViewOutsideItsStorage_IsRefused()
    {
        byte[] pickle = StateDictPickle(("w", "FloatStorage", 8, [3, 3]));
        AssertRefused("view.pt", Checkpoint(pickle, [("0", EightFloats)]), ErrorIds.TensorLayoutInvalid, "'w'", "element 8");
    }

    [Fact]
    public void Checkpoint_TwoTensorsOfOneName_IsRefused()
    {
        // Keys "1" and 1 (a string and an integer) both name a tensor '1': the second key's text becomes BININT1 1.
        byte[] pickle = StateDictPickle(("1", "FloatStorage", 8, [8]), ("x", "FloatStorage", 8, [2, 4]));
        byte[] edited = Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(pickle).Replace("X\u0001\0\0\0x", "K\u0001"));
        AssertRefused("same.pt", Checkpoint(edited, [("0", EightFloats), ("1", EightFloats)]), ErrorIds.TensorNameDuplicate, "two tensors are named '1'");
    }

    [Fact]
    public void Checkpoint_StorageDescribedTwiceDifferently_IsRefused()
    {
        byte[] pickle = ModelFileBuilder.StateDictPickle(("a", "FloatStorage", 8, [8]), ("b", "DoubleStorage", 4, [4]));
        // Point both tensors at storage "0" by renaming the second key.
        byte[] edited = Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(pickle).Replace("X\u0001\0\0\01", "X\u0001\0\0\00"));
        AssertRefused("twice.pt", Checkpoint(edited, [("0", EightFloats)]), ErrorIds.TensorLayoutInvalid, "'b'");
    }

    [Fact]
    public void Checkpoint_MissingEntries_AreRefused()
    {
        byte[] pickle = StateDictPickle(("w", "FloatStorage", 8, [8]));
        AssertRefused("nostorage.pt", Checkpoint(pickle, []), ErrorIds.ArchiveEntryMissing, "'w'", "archive/data/0");
        AssertRefused("noversion.pt", Checkpoint(pickle, [("0", EightFloats)], version: null), ErrorIds.ArchiveEntryMissing, "version");
        byte[] noPickle = Zip(new ZipItem("archive/data/0", EightFloats), new ZipItem("archive/version", "3\n"u8.ToArray()));
        AssertRefused("nopickle.pt", noPickle, ErrorIds.ArchiveEntryMissing, "data.pkl");
    }

    [Fact]
    public void Checkpoint_BigEndian_IsRefused()
    {
        byte[] pickle = StateDictPickle(("w", "FloatStorage", 8, [8]));
        AssertRefused("big.pt", Checkpoint(pickle, [("0", EightFloats)], byteOrder: "big"), ErrorIds.PyTorchFormatNotSupported, "big-endian");
    }

    [Fact]
    public void Checkpoint_LegacyFormat_IsRefused()
    {
        byte[] legacy = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
        AssertRefused("old.pt", legacy, ErrorIds.PyTorchFormatNotSupported, "legacy");
    }

    [Fact]
    public void Checkpoint_TorchScript_IsRefused()
    {
        byte[] pickle = StateDictPickle(("w", "FloatStorage", 8, [8]));
        AssertRefused("script.pt", Checkpoint(pickle, [("0", EightFloats)], extra: [("archive/constants.pkl", [0x80, 2, 0x2e])]), ErrorIds.PyTorchFormatNotSupported, "TorchScript");
    }

    [Fact]
    public void Checkpoint_Valid_IsRead()
    {
        // The builder's own checkpoint is valid: the refusals above come from what each test changed.
        using var temp = new TempDirectory();
        byte[] floats = Enumerable.Range(0, 8).SelectMany(i => BitConverter.GetBytes((float)i)).ToArray();
        string path = Write(temp, "ok.pt", Checkpoint(StateDictPickle(("w", "FloatStorage", 8, [2, 4])), [("0", floats)]));
        using var file = TensorFiles.Open(path);
        Assert.Equal("w float32 (2, 4)", Assert.Single(file.Tensors).ToString());
        Assert.Equal(floats, ModelFixtures.ReadAll(file, file.Tensors[0]));
    }
}
