using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>
/// The LUT kernel (sorted thresholds, vector compare-and-select or cell look-up) against a literal implementation of
/// MCT's formula: the distance to every listed entry in the input's precision and the first index of the smallest.
/// </summary>
public sealed class LutKernelTests
{
    // ---- the literal formula (docs/semantics.md), written out once per precision ----

    private static float ReferenceFloat(float x, QuantizerSpec spec, int channel)
    {
        if (float.IsNaN(x)) return x;
        var (k, lo, hi) = Range(spec);
        float t = (float)spec.Threshold![channel];
        float d = spec.Target == QuantizationTarget.Weights ? t + (float)spec.EffectiveEps : (float)(spec.Threshold[channel] + spec.EffectiveEps);
        float v = x / d * (float)k;
        v = Math.Min(Math.Max(v, (float)lo), (float)hi);
        int best = 0;
        float bestDistance = float.PositiveInfinity;
        for (int j = 0; j < spec.LutValues!.Count; j++)
        {
            float distance = Math.Abs(v - (float)spec.LutValues[j]);
            if (distance < bestDistance) { bestDistance = distance; best = j; }
        }
        return (float)spec.LutValues[best] / (float)k * t;
    }

    private static double ReferenceDouble(double x, QuantizerSpec spec, int channel)
    {
        if (double.IsNaN(x)) return x;
        var (k, lo, hi) = Range(spec);
        float t = (float)spec.Threshold![channel];
        double d = spec.Target == QuantizationTarget.Weights ? (double)(t + (float)spec.EffectiveEps) : spec.Threshold[channel] + spec.EffectiveEps;
        double v = x / d * k;
        v = Math.Min(Math.Max(v, lo), hi);
        int best = 0;
        double bestDistance = double.PositiveInfinity;
        for (int j = 0; j < spec.LutValues!.Count; j++)
        {
            double distance = Math.Abs(v - spec.LutValues[j]);
            if (distance < bestDistance) { bestDistance = distance; best = j; }
        }
        return (float)spec.LutValues[best] / (float)k * t; // MCT's output is float32
    }

    private static (double K, double Low, double High) Range(QuantizerSpec spec)
    {
        int b = spec.EffectiveLutValuesBitwidth;
        return spec.IsSigned
            ? (Math.ScaleB(1, b - 1), -Math.ScaleB(1, b - 1), Math.ScaleB(1, b - 1) - 1)
            : (Math.ScaleB(1, b), 0, Math.ScaleB(1, b) - 1);
    }

    // ---- tables and inputs ----

    /// <summary>A random table: entries in the LUT's range, in any order, with duplicates (and a -0 now and then).</summary>
    private static double[] RandomTable(Random random, int distinct, int bitwidth, bool signed)
    {
        double lo = signed ? -Math.ScaleB(1, bitwidth - 1) : 0, hi = signed ? Math.ScaleB(1, bitwidth - 1) - 1 : Math.ScaleB(1, bitwidth);
        distinct = (int)Math.Min(distinct, hi - lo + 1);
        var values = new HashSet<double>();
        while (values.Count < distinct) values.Add(lo + random.NextInt64((long)(hi - lo + 1)));
        var table = values.ToList();
        int duplicates = random.Next(0, 4);
        for (int i = 0; i < duplicates; i++) table.Add(table[random.Next(table.Count)]);
        if (table.Contains(0) && random.Next(3) == 0) table.Insert(random.Next(table.Count), -0.0);
        return table.OrderBy(_ => random.Next()).ToArray();
    }

    /// <summary>
    /// Scaled values that stress the decision: every midpoint between distinct entries (exact ties), a few ulps either
    /// side, points near a midpoint at the scale of a distance's rounding, the entries, values near zero (where v's ulps
    /// are far finer than a distance's), beyond the clamp range, and uniform ones.
    /// </summary>
    private static List<double> HardValues(Random random, double[] table, double lo, double hi, int uniform, bool isDouble)
    {
        var distinct = table.Distinct().OrderBy(v => v).ToArray();
        var values = new List<double>();
        double Up(double v, int steps) { for (int s = 0; s < steps; s++) v = isDouble ? Math.BitIncrement(v) : MathF.BitIncrement((float)v); return v; }
        double Down(double v, int steps) { for (int s = 0; s < steps; s++) v = isDouble ? Math.BitDecrement(v) : MathF.BitDecrement((float)v); return v; }
        for (int i = 0; i + 1 < distinct.Length; i++)
        {
            for (int j = i + 1; j < Math.Min(distinct.Length, i + 3); j++)
            {
                double mid = (distinct[i] + distinct[j]) / 2;
                values.Add(mid);
                for (int s = 1; s <= 6; s++) { values.Add(Up(mid, s)); values.Add(Down(mid, s)); }
                double distanceUlp = isDouble ? Math.ScaleB(1, Math.ILogB(distinct[j] - mid) - 52) : Math.ScaleB(1, Math.ILogB(distinct[j] - mid) - 23);
                for (int s = 0; s < 8; s++) values.Add(mid + (random.NextDouble() * 4 - 2) * distanceUlp);
            }
            values.Add(distinct[i]);
        }
        values.Add(distinct[^1]);
        foreach (double tiny in new[] { 0.0, -0.0, 1e-30, -1e-30, 1e-42, -1e-42, 3e-8, -3e-8, 1e-300 })
            values.Add(isDouble ? tiny : (float)tiny);
        values.AddRange(new[] { lo, hi, lo - 0.5, hi + 0.5, lo - 1e6, hi + 1e6, Down(lo, 1), Up(hi, 1) });
        for (int i = 0; i < uniform; i++) values.Add(lo - 4 + random.NextDouble() * (hi - lo + 8));
        return values;
    }

    // With eps 0 and t = k (a power of two), v = x exactly: the values above reach the decision unchanged.
    private static QuantizerSpec IdentitySpec(double[] table, int numBits, int bitwidth) => new()
    {
        Target = QuantizationTarget.Weights, Method = QuantizationMethod.LutPot, NumBits = numBits, LutValues = table,
        Threshold = new[] { Math.ScaleB(1.0, bitwidth - 1) }, LutValuesBitwidth = bitwidth, Eps = 0,
    };

    private static int BitsFor(int distinct) => Math.Max(1, (int)Math.Ceiling(Math.Log2(Math.Max(2, distinct))));

    public static TheoryData<string> Pickers() => new() { "fastest", "Permute", "TwoTablePermute", "Cells", "Linear" };

    /// <summary>
    /// Every way the kernel decides (the fastest this CPU has, and each one forced where the CPU and the table allow it)
    /// against the literal formula, on over a million float32 and a million float64 values per way.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Pickers))]
    public void VectorKernel_EqualsLiteralFormula_OnTiesAndNearTies_Float32AndFloat64(string picker)
    {
        LutKernel.PickerKind? forced = picker == "fastest" ? null : Enum.Parse<LutKernel.PickerKind>(picker);
        Skip.IfNot(Runs(forced), $"this CPU has no {(forced is LutKernel.PickerKind.TwoTablePermute ? "AVX-512 (F and VL)" : "AVX2")}, which the {picker} way of deciding needs");
        var random = new Random(1234);
        long checkedFloat = 0, checkedDouble = 0;
        int tables = 0;
        var sizes = new[] { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 64, 100, 128, 255, 256 };
        foreach (int bitwidth in new[] { 4, 6, 8, 10 })
        {
            foreach (int size in sizes)
            {
                var table = RandomTable(random, size, bitwidth, signed: true);
                int distinct = table.Distinct().Count();
                var spec = IdentitySpec(table, Math.Min(bitwidth, BitsFor(distinct)), bitwidth);
                var quantizer = (LutQuantizer)InferableQuantizer.Create(spec);
                double lo = quantizer.Table.Low, hi = quantizer.Table.High;
                var floats = HardValues(random, table, lo, hi, uniform: 14_000, isDouble: false).Select(v => (float)v).ToArray();
                var doubles = HardValues(random, table, lo, hi, uniform: 14_000, isDouble: true).ToArray();
                bool floatApplies = Applies(forced, quantizer.Table.Decision<float>());
                bool doubleApplies = Applies(forced, quantizer.Table.Decision<double>());
                if (!floatApplies && !doubleApplies) continue;
                tables++;
                LutKernel.PickerOverride = forced;
                try
                {
                    if (floatApplies)
                    {
                        var floatOut = new float[floats.Length];
                        var stats = new KernelStats();
                        quantizer.CreatePlan(new long[] { floats.Length }).Apply<float>(floats, floatOut, 0, ref stats);
                        for (int i = 0; i < floats.Length; i++)
                        {
                            float expected = ReferenceFloat(floats[i], spec, 0);
                            if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(floatOut[i]))
                                Assert.Fail($"{picker}, float32, table [{string.Join(", ", table)}], B={bitwidth}: x={floats[i]:R} gave {floatOut[i]:R}, formula {expected:R}");
                        }
                        checkedFloat += floats.Length;
                    }
                    if (doubleApplies)
                    {
                        var doubleOut = new double[doubles.Length];
                        var stats = new KernelStats();
                        quantizer.CreatePlan(new long[] { doubles.Length }).Apply<double>(doubles, doubleOut, 0, ref stats);
                        for (int i = 0; i < doubles.Length; i++)
                        {
                            double expected = ReferenceDouble(doubles[i], spec, 0);
                            if (BitConverter.DoubleToInt64Bits(expected) != BitConverter.DoubleToInt64Bits(doubleOut[i]))
                                Assert.Fail($"{picker}, float64, table [{string.Join(", ", table)}], B={bitwidth}: x={doubles[i]:R} gave {doubleOut[i]:R}, formula {expected:R}");
                        }
                        checkedDouble += doubles.Length;
                    }
                }
                finally
                {
                    LutKernel.PickerOverride = null;
                }
            }
        }
        Assert.True(tables >= 4, $"{tables} tables");
        long minimum = forced is LutKernel.PickerKind.Permute or LutKernel.PickerKind.TwoTablePermute ? 100_000 : 1_000_000;
        Assert.True(checkedFloat > minimum && checkedDouble > minimum, $"{checkedFloat} float32 and {checkedDouble} float64 values checked");
    }

    private static bool Runs(LutKernel.PickerKind? picker) => picker switch
    {
        LutKernel.PickerKind.Permute or LutKernel.PickerKind.Cells => System.Runtime.Intrinsics.X86.Avx2.IsSupported,
        LutKernel.PickerKind.TwoTablePermute => System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported,
        _ => true,
    };

    private static bool Applies<T>(LutKernel.PickerKind? picker, LutDecision<T> decision)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T> => Runs(picker) && picker switch
    {
        LutKernel.PickerKind.Permute => decision.Count <= System.Runtime.Intrinsics.Vector256<T>.Count,
        LutKernel.PickerKind.TwoTablePermute => decision.Count <= 2 * System.Runtime.Intrinsics.Vector256<T>.Count,
        LutKernel.PickerKind.Cells => decision.UsesCells,
        _ => true,
    };

    public static TheoryData<string, int, int> Configurations() => new()
    {
        { "weights-sym", 8, 3 }, { "weights-pot", 8, 4 }, { "activation-signed", 8, 5 }, { "activation-unsigned", 8, 4 },
        { "weights-sym", 4, 2 }, { "activation-unsigned", 6, 6 }, { "weights-sym", 16, 8 }, { "activation-signed", 12, 7 },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void RandomThresholdsAndEps_EqualLiteralFormula(string kind, int bitwidth, int numBits)
    {
        var random = new Random(bitwidth * 100 + numBits);
        bool signed = kind != "activation-unsigned";
        var table = RandomTable(random, 1 << numBits, bitwidth, signed);
        bool pot = kind != "weights-sym";
        long checkedValues = 0;
        foreach (double eps in new[] { 1e-8, 0, 1e-4, 0.37 })
        {
            double t = pot ? Math.ScaleB(1.0, random.Next(-8, 6)) : Math.Exp(random.NextDouble() * 6 - 3);
            var spec = new QuantizerSpec
            {
                Target = kind.StartsWith("weights", StringComparison.Ordinal) ? QuantizationTarget.Weights : QuantizationTarget.Activation,
                Method = pot ? QuantizationMethod.LutPot : QuantizationMethod.LutSymmetric, NumBits = numBits, LutValues = table,
                Threshold = new[] { t }, LutValuesBitwidth = bitwidth, Eps = eps, Signed = kind.StartsWith("weights", StringComparison.Ordinal) ? null : signed,
            };
            var plan = InferableQuantizer.Create(spec).CreatePlan(new long[] { 40_000 });
            var floats = Enumerable.Range(0, 40_000).Select(_ => (float)((random.NextDouble() * 2.4 - 1.2) * t)).ToArray();
            var doubles = Enumerable.Range(0, 40_000).Select(_ => (random.NextDouble() * 2.4 - 1.2) * t).ToArray();
            var floatOut = new float[floats.Length];
            var doubleOut = new double[doubles.Length];
            var stats = new KernelStats();
            plan.Apply<float>(floats, floatOut, 0, ref stats);
            plan.Apply<double>(doubles, doubleOut, 0, ref stats);
            for (int i = 0; i < floats.Length; i++)
            {
                Assert.Equal(ReferenceFloat(floats[i], spec, 0), floatOut[i]);
                Assert.Equal(ReferenceDouble(doubles[i], spec, 0), doubleOut[i]);
            }
            checkedValues += floats.Length;
        }
        Assert.Equal(160_000, checkedValues);
    }

    public static TheoryData<long[], int> Layouts() => new()
    {
        { new long[] { 7, 5, 3 }, 0 }, { new long[] { 7, 5, 3 }, 1 }, { new long[] { 7, 5, 3 }, 2 }, { new long[] { 3, 130 }, 0 },
        { new long[] { 130, 3 }, 1 }, { new long[] { 2, 9, 4, 11 }, 1 }, { new long[] { 64, 16 }, 1 }, { new long[] { 5, 1000 }, 0 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void PerChannel_EveryAxis_InChunks_EveryPicker_EqualsFormula(long[] shape, int axis)
    {
        var random = new Random(shape.Length * 31 + axis);
        int channels = (int)shape[axis];
        int runs = 0;
        foreach (int size in new[] { 3, 5, 12, 40 }) // one-register and two-register permutes, cell look-up
        {
            var table = RandomTable(random, size, 8, signed: true);
            var thresholds = Enumerable.Range(0, channels).Select(c => Math.ScaleB(1.0, c % 7 - 3)).ToArray();
            var quantizer = new WeightsLUTPOTInferableQuantizer(BitsFor(size), table, thresholds, perChannel: true, channelAxis: axis - shape.Length);
            var plan = quantizer.CreatePlan(shape);
            var x = Enumerable.Range(0, (int)plan.ElementCount).Select(i => (float)((random.NextDouble() * 2.2 - 1.1) * thresholds[plan.ChannelOf(i)])).ToArray();
            var xd = x.Select(v => (double)v).ToArray();
            foreach (LutKernel.PickerKind? picker in new LutKernel.PickerKind?[] { null, LutKernel.PickerKind.Permute, LutKernel.PickerKind.TwoTablePermute, LutKernel.PickerKind.Cells, LutKernel.PickerKind.Linear })
            {
                if (!Applies(picker, quantizer.Table.Decision<float>()) || !Applies(picker, quantizer.Table.Decision<double>())) continue;
                runs++;
                LutKernel.PickerOverride = picker;
                try
                {
                    var whole = new float[x.Length];
                    var stats = new KernelStats();
                    plan.Apply<float>(x, whole, 0, ref stats);
                    var chunked = new float[x.Length];
                    var chunkStats = new KernelStats();
                    for (int start = 0; start < x.Length;)
                    {
                        int n = Math.Min(x.Length - start, random.Next(1, 50));
                        plan.Apply<float>(x.AsSpan(start, n), chunked.AsSpan(start, n), start, ref chunkStats);
                        start += n;
                    }
                    var wholeDouble = new double[x.Length];
                    plan.Apply<double>(xd, wholeDouble, 0, ref stats);
                    double squaredError = 0;
                    for (int i = 0; i < x.Length; i++)
                    {
                        int c = plan.ChannelOf(i);
                        float expected = ReferenceFloat(x[i], quantizer.Spec, c);
                        Assert.Equal(expected, whole[i]);
                        Assert.Equal(expected, chunked[i]);
                        Assert.Equal(ReferenceDouble(xd[i], quantizer.Spec, c), wholeDouble[i]);
                        squaredError += ((double)x[i] - expected) * ((double)x[i] - expected);
                    }
                    Assert.Equal(x.Length, chunkStats.Finite);
                    // The kernel sums short blocks in float32 before adding them into float64.
                    double mse = squaredError / x.Length;
                    Assert.True(Math.Abs(chunkStats.MeanSquaredError - mse) <= 1e-6 * mse, $"MSE {chunkStats.MeanSquaredError}, formula {mse}");
                }
                finally
                {
                    LutKernel.PickerOverride = null;
                }
            }
        }
        Assert.True(runs >= 4 * 2, $"{runs} table and picker runs"); // each table at least the fastest picker and Linear
    }

    [Fact]
    public void NonFinite_NaNStays_InfinitySaturatesToTheTableEnds_AndIsCounted()
    {
        var quantizer = new ActivationLutPOTInferableQuantizer(2, new double[] { -100, -3, 50, 90 }, 4.0, signed: true);
        var x = new float[40];
        for (int i = 0; i < x.Length; i++) x[i] = i * 0.1f - 2;
        x[3] = float.NaN;
        x[17] = float.PositiveInfinity;
        x[30] = float.NegativeInfinity;
        var y = new float[x.Length];
        var stats = new KernelStats();
        quantizer.CreatePlan(new long[] { x.Length }).Apply<float>(x, y, 0, ref stats);
        Assert.Equal(3, stats.NonFinite);
        Assert.Equal(37, stats.Finite);
        Assert.True(float.IsNaN(y[3]));
        Assert.Equal(90f / 128 * 4, y[17]);
        Assert.Equal(-100f / 128 * 4, y[30]);
        for (int i = 0; i < x.Length; i++)
            if (float.IsFinite(x[i])) Assert.Equal(ReferenceFloat(x[i], quantizer.Spec, 0), y[i]);
    }

    [Fact]
    public void Decision_ThresholdsLieWithinOneStepOfTheMidpoints_AndTiesGoToTheFirstListed()
    {
        // 3 listed before 5: an exact tie at 4 picks 3; 9 listed before 7: a tie at 8 picks 9.
        var table = new LutLevels(new double[] { 3, 9, 5, 7 }, signed: true, bitwidth: 8);
        Assert.Equal(new double[] { 3, 5, 7, 9 }, table.Values);
        var decision = table.Decision<float>();
        Assert.Equal(0, decision.IndexOf(4f));
        Assert.Equal(3, decision.IndexOf(8f));
        Assert.Equal(1, decision.IndexOf(MathF.BitIncrement(4f)));
        Assert.Equal(2, decision.IndexOf(MathF.BitDecrement(8f)));
        var thresholds = decision.Thresholds.ToArray();
        Assert.Equal(new[] { 4f, 6f, MathF.BitDecrement(8f) }, thresholds);
    }
}
