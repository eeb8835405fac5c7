using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats.Pickle;

/// <summary>
/// Reads the pickle (<c>data.pkl</c>) of a torch.save checkpoint as data. It is a stack machine over the opcodes a
/// protocol-2 pickle of a state dict uses, and it builds only plain values (dicts, OrderedDicts, lists, tuples, strings,
/// numbers, booleans, None) and tensor references (<see cref="PickleTensor"/>). It calls nothing: a GLOBAL is checked
/// against the allowlist of <c>torch.load(weights_only=True)</c> (torch 1.13) the moment it is read, and refused there if
/// it is not on it; REDUCE and NEWOBJ are interpreted for the few allowlisted functions that make dicts and tensors and
/// refused for everything else. Memo size, stack size, mark depth and string lengths are bounded, the last by the bytes
/// that are really left.
/// </summary>
internal sealed class PickleReader
{
    public const int MaxStackItems = 1 << 20;
    public const int MaxMarkDepth = 1 << 12;
    public const int MaxMemoEntries = 1 << 20;
    private const int MaxLineBytes = 256;

    private static readonly HashSet<string> AllowedGlobals = BuildAllowlist();

    /// <summary>Storage classes and the dtype of their elements (complex and quantized ones are copied, never read).</summary>
    internal static readonly Dictionary<string, DType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = DType.Float32, ["DoubleStorage"] = DType.Float64, ["HalfStorage"] = DType.Float16,
        ["BFloat16Storage"] = DType.BFloat16, ["LongStorage"] = DType.Int64, ["IntStorage"] = DType.Int32,
        ["ShortStorage"] = DType.Int16, ["CharStorage"] = DType.Int8, ["ByteStorage"] = DType.UInt8,
        ["BoolStorage"] = new(DTypeKind.Bool, 1, false),
        ["ComplexFloatStorage"] = DType.Opaque("complex64", 8), ["ComplexDoubleStorage"] = DType.Opaque("complex128", 16),
        ["QInt8Storage"] = DType.Opaque("qint8", 1), ["QUInt8Storage"] = DType.Opaque("quint8", 1),
        ["QInt32Storage"] = DType.Opaque("qint32", 4), ["QUInt4x2Storage"] = DType.Opaque("quint4x2", 1),
        ["QUInt2x4Storage"] = DType.Opaque("quint2x4", 1), ["UntypedStorage"] = DType.UInt8,
    };

    private readonly byte[] _data;
    private readonly string _file;
    private readonly string _entry;
    private readonly Dictionary<long, object?> _memo = new();
    private readonly Stack<List<object?>> _marks = new();
    private List<object?> _stack = new();
    private int _stackedBelow;
    private int _at;

    private PickleReader(byte[] data, string file, string entry)
    {
        _data = data;
        _file = file;
        _entry = entry;
    }

    /// <summary>The value the pickle describes; <paramref name="file"/> and <paramref name="entry"/> name it in errors.</summary>
    public static object? Read(byte[] data, string file, string entry) => new PickleReader(data, file, entry).Run();

    private object? Run()
    {
        while (true)
        {
            if (_at >= _data.Length) throw Invalid("the pickle ends without its STOP opcode");
            int opcodeAt = _at;
            byte opcode = _data[_at++];
            switch (opcode)
            {
                case 0x80: // PROTO
                    byte protocol = ReadByte();
                    if (protocol > 5) throw Invalid($"pickle protocol {protocol} is unknown");
                    break;
                case (byte)'.': // STOP
                    var result = Pop();
                    if (_at != _data.Length) throw Invalid($"{_data.Length - _at} bytes follow the STOP opcode");
                    if (_marks.Count != 0 || _stack.Count != 0) throw Invalid("values are left on the stack at STOP");
                    return result;
                case (byte)'c': // GLOBAL
                    Push(ReadGlobal());
                    break;
                case (byte)'R': // REDUCE
                {
                    var arguments = Pop();
                    var callable = Pop();
                    Push(Call(callable, arguments as PickleTuple ?? throw Invalid("REDUCE arguments are not a tuple", opcodeAt), opcodeAt));
                    break;
                }
                case 0x81: // NEWOBJ
                {
                    var arguments = Pop();
                    var type = Pop();
                    if (type is not PickleGlobal { FullName: "torch.nn.parameter.Parameter" })
                        throw Refused($"NEWOBJ would instantiate {Describe(type)}; only torch.nn.Parameter is allowed", opcodeAt);
                    if (arguments is not PickleTuple { Items: [PickleTensor data, ..] })
                        throw Invalid("NEWOBJ of a Parameter without a tensor", opcodeAt);
                    Push(data);
                    break;
                }
                case (byte)'b': // BUILD
                {
                    var state = Pop();
                    var target = Peek();
                    // An OrderedDict's state is its instance __dict__ (a state dict's '_metadata'): data about the model,
                    // never a tensor. Tensors built by _rebuild_tensor_v2 carry no state.
                    if (target is PickleDict) break;
                    if (target is PickleTensor && state is null or PickleDict { Items.Count: 0 } or PickleTuple { Items.Length: 0 }) break;
                    throw Invalid($"BUILD on {Describe(target)} is not supported", opcodeAt);
                }
                case (byte)'(': // MARK
                    if (_marks.Count >= MaxMarkDepth) throw Invalid($"marks nest deeper than {MaxMarkDepth}", opcodeAt);
                    _marks.Push(_stack);
                    _stackedBelow += _stack.Count;
                    _stack = new List<object?>();
                    break;
                case (byte)'t': // TUPLE
                    Push(new PickleTuple(PopMark(opcodeAt).ToArray()));
                    break;
                case 0x85: // TUPLE1
                    Push(new PickleTuple([Pop()]));
                    break;
                case 0x86: // TUPLE2
                {
                    var second = Pop();
                    var first = Pop();
                    Push(new PickleTuple([first, second]));
                    break;
                }
                case 0x87: // TUPLE3
                {
                    var third = Pop();
                    var second = Pop();
                    var first = Pop();
                    Push(new PickleTuple([first, second, third]));
                    break;
                }
                case (byte)')': Push(new PickleTuple([])); break; // EMPTY_TUPLE
                case (byte)']': Push(new PickleList()); break; // EMPTY_LIST
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case 0x8f: Push(new PickleSet()); break; // EMPTY_SET
                case (byte)'a': // APPEND
                {
                    var item = Pop();
                    (Peek() as PickleList ?? throw Invalid($"APPEND to {Describe(Peek())}", opcodeAt)).Items.Add(item);
                    break;
                }
                case (byte)'e': // APPENDS
                {
                    var items = PopMark(opcodeAt);
                    (Peek() as PickleList ?? throw Invalid($"APPENDS to {Describe(Peek())}", opcodeAt)).Items.AddRange(items);
                    break;
                }
                case (byte)'s': // SETITEM
                {
                    var value = Pop();
                    var key = Pop();
                    (Peek() as PickleDict ?? throw Invalid($"SETITEM on {Describe(Peek())}", opcodeAt)).Set(key, value);
                    break;
                }
                case (byte)'u': // SETITEMS
                {
                    var items = PopMark(opcodeAt);
                    if (items.Count % 2 != 0) throw Invalid("SETITEMS with an odd number of values", opcodeAt);
                    var dict = Peek() as PickleDict ?? throw Invalid($"SETITEMS on {Describe(Peek())}", opcodeAt);
                    for (int i = 0; i < items.Count; i += 2) dict.Set(items[i], items[i + 1]);
                    break;
                }
                case (byte)'N': Push(null); break; // NONE
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case 0x8a: // LONG1
                {
                    var bytes = ReadBytes(ReadByte());
                    var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
                    Push(value >= long.MinValue && value <= long.MaxValue ? (long)value : value);
                    break;
                }
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'X': // BINUNICODE
                {
                    uint length = BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));
                    Push(DecodeUtf8(ReadBytes(CheckLength(length, opcodeAt)), opcodeAt));
                    break;
                }
                case (byte)'U': Push(ReadBytes(ReadByte()).ToArray()); break; // SHORT_BINSTRING
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop(), opcodeAt));
                    break;
                case (byte)'h': Push(MemoGet(ReadByte(), opcodeAt)); break; // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)), opcodeAt)); break; // LONG_BINGET
                case (byte)'q': MemoPut(ReadByte(), opcodeAt); break; // BINPUT
                case (byte)'r': MemoPut(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)), opcodeAt); break; // LONG_BINPUT
                default:
                    throw Invalid($"opcode 0x{opcode:x2} ('{(opcode is >= 0x20 and < 0x7f ? (char)opcode : '?')}') is not one torch.load(weights_only=True) accepts", opcodeAt);
            }
        }
    }

    private PickleGlobal ReadGlobal()
    {
        int at = _at - 1;
        string module = ReadLine(at), name = ReadLine(at);
        var global = new PickleGlobal(module, name);
        if (!AllowedGlobals.Contains(global.FullName))
            throw Refused($"it names the global '{Shorten(global.FullName)}', which is not on the allowlist of torch.load(weights_only=True); nothing was called", at);
        return global;
    }

    /// <summary>REDUCE: the few allowlisted functions that build dicts and tensors, interpreted here; nothing is called.</summary>
    private object? Call(object? callable, PickleTuple arguments, int at)
    {
        if (callable is not PickleGlobal global)
            throw Refused($"REDUCE would call {Describe(callable)}, which is not an allowed function; nothing was called", at);
        var args = arguments.Items;
        switch (global.FullName)
        {
            case "collections.OrderedDict":
                if (args.Length != 0) throw Invalid("OrderedDict is built with arguments; only OrderedDict() is supported", at);
                return new PickleDict();
            case "torch._utils._rebuild_tensor_v2" when args.Length is 6 or 7:
            case "torch._utils._rebuild_tensor" when args.Length == 4:
                return RebuildTensor(args, at);
            case "torch._utils._rebuild_parameter" when args.Length == 3:
                return args[0] as PickleTensor ?? throw Invalid("_rebuild_parameter without a tensor", at);
            case "torch.Size":
                return new PickleOpaque("torch.Size");
            case "torch.serialization._get_layout":
                return new PickleOpaque("layout");
            case "torch._utils._rebuild_tensor_v2" or "torch._utils._rebuild_tensor" or "torch._utils._rebuild_parameter":
                throw Invalid($"{global.Name} is called with {args.Length} arguments", at);
            default:
                // Allowlisted but not a plain dense tensor (sparse, meta, legacy construction) or not callable at all.
                throw new TensorFormatException(_file, $"{_entry}: REDUCE of {global.FullName} at byte {at} is not supported; QuantShell reads dense tensors saved by torch.save.", ErrorIds.PickleInvalid);
        }
    }

    private PickleTensor RebuildTensor(object?[] args, int at)
    {
        if (args[0] is not PickleStorage storage) throw Invalid("a tensor is rebuilt from something that is not a storage", at);
        if (args[1] is not long offset || offset < 0) throw Invalid("a tensor's storage offset is not a non-negative integer", at);
        long[] shape = Integers(args[2], "size", at), stride = Integers(args[3], "stride", at);
        if (shape.Length != stride.Length) throw Invalid($"a tensor has {shape.Length} sizes but {stride.Length} strides", at);
        if (shape.Length > NpyHeader.MaxRank) throw Invalid($"a tensor has more than {NpyHeader.MaxRank} dimensions", at);
        return new PickleTensor(storage, offset, shape, stride);
    }

    private long[] Integers(object? value, string what, int at)
    {
        if (value is not PickleTuple tuple) throw Invalid($"a tensor's {what} is not a tuple", at);
        var result = new long[tuple.Items.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = tuple.Items[i] is long n && n >= 0 ? n : throw Invalid($"a tensor's {what} holds something other than a non-negative integer", at);
        return result;
    }

    /// <summary>Only <c>('storage', StorageClass, key, location, numel)</c> ids are accepted, as torch.load does.</summary>
    private PickleStorage PersistentLoad(object? id, int at)
    {
        if (id is not PickleTuple { Items: [var kind, var type, var key, var location, var count] }
            || !(kind is "storage" || kind is byte[] bytes && bytes.AsSpan().SequenceEqual("storage"u8)))
            throw Invalid("a persistent id is not ('storage', type, key, location, numel)", at);
        if (type is not PickleGlobal global || !StorageTypes.TryGetValue(global.Name, out var dtype) || global.Module is not ("torch" or "torch.cuda" or "torch.storage"))
            throw Invalid($"a persistent id names {Describe(type)} instead of a storage class", at);
        if (key is not string keyText || location is not string locationText || count is not long elements || elements < 0)
            throw Invalid("a persistent id's key, location or numel has the wrong type", at);
        return new PickleStorage(global.Name, dtype, keyText, locationText, elements);
    }

    private object? MemoGet(long index, int at) =>
        _memo.TryGetValue(index, out var value) ? value : throw Invalid($"memo entry {index} is read before it is written", at);

    private void MemoPut(long index, int at)
    {
        if (_memo.Count >= MaxMemoEntries && !_memo.ContainsKey(index)) throw Invalid($"the memo grows past {MaxMemoEntries} entries", at);
        _memo[index] = Peek();
    }

    private void Push(object? value)
    {
        if (_stackedBelow + _stack.Count >= MaxStackItems) throw Invalid($"the stack grows past {MaxStackItems} values");
        _stack.Add(value);
    }

    private object? Pop()
    {
        if (_stack.Count == 0) throw Invalid("an opcode pops from an empty stack", _at - 1);
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Invalid("an opcode needs a value on an empty stack", _at - 1);

    private List<object?> PopMark(int at)
    {
        if (_marks.Count == 0) throw Invalid("an opcode needs a MARK that is missing", at);
        var items = _stack;
        _stack = _marks.Pop();
        _stackedBelow -= _stack.Count;
        return items;
    }

    private byte ReadByte() => _at < _data.Length ? _data[_at++] : throw Invalid("the pickle ends inside an opcode");

    private ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count > _data.Length - _at) throw Invalid($"an opcode needs {count} bytes but {_data.Length - _at} are left");
        var span = _data.AsSpan(_at, count);
        _at += count;
        return span;
    }

    private int CheckLength(uint length, int at) =>
        length <= _data.Length - _at ? (int)length : throw Invalid($"a string claims {length} bytes but {_data.Length - _at} are left", at);

    private string ReadLine(int at)
    {
        int end = Array.IndexOf(_data, (byte)'\n', _at, Math.Min(MaxLineBytes, _data.Length - _at));
        if (end < 0) throw Invalid("GLOBAL's module or name is not a line of at most 256 bytes", at);
        string text = DecodeUtf8(_data.AsSpan(_at, end - _at), at);
        _at = end + 1;
        return text;
    }

    private string DecodeUtf8(ReadOnlySpan<byte> bytes, int at)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("a string is not valid UTF-8", at);
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        PickleGlobal g => $"'{Shorten(g.FullName)}'",
        PickleTensor => "a tensor",
        PickleStorage => "a storage",
        PickleDict => "a dict",
        PickleList => "a list",
        PickleTuple => "a tuple",
        string => "a string",
        _ => $"a {value.GetType().Name}",
    };

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";

    private TensorFormatException Invalid(string problem, int at = -1) =>
        new(_file, $"{_entry}: {problem}{(at >= 0 ? $" (at byte {at})" : "")}.", ErrorIds.PickleInvalid);

    private TensorFormatException Refused(string problem, int at) =>
        new(_file, $"{_entry}: {problem} (at byte {at}).", ErrorIds.PickleGlobalRefused);

    /// <summary>Exactly what torch 1.13's <c>_weights_only_unpickler._get_allowed_globals()</c> lists.</summary>
    private static HashSet<string> BuildAllowlist()
    {
        var allowed = new HashSet<string>(StringComparer.Ordinal)
        {
            "collections.OrderedDict", "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "torch.Size", "torch.Tensor",
            "torch.storage.TypedStorage", "torch.storage.UntypedStorage",
        };
        foreach (string dtype in new[] { "complex32", "complex64", "complex128", "float16", "float32", "float64", "int8", "int16", "int32", "int64" })
            allowed.Add($"torch.{dtype}");
        string[] tensorTypes = ["BFloat16", "Bool", "Byte", "Char", "Double", "Float", "Half", "Int", "Long", "Short"];
        foreach (string type in tensorTypes)
        {
            allowed.Add($"torch.{type}Tensor");
            allowed.Add($"torch.cuda.{type}Tensor");
            allowed.Add($"torch.{type}Storage");
            allowed.Add($"torch.cuda.{type}Storage");
            if (type != "Bool")
            {
                allowed.Add($"torch.sparse.{type}Tensor");
                allowed.Add($"torch.cuda.sparse.{type}Tensor");
            }
        }
        foreach (string type in new[] { "ComplexDouble", "ComplexFloat" })
        {
            allowed.Add($"torch.{type}Storage");
            allowed.Add($"torch.cuda.{type}Storage");
        }
        foreach (string type in new[] { "QInt32", "QInt8", "QUInt2x4", "QUInt4x2", "QUInt8" })
            allowed.Add($"torch.{type}Storage");
        foreach (string function in new[] { "_rebuild_parameter", "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage", "_rebuild_sparse_csr_tensor" })
            allowed.Add($"torch._utils.{function}");
        return allowed;
    }
}
