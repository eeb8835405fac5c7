using System.Buffers.Binary;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;

namespace QuantShell.Core.Tests;

public sealed class NpyTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-npy-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private NpyArray ReadBytes(byte[] bytes, string name = "t.npy") => NpyArray.Read(NpyBuilder.WriteTemp(_temp, name, bytes));

    public static IEnumerable<object[]> IntegerDTypes() => new[]
    {
        new object[] { "|i1", 1 }, new object[] { "|u1", 1 }, new object[] { "<i2", 2 }, new object[] { ">i2", 2 },
        new object[] { "<u2", 2 }, new object[] { ">u2", 2 }, new object[] { "<i4", 4 }, new object[] { ">i4", 4 },
        new object[] { "<u4", 4 }, new object[] { ">u4", 4 }, new object[] { "<i8", 8 }, new object[] { ">i8", 8 },
        new object[] { "<u8", 8 }, new object[] { ">u8", 8 },
    };

    [Theory]
    [MemberData(nameof(IntegerDTypes))]
    public void Read_IntegerDTypes_AreFloat32Values(string descr, int size)
    {
        bool signed = descr[1] == 'i', big = descr[0] == '>';
        long[] values = signed ? new long[] { -3, 0, 7, 100, -100, 1 } : new long[] { 3, 0, 7, 100, 200, 1 };
        var data = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            var span = data.AsSpan(i * size, size);
            ulong v = (ulong)values[i];
            for (int b = 0; b < size; b++) span[big ? size - 1 - b : b] = (byte)(v >> (8 * b));
        }
        var array = ReadBytes(NpyBuilder.Build(NpyBuilder.Dict(descr, "(2, 3)"), data));
        Assert.Equal(new long[] { 2, 3 }, array.Shape);
        Assert.Equal("float32", array.DType.Name);
        Assert.Equal(values.Select(v => (float)v), (float[])array.Data);
    }

    [Fact]
    public void Read_Bool_IsZeroOrOne()
    {
        var array = ReadBytes(NpyBuilder.Build(NpyBuilder.Dict("|b1", "(4,)"), new byte[] { 0, 1, 1, 0 }));
        Assert.Equal(new[] { 0f, 1f, 1f, 0f }, (float[])array.Data);
    }

    [Theory]
    [InlineData("<f2", false)]
    [InlineData(">f2", true)]
    [InlineData("<f4", false)]
    [InlineData(">f4", true)]
    [InlineData("<f8", false)]
    [InlineData(">f8", true)]
    public void Read_FloatDTypes_KeepTheirWidth(string descr, bool big)
    {
        double[] values = { 1.5, -2.25, 0, 1024, -0.125, 3 };
        int size = descr[2] - '0';
        var data = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            var span = data.AsSpan(i * size, size);
            switch (size)
            {
                case 2: if (big) BinaryPrimitives.WriteHalfBigEndian(span, (Half)values[i]); else BinaryPrimitives.WriteHalfLittleEndian(span, (Half)values[i]); break;
                case 4: if (big) BinaryPrimitives.WriteSingleBigEndian(span, (float)values[i]); else BinaryPrimitives.WriteSingleLittleEndian(span, (float)values[i]); break;
                default: if (big) BinaryPrimitives.WriteDoubleBigEndian(span, values[i]); else BinaryPrimitives.WriteDoubleLittleEndian(span, values[i]); break;
            }
        }
        var array = ReadBytes(NpyBuilder.Build(NpyBuilder.Dict(descr, "(3, 2)"), data));
        Assert.Equal($"float{size * 8}", array.DType.Name);
        Assert.Equal(values, array.Data.Cast<object>().Select(v => v is Half h ? (double)h : Convert.ToDouble(v)));
    }

    /// <summary>
    /// float32 and float64 data of several chunks (1 MiB each), either byte order: read from a file (the array allocated
    /// whole) as from a pipe (the array grown with the data); one byte short is NpyDataTruncated either way.
    /// </summary>
    [Theory]
    [InlineData("<f4")]
    [InlineData(">f4")]
    [InlineData("<f8")]
    [InlineData(">f8")]
    public void Read_FloatDataOfSeveralChunks_FromAFileAsFromAPipe(string descr)
    {
        int size = descr[2] - '0', count = 3 * (1 << 20) / size / 2 + 7;
        var random = new Random(71);
        var values = Enumerable.Range(0, count).Select(_ => (random.NextDouble() - 0.5) * 1e3).ToArray();
        var data = new byte[count * size];
        for (int i = 0; i < count; i++)
        {
            var span = data.AsSpan(i * size, size);
            if (size == 4 && descr[0] == '>') BinaryPrimitives.WriteSingleBigEndian(span, (float)values[i]);
            else if (size == 4) BinaryPrimitives.WriteSingleLittleEndian(span, (float)values[i]);
            else if (descr[0] == '>') BinaryPrimitives.WriteDoubleBigEndian(span, values[i]);
            else BinaryPrimitives.WriteDoubleLittleEndian(span, values[i]);
        }
        byte[] file = NpyBuilder.Build(NpyBuilder.Dict(descr, $"({count},)"), data);
        var fromFile = ReadBytes(file);
        var fromPipe = NpyArray.Read(new NonSeekableStream(file, 100_000), "pipe");
        var expected = values.Select(v => size == 4 ? (double)(float)v : v).ToArray();
        Assert.Equal(expected, fromFile.Data.Cast<object>().Select(Convert.ToDouble));
        Assert.Equal(expected, fromPipe.Data.Cast<object>().Select(Convert.ToDouble));
        var shortFile = file.AsSpan(0, file.Length - 1).ToArray();
        Assert.Equal("NpyDataTruncated", Assert.ThrowsAny<QuantShellException>(() => ReadBytes(shortFile, "short.npy")).ErrorId);
        Assert.Equal("NpyDataTruncated", Assert.ThrowsAny<QuantShellException>(() => NpyArray.Read(new NonSeekableStream(shortFile, 100_000), "pipe")).ErrorId);
    }

    /// <summary>
    /// A large file is read by several threads, each a part at its own offset (<c>NpyFiles.ParallelReadBytes</c>, lowered
    /// here for this thread): the same values, in the same places, as one chunk after the other from a stream, for every
    /// byte order, width and order of the data, including a last part shorter than the others.
    /// </summary>
    [Theory]
    [InlineData("<f4", false)]
    [InlineData(">f4", false)]
    [InlineData("<f8", false)]
    [InlineData(">f8", false)]
    [InlineData("<f2", false)]
    [InlineData(">i2", false)]
    [InlineData("<f4", true)]
    [InlineData(">f8", true)]
    public void Read_LargeFileInParts_SameAsOneChunkAfterTheOther(string descr, bool fortran)
    {
        int size = descr[2] - '0', rows = 7, columns = (int)(4.5 * (1 << 20) / size / rows) + 3, count = rows * columns;
        var random = new Random(size * 31 + (fortran ? 1 : 0) + descr[0]);
        var data = new byte[count * size];
        random.NextBytes(data);
        if (descr[1] == 'f')
            for (int i = 0; i < count; i++)
            {
                // Finite numbers only (random bytes make NaNs, which do not compare equal).
                var span = data.AsSpan(i * size, size);
                double v = (random.NextDouble() - 0.5) * 1e3;
                if (size == 2) { if (descr[0] == '<') BinaryPrimitives.WriteHalfLittleEndian(span, (Half)v); else BinaryPrimitives.WriteHalfBigEndian(span, (Half)v); }
                else if (size == 4) { if (descr[0] == '<') BinaryPrimitives.WriteSingleLittleEndian(span, (float)v); else BinaryPrimitives.WriteSingleBigEndian(span, (float)v); }
                else if (descr[0] == '<') BinaryPrimitives.WriteDoubleLittleEndian(span, v); else BinaryPrimitives.WriteDoubleBigEndian(span, v);
            }
        byte[] file = NpyBuilder.Build(NpyBuilder.Dict(descr, $"({rows}, {columns})", fortran), data);
        var oneAfterTheOther = NpyArray.Read(new MemoryStream(file, writable: false), "memory");
        string path = NpyBuilder.WriteTemp(_temp, "large.npy", file);
        long before = NpyFiles.ParallelReadBytes;
        try
        {
            NpyFiles.ParallelReadBytes = 1;
            using var stream = NpyFiles.OpenRead(path);
            var inParts = NpyArray.Read(stream, path);
            Assert.Equal(file.Length, stream.Position);
            Assert.Equal(oneAfterTheOther.Shape, inParts.Shape);
            Assert.Equal(oneAfterTheOther.Data.GetType(), inParts.Data.GetType());
            Assert.Equal(count, inParts.Data.Length);
            Assert.Equal(oneAfterTheOther.Data.Cast<object>(), inParts.Data.Cast<object>());
        }
        finally
        {
            NpyFiles.ParallelReadBytes = before;
        }
    }

    /// <summary>
    /// A named pipe given as a path (<c>quantize &lt;(cat x.npy)</c>) opens as a <see cref="FileStream"/> that cannot seek:
    /// it is read chunk after chunk, never in parts at offsets, however much data its header claims.
    /// </summary>
    [SkippableFact]
    public void Read_NamedPipe_LargeHeader_ReadInOrder_NotInParts()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "named pipes are made with mkfifo on Linux");
        string fifo = Path.Combine(_temp, "pipe.npy");
        using (var make = System.Diagnostics.Process.Start("mkfifo", fifo)) make.WaitForExit();
        Assert.True(File.Exists(fifo), "mkfifo made no pipe");
        int count = 3 * (1 << 20) + 5;
        var random = new Random(43);
        var values = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var data = new byte[count * 4];
        for (int i = 0; i < count; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        byte[] file = NpyBuilder.Build(NpyBuilder.Dict("<f4", $"({count},)"), data);
        var writer = Task.Run(() =>
        {
            using var pipe = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            pipe.Write(file);
        });
        long before = NpyFiles.ParallelReadBytes;
        try
        {
            NpyFiles.ParallelReadBytes = 1;
            using var stream = NpyFiles.OpenRead(fifo);
            Assert.False(stream.CanSeek);
            var read = NpyArray.Read(stream, fifo);
            Assert.Equal(values, (float[])read.Data);
        }
        finally
        {
            NpyFiles.ParallelReadBytes = before;
            writer.Wait(TimeSpan.FromSeconds(30));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Read_AllFormatVersions(int major)
    {
        var data = new float[] { 1, 2, 3 }.SelectMany(BitConverter.GetBytes).ToArray();
        var array = ReadBytes(NpyBuilder.Build(NpyBuilder.Dict("<f4", "(3,)"), data, major));
        Assert.Equal(new[] { 1f, 2f, 3f }, (float[])array.Data);
    }

    [Fact]
    public void Read_FortranOrder_IsReorderedToC()
    {
        // C-order values of a (2, 3, 2) array are 0..11; Fortran storage lists them with the first index fastest.
        long[] shape = { 2, 3, 2 };
        var fortran = new List<float>();
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 3; j++)
                for (int i = 0; i < 2; i++)
                    fortran.Add(i * 6 + j * 2 + k);
        var array = ReadBytes(NpyBuilder.Build(NpyBuilder.Dict("<f4", "(2, 3, 2)", fortran: true), fortran.SelectMany(BitConverter.GetBytes).ToArray()));
        Assert.Equal(shape, array.Shape);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)i), (float[])array.Data);
    }

    [Fact]
    public void Read_ZeroDimensional_KeepsEmptyShape()
    {
        var array = ReadBytes(NpyBuilder.Build(NpyBuilder.Dict("<f8", "()"), BitConverter.GetBytes(2.5)));
        Assert.Empty(array.Shape);
        Assert.Equal(new[] { 2.5 }, (double[])array.Data);
    }

    [Fact]
    public void Read_Empty_HasZeroElements()
    {
        var array = ReadBytes(NpyBuilder.Build(NpyBuilder.Dict("<f4", "(0, 5)"), Array.Empty<byte>()));
        Assert.Equal(new long[] { 0, 5 }, array.Shape);
        Assert.Empty((float[])array.Data);
    }

    public static IEnumerable<object[]> RoundTripArrays() => new[]
    {
        new object[] { new long[] { 2, 3 }, new float[] { 1, -2, 3.5f, float.Epsilon, float.MaxValue, -0f } },
        new object[] { new long[] { 4 }, new double[] { 1e-300, -2, Math.PI, double.MinValue } },
        new object[] { new long[] { 1, 2 }, new Half[] { (Half)1.5, (Half)(-65504) } },
        new object[] { Array.Empty<long>(), new float[] { 42 } },
        new object[] { new long[] { 3, 0 }, Array.Empty<double>() },
    };

    [Theory]
    [MemberData(nameof(RoundTripArrays))]
    public void WriteThenRead_RoundTripsExactly(long[] shape, Array data)
    {
        string path = Path.Combine(_temp, "rt.npy");
        new NpyArray(shape, data).Write(path);
        var back = NpyArray.Read(path);
        Assert.Equal(shape, back.Shape);
        Assert.Equal(data.GetType(), back.Data.GetType());
        Assert.Equal(data.Cast<object>(), back.Data.Cast<object>());
        // Written headers are little-endian C-order version 1.0, padded so the data starts on a 64-byte boundary.
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(1, bytes[6]);
        int dataOffset = 10 + BitConverter.ToUInt16(bytes, 8);
        Assert.Equal(0, dataOffset % 64);
        Assert.Contains("'fortran_order': False", System.Text.Encoding.Latin1.GetString(bytes, 10, dataOffset - 10));
    }

    [Fact]
    public void Write_RefusesToReplaceWithoutForce_AndLeavesFileIdentical()
    {
        string path = Path.Combine(_temp, "keep.npy");
        File.WriteAllText(path, "precious");
        var ex = Assert.Throws<QuantShellException>(() => new NpyArray(new long[] { 1 }, new float[] { 1 }).Write(path));
        Assert.Equal("OutputExists", ex.ErrorId);
        Assert.Equal("precious", File.ReadAllText(path));
        new NpyArray(new long[] { 1 }, new float[] { 1 }).Write(path, force: true);
        Assert.Equal(new[] { 1f }, (float[])NpyArray.Read(path).Data);
        Assert.Single(Directory.GetFiles(_temp)); // no temporary files left behind
    }

    [Theory]
    [InlineData("NOTNPY", "NpyMagicInvalid")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "NpyHeaderInvalid")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (__import__('os'),)}", "NpyHeaderInvalid")]
    [InlineData("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", "NpyObjectArrayRefused")]
    [InlineData("{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", "NpyDTypeNotSupported")]
    [InlineData("{'descr': '<U4', 'fortran_order': False, 'shape': (2,)}", "NpyDTypeNotSupported")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "NpyDTypeNotSupported")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "NpyShapeInvalid")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", "NpyShapeInvalid")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,)}", "NpyDataTruncated")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "NpyTrailingData")]
    [InlineData("{'descr': '<f4', 'fortran_order': maybe, 'shape': (2,)}", "NpyHeaderInvalid")]
    public void Read_MalformedHeaders_GiveTheirOwnErrorId(string header, string errorId)
    {
        byte[] bytes = header == "NOTNPY"
            ? System.Text.Encoding.ASCII.GetBytes("NOTNPY at all, just text")
            : NpyBuilder.Build(header, new byte[8]);
        string path = NpyBuilder.WriteTemp(_temp, "bad.npy", bytes);
        var ex = Assert.Throws<TensorFormatException>(() => NpyArray.Read(path));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.StartsWith(path + ":", ex.Message);
    }

    [Fact]
    public void Read_UnknownVersion_IsRefused()
    {
        var bytes = NpyBuilder.Build(NpyBuilder.Dict("<f4", "(1,)"), new byte[4]);
        bytes[6] = 9;
        var ex = Assert.Throws<TensorFormatException>(() => ReadBytes(bytes));
        Assert.Equal("NpyVersionNotSupported", ex.ErrorId);
    }

    [Fact]
    public void Read_HeaderLengthPastEnd_IsTruncated()
    {
        var bytes = NpyBuilder.Build(NpyBuilder.Dict("<f4", "(1,)"), new byte[4]);
        bytes[8] = 0xff;
        bytes[9] = 0xff;
        var ex = Assert.Throws<TensorFormatException>(() => ReadBytes(bytes));
        Assert.Equal("NpyHeaderTruncated", ex.ErrorId);
    }
}
