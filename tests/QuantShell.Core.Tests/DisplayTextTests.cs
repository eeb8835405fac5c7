using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Jobs.Lower;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>The one-line texts PowerShell shows for objects nested in a result (it falls back to ToString there).</summary>
public sealed class DisplayTextTests
{
    [Fact]
    public void QuantizationParameters_PerTensorAndPerChannel_ShowTheGrid()
    {
        var perTensor = new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 1.0);
        Assert.Equal("scale 0.0078125, zero point 0, codes -128..127", perTensor.Parameters.ToString());

        var perChannel = new WeightsPOTInferableQuantizer(numBits: 4, threshold: [0.5, 2, 1], perChannel: true, channelAxis: 0);
        Assert.Equal("3 scales 0.0625..0.25, zero points 0..0, codes -8..7", perChannel.Parameters.ToString());
    }

    [Fact]
    public void LoweredNode_ShowsNodeInputQuantizerAndForm()
    {
        var node = new LoweredNode
        {
            NodeName = "/conv1/WeightsSymmetricQuantizer",
            OpType = "WeightsSymmetricQuantizer",
            Graph = "torch_jit",
            Target = QuantizationTarget.Weights,
            Form = LoweredForm.Fake,
            Input = "conv1.weight",
            Output = "conv1.weight",
            Quantizer = new WeightsSymmetricInferableQuantizer(numBits: 4, threshold: [0.5], perChannel: false).Spec,
            Scale = [0.0625f],
            ZeroPoint = [0],
        };
        Assert.Equal("/conv1/WeightsSymmetricQuantizer: conv1.weight, symmetric 4-bit, fake", node.ToString());
    }
}
